import { openTestDb } from '../helpers/db';
import { prng } from '../../bench/data';
import type { Db } from '../../src/store/db';
import { EmbeddedBroker } from '../../src/broker/embedded/engine';
import { TemporalHistory, pruneHistory, MAX_INSTANCES } from '../../src/temporal/history-store';
import { parseDuration } from '../../src/temporal/duration';
import type { TemporalQuery } from '../../src/temporal/types';
import type { Entity } from '../../src/ngsi-ld/types';

/** The attribute history on the real store: written with the entity writes, read and aggregated in SQL. */

let db: Db;
let broker: EmbeddedBroker;
let history: TemporalHistory;
const V = 'https://example.org/';
const T = V + 'Station';
const TEMP = V + 'temperature';
const tenant = 'temporal';

beforeAll(async () => {
  db = await openTestDb();
  broker = new EmbeddedBroker(db);
  history = new TemporalHistory(db);
});
afterAll(() => db.close());

const station = (id: string, temperature: number, observedAt?: string): Entity => ({
  id, type: [T], attrs: { [TEMP]: [{ type: 'Property', value: temperature, ...(observedAt ? { observedAt } : {}) }] },
});

const query = (ids: string[], extra: Partial<TemporalQuery> = {}): TemporalQuery => ({
  entities: { selectors: [{ ids }], limit: 100, offset: 0, count: false, expand: (t) => V + t },
  time: { property: 'observedAt' },
  ...extra,
});

const countRows = async (sql: string, params: unknown[]) => Number((await db.query<{ n: number }>(sql, params)).rows[0].n);

test('a batch upsert of 1000 entities writes their instances in the same transaction, in one statement', async () => {
  const ids = Array.from({ length: 1000 }, (_, i) => `urn:ngsi-ld:Station:b${i}`);
  await broker.batchUpsert(tenant, ids.map((id, i) => station(id, i)), 'update');
  await broker.batchUpsert(tenant, ids.map((id, i) => station(id, i + 0.5)), 'update');
  expect(await countRows('SELECT count(*)::int AS n FROM attribute_instances WHERE tenant = $1 AND entity_id LIKE $2', [tenant, 'urn:ngsi-ld:Station:b%'])).toBe(2000);
  expect(await countRows('SELECT count(*)::int AS n FROM temporal_entities WHERE tenant = $1 AND id LIKE $2', [tenant, 'urn:ngsi-ld:Station:b%'])).toBe(1000);
  // without observedAt the instance's time is the write's time
  const r = await history.query(tenant, query([ids[7]]), ids[7]);
  const list = r.entities[0].instances[TEMP];
  expect(list.map((h) => h.instance.value)).toEqual([7, 7.5]);
  expect(list[0].at).toBe(list[0].instance.modifiedAt);
});

test('a failed write leaves no history (rolled back with it)', async () => {
  const id = 'urn:ngsi-ld:Station:dup';
  await broker.createEntity(tenant, station(id, 1));
  await expect(broker.createEntity(tenant, station(id, 2))).rejects.toThrow();
  expect(await countRows('SELECT count(*)::int AS n FROM attribute_instances WHERE tenant = $1 AND entity_id = $2', [tenant, id])).toBe(1);
});

test('only the instances a write touched are recorded', async () => {
  const id = 'urn:ngsi-ld:Station:partial';
  await broker.createEntity(tenant, { ...station(id, 1), attrs: { ...station(id, 1).attrs, [V + 'name']: [{ type: 'Property', value: 'a' }] } });
  await broker.updateAttributes(tenant, id, { [TEMP]: [{ type: 'Property', value: 2 }] });
  const rows = (await db.query<{ attr: string }>('SELECT attr FROM attribute_instances WHERE tenant = $1 AND entity_id = $2 ORDER BY seq', [tenant, id])).rows;
  expect(rows.map((r) => r.attr)).toEqual(expect.arrayContaining([TEMP, V + 'name', TEMP]));
  expect(rows.filter((r) => r.attr === V + 'name')).toHaveLength(1);
});

test('aggregations in SQL equal the same maths in JavaScript (random data, hourly periods)', async () => {
  const id = 'urn:ngsi-ld:Station:agg';
  const rnd = prng(42);
  const start = Date.UTC(2026, 3, 1);
  const values: { t: number; v: number }[] = [];
  for (let i = 0; i < 300; i++) values.push({ t: start + Math.floor(rnd() * 6 * 3600_000), v: Math.round(rnd() * 2000 - 1000) / 10 });
  // one write per value, as a sensor would send them
  await broker.createEntity(tenant, station(id, values[0].v, new Date(values[0].t).toISOString()));
  for (const { t, v } of values.slice(1)) await broker.batchUpsert(tenant, [station(id, v, new Date(t).toISOString())], 'update');

  const r = await history.query(tenant, query([id], {
    time: { property: 'observedAt', rel: 'between', at: new Date(start).toISOString(), endAt: new Date(start + 6 * 3600_000).toISOString() },
    aggregation: { methods: ['totalCount', 'distinctCount', 'sum', 'avg', 'min', 'max', 'stddev', 'sumsq'], period: parseDuration('PT1H') },
  }), id);
  const periods = r.entities[0].aggregated[TEMP].periods;
  expect(periods).toHaveLength(6);
  for (const [h, p] of periods.entries()) {
    const vs = values.filter(({ t }) => t >= start + h * 3600_000 && t < start + (h + 1) * 3600_000).map((x) => x.v);
    const sum = vs.reduce((a, b) => a + b, 0);
    const avg = sum / vs.length;
    expect(p.start).toBe(new Date(start + h * 3600_000).toISOString());
    expect(p.end).toBe(new Date(start + (h + 1) * 3600_000).toISOString());
    expect(p.values.totalCount).toBe(vs.length);
    expect(p.values.distinctCount).toBe(new Set(vs).size);
    expect(p.values.sum).toBeCloseTo(sum, 6);
    expect(p.values.avg).toBeCloseTo(avg, 6);
    expect(p.values.min).toBe(Math.min(...vs));
    expect(p.values.max).toBe(Math.max(...vs));
    expect(p.values.sumsq).toBeCloseTo(vs.reduce((a, b) => a + b * b, 0), 4);
    expect(p.values.stddev).toBeCloseTo(Math.sqrt(vs.reduce((a, b) => a + (b - avg) ** 2, 0) / (vs.length - 1)), 6);
  }
});

test('more instances than fit one response are cut, and said so', async () => {
  const id = 'urn:ngsi-ld:Station:many';
  await broker.createEntity(tenant, station(id, 0, '2026-01-01T00:00:00Z'));
  await db.query(
    `INSERT INTO attribute_instances (tenant, entity_id, attr, ts, modified_at, value_num, instance)
     SELECT $1, $2, $3, t, now(), n, jsonb_build_object('type', 'Property', 'value', n, 'observedAt', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
       FROM generate_series(1, ${MAX_INSTANCES + 10}) n, LATERAL (SELECT timestamptz '2026-01-01T00:00:00Z' + n * interval '1 minute' AS t) x`,
    [tenant, id, TEMP],
  );
  const r = await history.query(tenant, query([id]), id);
  expect(r.entities[0].instances[TEMP]).toHaveLength(MAX_INSTANCES);
  expect(r.truncated?.from).toBe('2026-01-01T00:00:00.000Z');
  const last = await history.query(tenant, query([id], { lastN: 3 }), id);
  expect(last.entities[0].instances[TEMP].map((h) => h.instance.value)).toEqual([MAX_INSTANCES + 8, MAX_INSTANCES + 9, MAX_INSTANCES + 10]);
  expect(last.truncated).toBeUndefined();
});

test('retention pruning drops old instances and forgets deleted entities left without history', async () => {
  const old = 'urn:ngsi-ld:Station:old';
  await broker.createEntity(tenant, station(old, 1, '2001-01-01T00:00:00Z'));
  await broker.deleteEntity(tenant, old);
  const kept = 'urn:ngsi-ld:Station:kept';
  await broker.createEntity(tenant, station(kept, 1, '2001-01-01T00:00:00Z'));
  // the deletion itself is an instance of now: prune up to a moment after it
  expect(await pruneHistory(db, new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(3);
  expect(await countRows('SELECT count(*)::int AS n FROM temporal_entities WHERE tenant = $1 AND id = $2', [tenant, old])).toBe(0);
  // an entity that still exists keeps its temporal identity
  expect(await countRows('SELECT count(*)::int AS n FROM temporal_entities WHERE tenant = $1 AND id = $2', [tenant, kept])).toBe(1);
  expect(await countRows('SELECT count(*)::int AS n FROM attribute_instances WHERE tenant = $1 AND entity_id = $2', [tenant, kept])).toBe(0);
});
