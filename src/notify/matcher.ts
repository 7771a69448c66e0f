/**
 * Subscription matching, inside the transaction of an entity write (spec 5.8, 5.11).
 *
 * For the entities one write changed, given as (before, after) pairs:
 * 1. ONE query loads the tenant's active, unexpired, on-change subscriptions; when there are
 *    none, nothing else happens (the hot path costs one indexed query returning no rows).
 * 2. In JavaScript, per (subscription, entity change): the entity selectors (type selection, id,
 *    idPattern) and the triggers:
 *    - creation: entityCreated, and attributeCreated for each attribute of the new entity;
 *    - deletion: entityDeleted only;
 *    - update: attributeCreated / attributeUpdated / attributeDeleted per attribute (an attribute
 *      is updated when any of its instances differs, metadata and modifiedAt included: a write that
 *      touched it counts, even with the same value); entityUpdated = any of these (spec: it is
 *      equivalent to the three together), or a change of type or scope when there are no
 *      watchedAttributes;
 *    - watchedAttributes: only changes of those attributes count; entityCreated / entityDeleted
 *      then need the entity to have (have had) one of them.
 *    A subscription without notificationTrigger has [attributeCreated, attributeUpdated].
 * 3. q / geoQ / scopeQ go through the very SQL translation queries use (qToSql, geoQueryToSql,
 *    scopeQToSql), in ONE statement for all candidates of the batch: a UNION ALL of one branch per
 *    subscription over `entities` (the state after the write, same transaction). Deleted entities
 *    are evaluated against their state before the deletion, a row built from the jsonb of the
 *    deleted entity (same columns, location computed as the store computes it).
 * 4. ONE INSERT adds an outbox row per (subscription, entity change) that matched.
 *
 * Outbox row: trigger = the first of entityCreated, entityDeleted, attributeDeleted,
 * attributeCreated, attributeUpdated, entityUpdated that both happened and the subscription asks
 * for (entityUpdated in a subscription asks for the three attribute triggers too); payload =
 * { after?: Entity, before?: Entity, at: ISO time of the write } with internal (expanded) entities;
 * `before` is there for deletions, when an attribute was deleted, and with showChanges.
 */
import type { Queryable } from '../store/db';
import { SqlParams } from '../store/sql';
import { insertOutboxRows, loadOnChangeSubscriptions, type OutboxInsert } from '../store/subscription-store';
import { parseQ, type QExpr } from '../ngsi-ld/query/q';
import { qToSql } from '../ngsi-ld/query/q-sql';
import { geoQueryToSql, locationFromAttrsSql, parseGeoQuery } from '../ngsi-ld/query/geo';
import { parseScopeQ, scopeQToSql } from '../ngsi-ld/query/scope';
import { parseTypeExpr, type TypeExpr } from '../ngsi-ld/query/type-expr';
import type { Entity } from '../ngsi-ld/types';
import { DEFAULT_TRIGGERS } from './subscription-parse';
import type { NotificationTrigger, Subscription } from './types';

/** One entity a write changed: before undefined = created, after undefined = deleted. */
export interface EntityChange {
  before?: Entity;
  after?: Entity;
}

/** The payload of an outbox row. */
export interface OutboxPayload {
  after?: Entity;
  before?: Entity;
  at: string;
}

/** What changed in one entity, attribute by attribute. */
interface ChangeSummary {
  change: EntityChange;
  id: string;
  /** the state selectors and filters look at: after, or before for deletions */
  state: Entity;
  kind: 'created' | 'updated' | 'deleted';
  created: string[];
  updated: string[];
  deleted: string[];
  /** type or scope changed */
  membersChanged: boolean;
}

const PRIORITY: readonly NotificationTrigger[] = [
  'entityCreated', 'entityDeleted', 'attributeDeleted', 'attributeCreated', 'attributeUpdated', 'entityUpdated',
];

/**
 * Matches one write's entity changes against the tenant's subscriptions and inserts the outbox
 * rows, with `tx` (the write's transaction). Returns the number of rows inserted.
 */
export async function matchSubscriptions(tx: Queryable, tenant: string, changes: EntityChange[], now: string): Promise<number> {
  if (changes.length === 0) return 0;
  const subs = await loadOnChangeSubscriptions(tx, tenant, now);
  if (subs.length === 0) return 0;
  const summaries = changes.map(summarise).filter((s): s is ChangeSummary => s !== undefined);
  if (summaries.length === 0) return 0;

  interface Candidate { sub: number; change: number; trigger: NotificationTrigger }
  const candidates: Candidate[] = [];
  for (let c = 0; c < summaries.length; c++) {
    for (let s = 0; s < subs.length; s++) {
      const sub = subs[s];
      if (!selects(sub, summaries[c].state)) continue;
      const trigger = triggerOf(sub, summaries[c]);
      if (trigger) candidates.push({ sub: s, change: c, trigger });
    }
  }
  if (candidates.length === 0) return 0;

  const passed = await evaluateFilters(tx, tenant, subs, summaries, candidates);
  const rows: OutboxInsert[] = [];
  for (const cand of candidates) {
    const sub = subs[cand.sub];
    const summary = summaries[cand.change];
    if (hasFilter(sub) && !passed.has(`${cand.sub}\u0000${summary.id}`)) continue;
    rows.push({ subscriptionId: sub.id, trigger: cand.trigger, entityId: summary.id, payload: payloadOf(sub, summary, now) });
  }
  await insertOutboxRows(tx, tenant, now, rows);
  return rows.length;
}

// --- what changed ------------------------------------------------------------------------------------

function summarise(change: EntityChange): ChangeSummary | undefined {
  const { before, after } = change;
  if (!before && !after) return undefined;
  if (!before) {
    return { change, id: after!.id, state: after!, kind: 'created', created: presentAttrs(after!), updated: [], deleted: [], membersChanged: false };
  }
  if (!after) {
    return { change, id: before.id, state: before, kind: 'deleted', created: [], updated: [], deleted: [], membersChanged: false };
  }
  const created: string[] = [];
  const updated: string[] = [];
  const deleted: string[] = [];
  for (const name in after.attrs) {
    const old = before.attrs[name];
    if (!after.attrs[name]?.length) continue;
    if (!old?.length) created.push(name);
    else if (!sameJson(old, after.attrs[name])) updated.push(name);
  }
  for (const name in before.attrs) if (before.attrs[name]?.length && !after.attrs[name]?.length) deleted.push(name);
  const membersChanged = !sameJson(sorted(before.type), sorted(after.type)) || !sameJson(sorted(before.scope ?? []), sorted(after.scope ?? []));
  if (!created.length && !updated.length && !deleted.length && !membersChanged) return undefined;
  return { change, id: after.id, state: after, kind: 'updated', created, updated, deleted, membersChanged };
}

const presentAttrs = (e: Entity): string[] => Object.keys(e.attrs).filter((n) => e.attrs[n]?.length);
const sorted = (a: string[]): string[] => [...a].sort();

/** Deep equality of JSON values, member order ignored (jsonb reorders members). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameJson(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b as object, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The trigger an outbox row records, or undefined when the subscription is not triggered. */
function triggerOf(sub: Subscription, s: ChangeSummary): NotificationTrigger | undefined {
  const watched = sub.watchedAttributes ? new Set(sub.watchedAttributes) : undefined;
  const keep = (names: string[]) => (watched ? names.filter((n) => watched.has(n)) : names);
  const happened = new Set<NotificationTrigger>();
  const watchedPresent = !watched || presentAttrs(s.state).some((n) => watched.has(n));
  switch (s.kind) {
    case 'created':
      if (watchedPresent) happened.add('entityCreated');
      if (keep(s.created).length) happened.add('attributeCreated');
      break;
    case 'deleted':
      if (watchedPresent) happened.add('entityDeleted');
      break;
    case 'updated': {
      const c = keep(s.created).length > 0;
      const u = keep(s.updated).length > 0;
      const d = keep(s.deleted).length > 0;
      if (c) happened.add('attributeCreated');
      if (u) happened.add('attributeUpdated');
      if (d) happened.add('attributeDeleted');
      if (c || u || d || (!watched && s.membersChanged)) happened.add('entityUpdated');
      break;
    }
  }
  const asked: readonly NotificationTrigger[] = sub.notificationTrigger?.length ? sub.notificationTrigger : DEFAULT_TRIGGERS;
  const wanted = new Set<NotificationTrigger>(asked);
  // entityUpdated stands for the three attribute triggers, on entities that already existed
  // (a creation is not an update: it needs entityCreated or attributeCreated itself)
  if (wanted.has('entityUpdated') && s.kind === 'updated') {
    for (const t of ['attributeCreated', 'attributeUpdated', 'attributeDeleted'] as const) wanted.add(t);
  }
  return PRIORITY.find((t) => happened.has(t) && wanted.has(t));
}

function payloadOf(sub: Subscription, s: ChangeSummary, at: string): OutboxPayload {
  const { before, after } = s.change;
  const withBefore = !after || sub.notification.showChanges || s.deleted.length > 0;
  return { ...(after ? { after } : {}), ...(before && withBefore ? { before } : {}), at };
}

// --- entity selectors ---------------------------------------------------------------------------------

const typeExprs = new Map<string, TypeExpr>();
const regexes = new Map<string, RegExp | null>();
const qExprs = new Map<string, QExpr>();
const CACHE_MAX = 2000;

/** Pure functions of their input text: bounded memoisation cannot go stale. */
function memo<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let v = cache.get(key);
  if (v === undefined && !cache.has(key)) {
    v = make();
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, v);
  }
  return v as T;
}

function selects(sub: Subscription, e: Entity): boolean {
  if (!sub.entities?.length) return true;
  return sub.entities.some((sel) => {
    const types = memo(typeExprs, sel.type, () => parseTypeExpr(sel.type, (t) => t));
    if (!types.anyOf.some((all) => all.every((t) => e.type.includes(t)))) return false;
    if (sel.id !== undefined) return sel.id === e.id;
    if (sel.idPattern !== undefined) {
      const re = memo(regexes, sel.idPattern, () => {
        try {
          return new RegExp(sel.idPattern!);
        } catch {
          return null;
        }
      });
      return re !== null && re.test(e.id);
    }
    return true;
  });
}

// --- q / geoQ / scopeQ in SQL ---------------------------------------------------------------------------

const hasFilter = (sub: Subscription): boolean => sub.q !== undefined || sub.geoQ !== undefined || sub.scopeQ !== undefined;

/**
 * The boolean SQL filter of a subscription's q, geoQ and scopeQ over an entity row `e` with the
 * columns of the entities table (attrs, location, scopes); undefined when it has none.
 */
export function subscriptionFilterSql(sub: Subscription, params: SqlParams, alias = 'e'): string | undefined {
  const where: string[] = [];
  if (sub.q !== undefined) {
    const expr = memo(qExprs, sub.q, () => parseQ(sub.q!));
    const terms = sub.qTerms ?? {};
    where.push(qToSql(expr, { expand: (t) => terms[t] ?? t, params, attrsColumn: `${alias}.attrs` }));
  }
  if (sub.scopeQ !== undefined) where.push(scopeQToSql(parseScopeQ(sub.scopeQ), { params, scopesColumn: `${alias}.scopes` }));
  if (sub.geoQ) {
    const geo = parseGeoQuery(sub.geoQ, (t) => t);
    if (geo) where.push(geoQueryToSql(geo, { params, locationColumn: `${alias}.location`, attrsColumn: `${alias}.attrs` }));
  }
  return where.length ? where.join(' AND ') : undefined;
}

/** Rows of deleted entities, with the columns filters use, built from their jsonb. */
const GONE_ROWS = (param: string): string => `SELECT x->>'id' AS id,
    CASE WHEN jsonb_typeof(x->'scope') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(x->'scope')) END AS scopes,
    x->'attrs' AS attrs, ${locationFromAttrsSql("x->'attrs'")} AS location
  FROM jsonb_array_elements(${param}::jsonb) AS x`;

/** The (subscription index, entity id) pairs whose filters hold; one statement for the batch. */
async function evaluateFilters(
  tx: Queryable,
  tenant: string,
  subs: Subscription[],
  summaries: ChangeSummary[],
  candidates: { sub: number; change: number }[],
): Promise<Set<string>> {
  const bySub = new Map<number, { live: Set<string>; gone: Set<string> }>();
  const goneEntities = new Map<string, Entity>();
  for (const c of candidates) {
    if (!hasFilter(subs[c.sub])) continue;
    let ids = bySub.get(c.sub);
    if (!ids) bySub.set(c.sub, (ids = { live: new Set(), gone: new Set() }));
    const s = summaries[c.change];
    if (s.kind === 'deleted') {
      ids.gone.add(s.id);
      goneEntities.set(s.id, s.state);
    } else {
      ids.live.add(s.id);
    }
  }
  const passed = new Set<string>();
  if (bySub.size === 0) return passed;
  const params = new SqlParams();
  const gone = goneEntities.size ? params.add(JSON.stringify([...goneEntities.values()])) : undefined;
  let tenantParam: string | undefined;
  const branches: string[] = [];
  for (const [s, ids] of bySub) {
    if (ids.live.size) {
      tenantParam ??= params.add(tenant);
      const filter = subscriptionFilterSql(subs[s], params)!;
      branches.push(`SELECT ${s} AS s, e.id FROM entities e WHERE e.tenant = ${tenantParam} AND e.id = ANY(${params.add([...ids.live])}::text[]) AND ${filter}`);
    }
    if (ids.gone.size) {
      const filter = subscriptionFilterSql(subs[s], params)!;
      branches.push(`SELECT ${s} AS s, e.id FROM gone e WHERE e.id = ANY(${params.add([...ids.gone])}::text[]) AND ${filter}`);
    }
  }
  const sql = `${gone ? `WITH gone AS (${GONE_ROWS(gone)}) ` : ''}${branches.map((b) => `(${b})`).join(' UNION ALL ')}`;
  const { rows } = await tx.query<{ s: number; id: string }>(sql, params.values);
  for (const r of rows) passed.add(`${Number(r.s)}\u0000${r.id}`);
  return passed;
}

/**
 * Checks at creation / update time that a subscription's filters translate into SQL the server
 * accepts (jsonpath syntax, regexes in like_regex), so that a subscription can never make entity
 * writes fail: every parameter of the q translation is a jsonpath, cast here one by one.
 */
export async function assertFiltersEvaluable(db: Queryable, sub: Subscription): Promise<void> {
  if (sub.q === undefined) return;
  const params = new SqlParams();
  qToSql(parseQ(sub.q), { expand: (t) => sub.qTerms?.[t] ?? t, params, attrsColumn: 'attrs' });
  if (params.values.length === 0) return;
  await db.query(`SELECT ${params.values.map((_, i) => `$${i + 1}::jsonpath`).join(', ')}`, params.values);
}
