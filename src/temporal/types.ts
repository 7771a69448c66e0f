import type { EntityQuery } from '../broker/context-broker';
import type { AttributeInstance, AttributeKind } from '../ngsi-ld/types';
import type { Duration } from './duration';

/** The temporal query (spec 5.2.21, 4.11), validated. */

/** deletedAt: only deletion instances have it (history-store.ts recordEntityWrites) */
export type TimeProperty = 'observedAt' | 'modifiedAt' | 'createdAt' | 'deletedAt';
export type TimeRelation = 'before' | 'after' | 'between';

export interface TimeQuery {
  property: TimeProperty;
  /** absent: no time bound */
  rel?: TimeRelation;
  /** ISO date-times (validated) */
  at?: string;
  endAt?: string;
}

export const AGGREGATION_METHODS = ['totalCount', 'distinctCount', 'sum', 'avg', 'min', 'max', 'stddev', 'sumsq'] as const;
export type AggregationMethod = (typeof AGGREGATION_METHODS)[number];

export interface Aggregation {
  methods: AggregationMethod[];
  period: Duration;
}

export interface TemporalQuery {
  /** entity selection: type/id/idPattern/q/geo/scopeQ/attrs, the page (limit/offset) and count */
  entities: EntityQuery;
  time: TimeQuery;
  /** only the last n instances per attribute (in the time range) */
  lastN?: number;
  /** only instances with one of these datasetIds ('@none' = without one) */
  datasetIds?: string[];
  aggregation?: Aggregation;
}

/** One stored instance as the temporal representation lists it. */
export interface HistoryInstance {
  instanceId: string;
  /** the value of the query's time property for this instance */
  at: string;
  instance: AttributeInstance;
}

/** One aggregation period of one attribute: the methods' results (null where undefined, e.g. avg of text; min/max may be text). */
export interface AggregatedPeriod {
  start: string;
  end: string;
  values: Partial<Record<AggregationMethod, number | string | null>>;
}

export interface TemporalEntity {
  id: string;
  types: string[];
  /** expanded attribute name → its instances, oldest first (instance queries) */
  instances: Record<string, HistoryInstance[]>;
  /** expanded attribute name → its kind and periods, oldest first (aggregation queries) */
  aggregated: Record<string, { kind: AttributeKind; periods: AggregatedPeriod[] }>;
}

export interface TemporalResult {
  entities: TemporalEntity[];
  count?: number;
  /** some attribute had more instances in the range than one response carries (spec 6.3.10: 206) */
  truncated?: { from: string; to: string };
}
