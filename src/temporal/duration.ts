/**
 * ISO 8601 durations (aggrPeriodDuration, spec 4.5.19) and the aggregation periods they cut a
 * time range into. Years and months are calendar units (a month from 31 January ends on the last
 * day of February), so periods are computed as boundaries, in UTC, not as a fixed number of seconds.
 */
import { badRequestData } from '../ngsi-ld/errors';

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

// PnYnMnWnDTnHnMnS; every part optional but at least one; seconds may have a fraction
const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration; `0` (the spec's default) is the zero duration. */
export function parseDuration(text: string): Duration {
  if (text === '0') return { years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0 };
  const m = DURATION.exec(text);
  if (!m) throw badRequestData(`'${text.slice(0, 64)}' is not an ISO 8601 duration (e.g. PT1H, P1D, P1M, PT15M)`);
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i].replace(',', '.')));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

export const isZero = (d: Duration): boolean =>
  d.years === 0 && d.months === 0 && d.weeks === 0 && d.days === 0 && d.hours === 0 && d.minutes === 0 && d.seconds === 0;

/** `t + k × d` in UTC: calendar months/years first (clamped to the month's last day), then the fixed part. */
export function addDuration(t: Date, d: Duration, k = 1): Date {
  const out = new Date(t.getTime());
  const months = (d.years * 12 + d.months) * k;
  if (months !== 0) {
    const day = out.getUTCDate();
    out.setUTCDate(1);
    out.setUTCMonth(out.getUTCMonth() + months);
    const lastDay = new Date(Date.UTC(out.getUTCFullYear(), out.getUTCMonth() + 1, 0)).getUTCDate();
    out.setUTCDate(Math.min(day, lastDay));
  }
  const ms = ((((d.weeks * 7 + d.days) * 24 + d.hours) * 60 + d.minutes) * 60 + d.seconds) * 1000;
  return new Date(out.getTime() + ms * k);
}

/**
 * The boundaries of the periods that cover [start, end): start, start + d, start + 2d, … up to the
 * first one at or after end. A zero duration is one period, the whole range. At most maxPeriods.
 */
export function periodBoundaries(start: Date, end: Date, d: Duration, maxPeriods: number): Date[] {
  if (!(end.getTime() > start.getTime())) return [start, new Date(start.getTime() + 1)];
  if (isZero(d)) return [start, end];
  const out = [start];
  // from start each time (not from the previous boundary): month clamping must not drift
  for (let k = 1; out[out.length - 1].getTime() < end.getTime(); k++) {
    if (k > maxPeriods) throw badRequestData(`aggrPeriodDuration cuts the time range into more than ${maxPeriods} periods`);
    const next = addDuration(start, d, k);
    if (next.getTime() <= out[out.length - 1].getTime()) throw badRequestData('aggrPeriodDuration must be longer than a millisecond');
    out.push(next);
  }
  return out;
}
