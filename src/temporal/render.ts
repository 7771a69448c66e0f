/**
 * Temporal representations of entities (spec 4.5.7 normalized, 4.5.8 simplified = temporalValues,
 * 4.5.19 aggregated), compacted with the request's context.
 */
import { renderInstances } from '../ngsi-ld/entity/render';
import { includesAttribute, type Projection } from '../ngsi-ld/entity/projection';
import { VALUE_MEMBERS } from '../ngsi-ld/entity/parse';
import type { ContextValue, TermMap } from '../ngsi-ld/context/types';
import type { AttributeInstance, AttributeKind } from '../ngsi-ld/types';
import type { TemporalFormat } from './query';
import type { AggregationMethod, HistoryInstance, TemporalEntity } from './types';

export interface TemporalRenderOptions {
  format: TemporalFormat;
  sysAttrs: boolean;
  projection?: Projection;
  lang?: string;
  /** aggregation methods, in the order asked for */
  methods?: AggregationMethod[];
  includeContext?: ContextValue;
}

/** The member of the simplified temporal representation that lists [value, time] pairs, by kind. */
const TEMPORAL_VALUES_MEMBER: Record<AttributeKind, string> = {
  Property: 'values',
  GeoProperty: 'values',
  Relationship: 'objects',
  LanguageProperty: 'languageMaps',
  VocabProperty: 'vocabs',
  JsonProperty: 'jsons',
  ListProperty: 'valueLists',
  ListRelationship: 'objectLists',
};

export function renderTemporalEntity(e: TemporalEntity, tm: TermMap, opts: TemporalRenderOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: e.id,
    type: e.types.length === 1 ? tm.compact(e.types[0]) : e.types.map((t) => tm.compact(t)),
  };
  if (opts.format === 'aggregatedValues') {
    for (const [attr, { kind, periods }] of Object.entries(e.aggregated)) {
      if (!includesAttribute(opts.projection, attr)) continue;
      const rendered: Record<string, unknown> = { type: kind };
      for (const m of opts.methods ?? []) rendered[m] = periods.map((p) => [p.values[m] ?? null, p.start, p.end]);
      out[tm.compact(attr)] = rendered;
    }
  } else {
    for (const [attr, history] of Object.entries(e.instances)) {
      if (!includesAttribute(opts.projection, attr)) continue;
      out[tm.compact(attr)] = opts.format === 'temporalValues' ? temporalValues(history, tm) : normalized(history, tm, opts);
    }
  }
  if (opts.includeContext !== undefined) out['@context'] = opts.includeContext;
  return out;
}

/** Every instance as an object with its instanceId (4.5.7). */
function normalized(history: HistoryInstance[], tm: TermMap, opts: TemporalRenderOptions): unknown[] {
  const rendered = renderInstances(history.map((h) => h.instance), tm, { format: 'normalized', sysAttrs: opts.sysAttrs, lang: opts.lang });
  return rendered.map((r, i) => ({ ...(r as Record<string, unknown>), instanceId: history[i].instanceId }));
}

/** `{type, values: [[value, time], …]}` (4.5.8), per kind's member; the kind of the newest instance. */
function temporalValues(history: HistoryInstance[], tm: TermMap): Record<string, unknown> {
  const kind = history[history.length - 1].instance.type;
  const pairs = history.filter((h) => h.instance.type === kind).map((h) => [valueOf(h.instance, tm), h.at]);
  return { type: kind, [TEMPORAL_VALUES_MEMBER[kind]]: pairs };
}

function valueOf(inst: AttributeInstance, tm: TermMap): unknown {
  const value = inst[VALUE_MEMBERS[inst.type]];
  if (inst.type === 'VocabProperty') return typeof value === 'string' ? tm.compact(value) : (value as string[]).map((v) => tm.compact(v));
  return value;
}
