import { addDuration, isZero, parseDuration, periodBoundaries } from '../../src/temporal/duration';
import { buildTemporalQuery, parseAggregationMethods, parseTimeQuery, temporalRepresentation } from '../../src/temporal/query';
import { NgsiError } from '../../src/ngsi-ld/errors';
import type { TermMap } from '../../src/ngsi-ld/context/types';

const d = (s: string) => new Date(s);
const iso = (dates: Date[]) => dates.map((x) => x.toISOString());

describe('parseDuration (ISO 8601)', () => {
  test.each([
    ['PT1H', { hours: 1 }],
    ['P1D', { days: 1 }],
    ['P1Y2M3DT4H5M6S', { years: 1, months: 2, days: 3, hours: 4, minutes: 5, seconds: 6 }],
    ['P2W', { weeks: 2 }],
    ['PT0.5S', { seconds: 0.5 }],
    ['PT1,5S', { seconds: 1.5 }],
    ['PT15M', { minutes: 15 }],
  ])('%s', (text, parts) => {
    expect(parseDuration(text)).toEqual({ years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0, ...parts });
  });

  test('0 and P0D are zero', () => {
    expect(isZero(parseDuration('0'))).toBe(true);
    expect(isZero(parseDuration('P0D'))).toBe(true);
    expect(isZero(parseDuration('PT1S'))).toBe(false);
  });

  test.each(['', 'P', 'PT', '1H', 'PT1', 'P1H', 'PT1D', 'P-1D', 'P1.5D', 'pt1h', 'P1DT'])('rejects %p', (text) => {
    expect(() => parseDuration(text)).toThrow(NgsiError);
  });
});

describe('addDuration and periodBoundaries (UTC, calendar months)', () => {
  test('a month from 31 January ends on the last day of February; years are leap-aware', () => {
    expect(addDuration(d('2025-01-31T10:00:00Z'), parseDuration('P1M')).toISOString()).toBe('2025-02-28T10:00:00.000Z');
    expect(addDuration(d('2024-01-31T10:00:00Z'), parseDuration('P1M')).toISOString()).toBe('2024-02-29T10:00:00.000Z');
    expect(addDuration(d('2024-02-29T00:00:00Z'), parseDuration('P1Y')).toISOString()).toBe('2025-02-28T00:00:00.000Z');
    expect(addDuration(d('2026-01-01T00:00:00Z'), parseDuration('PT1H'), 3).toISOString()).toBe('2026-01-01T03:00:00.000Z');
  });

  test('boundaries cover [start, end): the last one is at or after end', () => {
    expect(iso(periodBoundaries(d('2026-01-01T00:00:00Z'), d('2026-01-01T03:00:00Z'), parseDuration('PT1H'), 100))).toEqual([
      '2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z', '2026-01-01T03:00:00.000Z',
    ]);
    expect(iso(periodBoundaries(d('2026-01-01T00:00:00Z'), d('2026-01-01T02:30:00Z'), parseDuration('PT1H'), 100))).toHaveLength(4);
  });

  test('monthly periods from the 31st do not drift', () => {
    const b = iso(periodBoundaries(d('2025-01-31T00:00:00Z'), d('2025-05-01T00:00:00Z'), parseDuration('P1M'), 100));
    expect(b).toEqual(['2025-01-31', '2025-02-28', '2025-03-31', '2025-04-30', '2025-05-31'].map((s) => `${s}T00:00:00.000Z`));
  });

  test('a zero duration is one period; an hourly month is 720 periods; too many is 400', () => {
    expect(periodBoundaries(d('2026-01-01T00:00:00Z'), d('2026-02-01T00:00:00Z'), parseDuration('0'), 10)).toHaveLength(2);
    expect(periodBoundaries(d('2026-04-01T00:00:00Z'), d('2026-05-01T00:00:00Z'), parseDuration('PT1H'), 10_000)).toHaveLength(721);
    expect(() => periodBoundaries(d('2026-01-01T00:00:00Z'), d('2026-02-01T00:00:00Z'), parseDuration('PT1S'), 10_000)).toThrow(NgsiError);
  });
});

describe('temporal query parameters', () => {
  const tm: TermMap = { expand: (t) => `https://example.org/${t}`, compact: (i) => i, context: [], key: 'test' };

  test('timerel/timeAt/endTimeAt/timeproperty', () => {
    expect(parseTimeQuery({})).toEqual({ property: 'observedAt' });
    expect(parseTimeQuery({ timerel: 'before', timeAt: '2026-01-01T00:00:00+01:00' })).toEqual({ property: 'observedAt', rel: 'before', at: '2025-12-31T23:00:00.000Z' });
    expect(parseTimeQuery({ timerel: 'between', timeAt: '2026-01-01T00:00:00Z', endTimeAt: '2026-01-02T00:00:00Z', timeproperty: 'modifiedAt' }).property).toBe('modifiedAt');
    for (const bad of [
      { timerel: 'before' }, { timeAt: '2026-01-01T00:00:00Z' }, { timerel: 'after', timeAt: 'yesterday' },
      { timerel: 'between', timeAt: '2026-01-01T00:00:00Z' }, { timerel: 'after', timeAt: '2026-01-01T00:00:00Z', endTimeAt: '2026-01-02T00:00:00Z' },
      { timeproperty: 'observed' },
    ]) expect(() => parseTimeQuery(bad)).toThrow(NgsiError);
  });

  test('representation: format wins over options; temporalValues and aggregatedValues exclude each other', () => {
    expect(temporalRepresentation({})).toEqual({ format: 'normalized', sysAttrs: false });
    expect(temporalRepresentation({ options: 'temporalValues,sysAttrs' })).toEqual({ format: 'temporalValues', sysAttrs: true });
    expect(temporalRepresentation({ options: 'temporalValues', format: 'aggregatedValues' }).format).toBe('aggregatedValues');
    expect(() => temporalRepresentation({ options: 'temporalValues,aggregatedValues' })).toThrow(NgsiError);
    expect(() => temporalRepresentation({ options: 'keyValues' })).toThrow(NgsiError);
  });

  test('aggregation methods and the need for format=aggregatedValues', () => {
    expect(parseAggregationMethods('avg, max,avg')).toEqual(['avg', 'max']);
    expect(() => parseAggregationMethods('median')).toThrow(NgsiError);
    expect(() => parseAggregationMethods(undefined)).toThrow(NgsiError);
    const q = buildTemporalQuery({ id: 'urn:a:b', aggrMethods: 'sum', aggrPeriodDuration: 'PT1H' }, tm, 'aggregatedValues');
    expect(q.aggregation?.methods).toEqual(['sum']);
    expect(q.aggregation?.period.hours).toBe(1);
    expect(() => buildTemporalQuery({ id: 'urn:a:b', aggrMethods: 'sum' }, tm, 'normalized')).toThrow(NgsiError);
  });
});
