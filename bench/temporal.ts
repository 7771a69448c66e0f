/**
 * Bench phase (f): the temporal API on a large history. BENCH_TEMPORAL_INSTANCES attribute
 * instances (1M) of BENCH_TEMPORAL_SENSORS sensors (250: 4,000 temperature readings each, evenly
 * spread over 30 days, ~11 min apart) are loaded in bulk with generate_series inside the store (no
 * HTTP: this measures reading history, not writing it); then, sequentially, one random sensor's
 * hourly average over the month through the HTTP temporal API:
 *   GET /ngsi-ld/v1/temporal/entities/{id}?attrs=temperature&format=aggregatedValues&aggrMethods=avg
 *       &aggrPeriodDuration=PT1H&timerel=between&timeAt=<start>&endTimeAt=<start + 30 days>
 * p50/p95/p99 of the response time. One request at a time from this process (keep-alive
 * node:http): a sequential client costs the service's event loop next to nothing. The first answer
 * is checked against the same average computed directly in SQL.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Db } from '../src/store/db';
import { percentile, mean } from './stats';
import { prng } from './data';

const VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
const DAY_MS = 24 * 3600_000;
export const TEMPORAL_START = '2026-04-01T00:00:00.000Z';

export interface TemporalCommand {
  db: Db;
  base: string;
  instances: number;
  sensors: number;
  requests: number;
  warmup: number;
  seed: number;
}

export interface TemporalSummary {
  instances: number;
  sensors: number;
  loadSeconds: number;
  loadRowsPerSec: number;
  requests: number;
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number };
  periods: number;
  responseBytes: number;
  statuses: Record<string, number>;
  firstError?: string;
  exampleUrl: string;
}

export const sensorId = (s: number): string => `urn:ngsi-ld:TemporalProbe:s${String(s).padStart(4, '0')}`;

/** Loads the history in two statements (entities, instances) inside the store. */
async function load(db: Db, sensors: number, perSensor: number): Promise<void> {
  await db.query(
    `INSERT INTO temporal_entities (tenant, id, types, created_at)
     SELECT '', 'urn:ngsi-ld:TemporalProbe:s' || lpad(s::text, 4, '0'), ARRAY[$1::text], now() FROM generate_series(0, $2::int - 1) s`,
    [VOCAB + 'TemporalProbe', sensors],
  );
  // a daily cycle per sensor plus a per-sensor offset; observedAt as the API would have stored it
  await db.query(
    `INSERT INTO attribute_instances (tenant, entity_id, attr, ts, modified_at, value_num, instance)
     SELECT '', 'urn:ngsi-ld:TemporalProbe:s' || lpad(s::text, 4, '0'), $1, x.t, x.t, x.v,
            jsonb_build_object('type', 'Property', 'value', x.v, 'unitCode', 'CEL',
                               'observedAt', to_char(x.t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
       FROM generate_series(0, $2::int - 1) s, generate_series(0, $3::int - 1) n,
            LATERAL (SELECT $4::timestamptz + n * ($5::float8 * interval '1 millisecond') AS t,
                            round((8 + 6 * sin(n * 2 * pi() / ($3::float8 / 30)) + (s % 7))::numeric, 2)::float8 AS v) x`,
    [VOCAB + 'temperature', sensors, perSensor, TEMPORAL_START, (30 * DAY_MS) / perSensor],
  );
  await db.exec('ANALYZE attribute_instances; ANALYZE temporal_entities');
}

function get(agent: http.Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export async function runTemporalPhase(cmd: TemporalCommand): Promise<TemporalSummary> {
  const perSensor = Math.max(1, Math.floor(cmd.instances / cmd.sensors));
  const t0 = performance.now();
  await load(cmd.db, cmd.sensors, perSensor);
  const loadSeconds = (performance.now() - t0) / 1000;
  const instances = perSensor * cmd.sensors;

  const end = new Date(Date.parse(TEMPORAL_START) + 30 * DAY_MS).toISOString();
  const url = (s: number) => `${cmd.base}/ngsi-ld/v1/temporal/entities/${encodeURIComponent(sensorId(s))}?attrs=temperature` +
    `&format=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT1H&timerel=between&timeAt=${TEMPORAL_START}&endTimeAt=${end}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const next = prng(cmd.seed);
  const summary: TemporalSummary = {
    instances, sensors: cmd.sensors, loadSeconds, loadRowsPerSec: instances / loadSeconds, requests: 0,
    latencyMs: { p50: NaN, p95: NaN, p99: NaN, mean: NaN, max: NaN }, periods: 0, responseBytes: 0, statuses: {},
    exampleUrl: url(0).replace(cmd.base, ''),
  };
  const latencies: number[] = [];
  try {
    // correctness first: the first period of sensor 0 against SQL
    const first = await get(agent, url(0));
    const avg = JSON.parse(first.body)?.temperature?.avg as [number, string, string][] | undefined;
    summary.periods = avg?.length ?? 0;
    summary.responseBytes = first.body.length;
    const { rows } = await cmd.db.query<{ a: number }>(
      `SELECT avg(value_num) AS a FROM attribute_instances WHERE tenant = '' AND entity_id = $1 AND attr = $2 AND ts >= $3 AND ts < $3::timestamptz + interval '1 hour'`,
      [sensorId(0), VOCAB + 'temperature', TEMPORAL_START],
    );
    if (first.status !== 200 || !avg || Math.abs(avg[0][0] - Number(rows[0].a)) > 1e-9) {
      summary.firstError = `HTTP ${first.status}: first period ${JSON.stringify(avg?.[0])} vs SQL avg ${rows[0].a}; ${first.body.slice(0, 300)}`;
    }
    for (let i = 0; i < cmd.warmup + cmd.requests; i++) {
      const s = Math.floor(next() * cmd.sensors);
      const t = performance.now();
      const res = await get(agent, url(s));
      const ms = performance.now() - t;
      if (i < cmd.warmup) continue;
      latencies.push(ms);
      summary.statuses[res.status] = (summary.statuses[res.status] ?? 0) + 1;
      if (res.status !== 200 && !summary.firstError) summary.firstError = `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
    }
  } finally {
    agent.destroy();
  }
  summary.requests = latencies.length;
  summary.latencyMs = {
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
    mean: mean(latencies), max: Math.max(...latencies),
  };
  return summary;
}
