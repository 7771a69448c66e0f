/**
 * Project progress reported by contractors (pure functions, no I/O):
 * `PATCH /api/v1/projects/:projectId/progress` with
 * `{status?, completion? (0..100 %), spending? {amount, currency}, milestones? [{name, dueDate?, done}], reportedAt?}`
 * becomes keyValues items of the Smart Data Models SDG / KPI types:
 *
 * - `Project` patch (upserted in mode 'update': members not sent stay): `status` (the SDM-wide
 *   term, core `ngsi-ld:status`), `completionPercentage` (0..100), `spending`
 *   ({amount, currency}), `dateModified` = reportedAt;
 * - one `KeyPerformanceIndicator` per metric reported, with stable ids so that each report
 *   updates it in place: `urn:ngsi-ld:KeyPerformanceIndicator:<project local id>-completion`
 *   (kpiValue %), `-spending` (kpiValue: amount in the currency named by the KPI's name),
 *   `-milestones` (kpiValue: share of milestones done, 0..1), each with refProject, updatedAt;
 * - one `Action` per milestone, `urn:ngsi-ld:Action:<project local id>-<slug of the name>`
 *   (the name is the milestone's identity): executionPeriod = dueDate, compliancePercentage 1 when
 *   done else 0, refProject.
 */
import { createHash } from 'node:crypto';
import { validateKeyValues } from '../domain/sdm-validator';
import { ajvIssues, strictAjv, type Checked } from './devices';
import type { IngestIssue } from './types';

export const PROJECT_STATUSES = ['planned', 'tendering', 'inProgress', 'suspended', 'completed', 'cancelled'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export interface Milestone {
  name: string;
  dueDate?: string;
  done: boolean;
}

export interface ProgressUpdate {
  status?: ProjectStatus;
  /** percent, 0..100 */
  completion?: number;
  spending?: { amount: number; currency: string };
  milestones?: Milestone[];
  /** when the contractor states this progress; default: now */
  reportedAt?: string;
}

/** JSON Schema (draft-07) of the progress body. */
export const PROGRESS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  anyOf: [
    { required: ['status'] }, { required: ['completion'] }, { required: ['spending'] }, { required: ['milestones'] },
  ],
  properties: {
    status: { type: 'string', enum: PROJECT_STATUSES },
    completion: { type: 'number', minimum: 0, maximum: 100 },
    spending: {
      type: 'object',
      additionalProperties: false,
      required: ['amount', 'currency'],
      properties: {
        amount: { type: 'number', minimum: 0, maximum: 1e13 },
        currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. EUR' },
      },
    },
    milestones: {
      type: 'array',
      maxItems: 200,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'done'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 256 },
          dueDate: { type: 'string', format: 'date' },
          done: { type: 'boolean' },
        },
      },
    },
    reportedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const validateProgressSchema = strictAjv.compile(PROGRESS_SCHEMA);

/** Slack for clocks when reportedAt is in the future. */
const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** A milestone's id part: its name as a slug (accents dropped), or a hash when nothing is left. */
export function milestoneSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug || `m-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

/** Validates a progress body: schema, reportedAt not in the future, milestone names distinct. */
export function checkProgress(body: unknown, now: number = Date.now()): Checked<ProgressUpdate> {
  if (!validateProgressSchema(body)) {
    const issues = ajvIssues(validateProgressSchema.errors);
    // the anyOf summary alone says little: name the members
    return {
      ok: false,
      errors: issues.map((i) =>
        i.pointer === '/' && /anyOf|required/.test(i.reason)
          ? { pointer: '/', reason: 'give at least one of status, completion, spending, milestones' }
          : i,
      ).filter((i, n, all) => all.findIndex((j) => j.pointer === i.pointer && j.reason === i.reason) === n),
    };
  }
  const update = structuredClone(body) as ProgressUpdate;
  const errors: IngestIssue[] = [];
  if (update.reportedAt !== undefined && Date.parse(update.reportedAt) > now + MAX_FUTURE_SKEW_MS) {
    errors.push({ pointer: '/reportedAt', reason: 'is in the future' });
  }
  const seen = new Map<string, number>();
  for (const [i, m] of (update.milestones ?? []).entries()) {
    const slug = milestoneSlug(m.name);
    const first = seen.get(slug);
    if (first !== undefined) errors.push({ pointer: `/milestones/${i}/name`, reason: `names the same milestone as /milestones/${first}/name` });
    else seen.set(slug, i);
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: update };
}

const PROJECT_PREFIX = 'urn:ngsi-ld:Project:';
const LOCAL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** `:projectId` (a local id or `urn:ngsi-ld:Project:<local id>`) → [entity id, local id], or undefined. */
export function projectIds(param: string): { id: string; local: string } | undefined {
  const local = param.startsWith(PROJECT_PREFIX) ? param.slice(PROJECT_PREFIX.length) : param;
  return LOCAL_ID.test(local) ? { id: PROJECT_PREFIX + local, local } : undefined;
}

export interface ProgressItems {
  /** keyValues items, one list per entity type (ingestItems takes one type per call) */
  byType: { type: 'Project' | 'KeyPerformanceIndicator' | 'Action'; items: Record<string, unknown>[] }[];
}

/** The items a progress report writes; `projectName` (if known) names the KPIs. */
export function progressToItems(project: { id: string; local: string; name?: string }, update: ProgressUpdate, reportedAt: string): ProgressItems {
  const label = project.name ?? project.local;
  const patch: Record<string, unknown> = { id: project.id, type: 'Project', dateModified: reportedAt };
  if (update.status !== undefined) patch.status = update.status;
  if (update.completion !== undefined) patch.completionPercentage = update.completion;
  if (update.spending !== undefined) patch.spending = { amount: update.spending.amount, currency: update.spending.currency };

  const kpi = (metric: string, name: string, value: number, category: string[]): Record<string, unknown> => ({
    id: `urn:ngsi-ld:KeyPerformanceIndicator:${project.local}-${metric}`,
    type: 'KeyPerformanceIndicator',
    name,
    category,
    kpiValue: value,
    calculationMethod: 'manual',
    calculatedBy: 'contractor',
    process: `progress of ${project.id}`,
    updatedAt: reportedAt,
    refProject: project.id,
  });
  const kpis: Record<string, unknown>[] = [];
  if (update.completion !== undefined) kpis.push(kpi('completion', `Completion of ${label} (%)`, update.completion, ['quantitative', 'output']));
  if (update.spending !== undefined) {
    kpis.push(kpi('spending', `Spending of ${label} (${update.spending.currency})`, update.spending.amount, ['quantitative', 'financial', 'input']));
  }
  const milestones = update.milestones ?? [];
  if (milestones.length) {
    const done = milestones.filter((m) => m.done).length;
    kpis.push(kpi('milestones', `Milestones reached of ${label} (share)`, Number((done / milestones.length).toPrecision(12)), ['quantitative', 'output']));
  }
  const actions = milestones.map((m) => {
    const action: Record<string, unknown> = {
      id: `urn:ngsi-ld:Action:${project.local}-${milestoneSlug(m.name)}`,
      type: 'Action',
      name: m.name,
      refProject: project.id,
      compliancePercentage: m.done ? 1 : 0,
      dateModified: reportedAt,
    };
    if (m.dueDate !== undefined) action.executionPeriod = m.dueDate;
    return action;
  });
  const byType: ProgressItems['byType'] = [];
  if (kpis.length) byType.push({ type: 'KeyPerformanceIndicator', items: kpis });
  if (actions.length) byType.push({ type: 'Action', items: actions });
  // the Project last: once it says "completion 60 %", the KPI and Actions behind it are written
  byType.push({ type: 'Project', items: [patch] });
  return { byType };
}

/** Every item checked against its Smart Data Models schema (a bug here, not the contractor's). */
export function checkProgressItems(items: ProgressItems): IngestIssue[] {
  const errors: IngestIssue[] = [];
  for (const { type, items: list } of items.byType) {
    for (const item of list) {
      const r = validateKeyValues(type, item);
      if (!r.ok) for (const e of r.errors) errors.push({ pointer: '/', reason: `${String(item.id)}${e.pointer}: ${e.message}` });
    }
  }
  return errors;
}
