/**
 * Temporal query parameters (GET /temporal/entities, POST /temporal/entityOperations/query) →
 * a validated TemporalQuery. The entity part is the very parsing of GET /entities.
 */
import { buildEntityQuery, type QueryInput } from '../routes/entities';
import { badRequestData } from '../ngsi-ld/errors';
import { isDateTime } from '../ngsi-ld/entity/parse';
import type { TermMap } from '../ngsi-ld/context/types';
import { parseDuration } from './duration';
import {
  AGGREGATION_METHODS, type AggregationMethod, type TemporalQuery, type TimeProperty, type TimeQuery, type TimeRelation,
} from './types';

export interface TemporalQueryInput extends QueryInput {
  timerel?: string;
  timeAt?: string;
  endTimeAt?: string;
  timeproperty?: string;
  lastN?: number;
  aggrMethods?: string;
  aggrPeriodDuration?: string;
  datasetId?: string;
}

export type TemporalFormat = 'normalized' | 'temporalValues' | 'aggregatedValues';

/** `format` (wins) or the deprecated `options` keyword; sysAttrs as an option. */
export function temporalRepresentation(input: { options?: string; format?: string }): { format: TemporalFormat; sysAttrs: boolean } {
  const options = new Set((input.options ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const allowed = ['temporalValues', 'aggregatedValues', 'sysAttrs', 'normalized'];
  for (const o of options) if (!allowed.includes(o)) throw badRequestData(`unknown option '${o}'; allowed: ${allowed.join(', ')}`);
  if (options.has('temporalValues') && options.has('aggregatedValues')) throw badRequestData('temporalValues and aggregatedValues exclude each other');
  if (input.format !== undefined && !['temporalValues', 'aggregatedValues', 'normalized'].includes(input.format)) {
    throw badRequestData(`unknown format '${input.format}' for a temporal query; allowed: normalized, temporalValues, aggregatedValues`);
  }
  const fromOptions = options.has('temporalValues') ? 'temporalValues' : options.has('aggregatedValues') ? 'aggregatedValues' : 'normalized';
  return { format: (input.format as TemporalFormat | undefined) ?? fromOptions, sysAttrs: options.has('sysAttrs') };
}

const TIME_PROPERTIES: readonly string[] = ['observedAt', 'modifiedAt', 'createdAt', 'deletedAt'];
const TIME_RELATIONS: readonly string[] = ['before', 'after', 'between'];

function dateTime(name: string, value: string | undefined): string {
  if (value === undefined) throw badRequestData(`${name} is required with this timerel`);
  if (!isDateTime(value)) throw badRequestData(`${name} '${value.slice(0, 64)}' is not an ISO 8601 date-time`);
  return new Date(value).toISOString();
}

/** timerel / timeAt / endTimeAt / timeproperty (spec 4.11). */
export function parseTimeQuery(input: TemporalQueryInput): TimeQuery {
  const property = (input.timeproperty ?? 'observedAt') as TimeProperty;
  if (!TIME_PROPERTIES.includes(property)) throw badRequestData(`timeproperty must be one of ${TIME_PROPERTIES.join(', ')}`);
  if (input.timerel === undefined) {
    if (input.timeAt !== undefined || input.endTimeAt !== undefined) throw badRequestData('timeAt and endTimeAt need a timerel');
    return { property };
  }
  if (!TIME_RELATIONS.includes(input.timerel)) throw badRequestData(`timerel must be one of ${TIME_RELATIONS.join(', ')}`);
  const rel = input.timerel as TimeRelation;
  const at = dateTime('timeAt', input.timeAt);
  if (rel !== 'between') {
    if (input.endTimeAt !== undefined) throw badRequestData('endTimeAt is only allowed with timerel=between');
    return { property, rel, at };
  }
  const endAt = dateTime('endTimeAt', input.endTimeAt);
  if (endAt <= at) throw badRequestData('endTimeAt must be after timeAt');
  return { property, rel, at, endAt };
}

export function parseAggregationMethods(text: string | undefined): AggregationMethod[] {
  if (text === undefined || text.trim() === '') throw badRequestData('aggregatedValues needs aggrMethods (e.g. aggrMethods=avg,max)');
  const methods = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
  for (const m of methods) {
    if (!(AGGREGATION_METHODS as readonly string[]).includes(m)) {
      throw badRequestData(`unknown aggregation method '${m.slice(0, 64)}'; allowed: ${AGGREGATION_METHODS.join(', ')}`);
    }
  }
  return methods as AggregationMethod[];
}

/** The whole temporal query; `format` decides whether aggregation parameters are read. */
export function buildTemporalQuery(input: TemporalQueryInput, tm: TermMap, format: TemporalFormat): TemporalQuery {
  const query: TemporalQuery = { entities: buildEntityQuery(input, tm), time: parseTimeQuery(input) };
  if (input.lastN !== undefined) query.lastN = input.lastN;
  if (input.datasetId !== undefined) query.datasetIds = input.datasetId.split(',').map((s) => s.trim()).filter(Boolean);
  if (format === 'aggregatedValues') {
    query.aggregation = { methods: parseAggregationMethods(input.aggrMethods), period: parseDuration(input.aggrPeriodDuration ?? '0') };
  } else if (input.aggrMethods !== undefined || input.aggrPeriodDuration !== undefined) {
    throw badRequestData('aggrMethods and aggrPeriodDuration need format=aggregatedValues (or options=aggregatedValues)');
  }
  return query;
}
