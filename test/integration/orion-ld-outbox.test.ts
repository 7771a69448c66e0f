/**
 * The ingestion outbox of the Orion-LD backend over real HTTP: instance A (embedded) is the external
 * broker of instance B. Contractors push measurements to B, which answers 202 once they are
 * committed to its outbox, and delivers them to A:
 * - A stopped while 10k measurements arrive, then started again on the same port: every accepted
 *   item reaches A exactly once, in order per entity;
 * - B killed (SIGKILL, a child process) mid-delivery and started again on its store: every item
 *   reaches A, in order per entity (at most the batch in flight at the kill is applied twice:
 *   upserts are idempotent);
 * - an item A refuses for good (4xx) is a dead letter with A's problem; the others are delivered.
 * What A received is recorded by a hook on A's own routes: the upsert bodies it answered 2xx.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/store/db';
import { openTestDb, processStore } from '../helpers/db';
import { call, keptOpen, startInstance, type Instance } from '../helpers/instances';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** per tenant → entity id → temperatures in the order A applied them */
const arrived = new Map<string, Map<string, number[]>>();

function recordUpserts(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || !request.url.startsWith('/ngsi-ld/v1/entityOperations/upsert')) return;
    if (reply.statusCode !== 201 && reply.statusCode !== 204) return;
    const tenant = (request.headers['ngsild-tenant'] as string | undefined) ?? '';
    const byEntity = arrived.get(tenant) ?? new Map<string, number[]>();
    arrived.set(tenant, byEntity);
    for (const e of request.body as Record<string, any>[]) {
      const key = Object.keys(e).find((k) => k.endsWith('/temperature'));
      if (!key) continue;
      const list = byEntity.get(e.id) ?? [];
      list.push(e[key].value);
      byEntity.set(e.id, list);
    }
  });
}

const received = (tenant: string): number => [...(arrived.get(tenant)?.values() ?? [])].reduce((n, l) => n + l.length, 0);

let dbA: Db;
let dbB: Db;
let a: Instance;
let b: Instance;

const startA = async (env: Record<string, string> = {}, port?: number) => {
  a = await startInstance(keptOpen(dbA), { NOTIFY_WORKER: 'off', ...env }, { port, beforeListen: recordUpserts });
};

// fast retries, so that the test does not wait out production backoffs
const fastWorker = { backoff: { baseMs: 50, maxMs: 400 }, breakerCooldownMs: 200, breakerThreshold: 3, pollMs: 100 };

beforeAll(async () => {
  [dbA, dbB] = await Promise.all([openTestDb(), openTestDb()]);
  await startA();
  b = await startInstance(keptOpen(dbB), { BROKER_URL: a.url, BROKER_TIMEOUT_MS: '3000', LOG_LEVEL: process.env.B_LOG ?? 'silent' }, { deps: { ingestionOutbox: { worker: fastWorker } } });
});

afterAll(async () => {
  await b?.app.close();
  await a?.app.close();
  await Promise.all([dbA?.close(), dbB?.close()]);
});

const DEVICES = 100;
const deviceId = (d: number) => `wx-outbox-${String(d).padStart(3, '0')}`;
const observed = (d: number) => `urn:ngsi-ld:WeatherObserved:${deviceId(d)}`;

async function registerDevices(base: string, tenant: string, n: number): Promise<void> {
  for (let d = 0; d < n; d++) {
    const r = await call(base, 'POST', '/api/v1/devices', {
      deviceId: deviceId(d), observedType: 'WeatherObserved', location: { type: 'Point', coordinates: [9.85, 46.26] },
      municipality: '014019', attributes: [{ key: 't', name: 'temperature', unitCode: 'CEL' }],
    }, { 'ngsild-tenant': tenant });
    // queued for the broker, as every contractor write in this mode
    expect(r.status).toBe(202);
  }
}

/** temperature of round k: distinct per round, within the Weather model's range */
const temperature = (k: number) => k / 2 - 20;

/** Measurement k of device d, observed k minutes after midnight (per device in order). */
const measurement = (d: number, k: number) => ({
  deviceId: deviceId(d), observedAt: new Date(Date.UTC(2026, 10, 22) + k * 60_000).toISOString(), values: { t: temperature(k) },
});

/** Pushes rounds [from, to) of every device, `perRequest` measurements per request; returns the ingestion ids. */
async function push(base: string, tenant: string, devices: number, from: number, to: number, perRequest = 500): Promise<string[]> {
  const all: ReturnType<typeof measurement>[] = [];
  for (let k = from; k < to; k++) for (let d = 0; d < devices; d++) all.push(measurement(d, k));
  const ids: string[] = [];
  for (let i = 0; i < all.length; i += perRequest) {
    const r = await call(base, 'POST', '/api/v1/measurements', all.slice(i, i + perRequest), { 'ngsild-tenant': tenant });
    if (r.status !== 202 || r.body.rejected) throw new Error(`push failed: ${r.status} ${JSON.stringify(r.body.items?.filter((x: any) => x.status !== 'accepted').slice(0, 3) ?? r.body)}`);
    expect(r.body).toMatchObject({ accepted: Math.min(perRequest, all.length - i), rejected: 0, ingestionId: expect.stringMatching(/^urn:smartland:ingestion:/) });
    ids.push(r.body.ingestionId);
  }
  return ids;
}

async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const outboxPending = async (base: string): Promise<number> => (await call(base, 'GET', '/health')).body.outbox.pending;

/** Every device's temperatures of rounds 0..rounds-1 arrived in order; with `collapse`, a repeated batch is tolerated. */
function expectAllInOrder(tenant: string, devices: number, rounds: number, collapse: boolean): number {
  const byEntity = arrived.get(tenant)!;
  let repeats = 0;
  const expected = Array.from({ length: rounds }, (_, k) => temperature(k));
  for (let d = 0; d < devices; d++) {
    const got = byEntity.get(observed(d)) ?? [];
    // a redelivered batch repeats what A applied last: the values go back, then forward again
    const seen = collapse ? got.filter((v, i) => got.indexOf(v) === i) : got;
    if (collapse) {
      let max = -Infinity;
      for (const v of got) {
        if (v <= max) repeats++;
        max = Math.max(max, v);
      }
    }
    expect({ entity: observed(d), values: seen }).toEqual({ entity: observed(d), values: expected });
  }
  return repeats;
}

test('A is down while 10k measurements arrive: all delivered once, in order per entity, after A is back', async () => {
  const tenant = 'outage';
  await registerDevices(b.url, tenant, DEVICES);
  const t0 = Date.now();
  const ingestions = await push(b.url, tenant, DEVICES, 0, 20);
  // A goes away while the first items are being delivered and the rest arrive
  await until(() => received(tenant) > 0, 20_000, 'the first deliveries');
  await a.app.close();
  const more = await push(b.url, tenant, DEVICES, 20, 100);
  const health = await call(b.url, 'GET', '/health');
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({ status: 'degraded', broker: { url: a.url, reachable: false }, outbox: { failed: 0 } });
  expect(health.body.outbox.pending).toBeGreaterThan(0);
  // nothing can arrive while A is down
  const before = received(tenant);
  await sleep(500);
  expect(received(tenant)).toBe(before);

  await startA({}, a.port);
  await until(async () => (await outboxPending(b.url)) === 0, 60_000, 'the outbox to drain');
  expect(expectAllInOrder(tenant, DEVICES, 100, false)).toBe(0);
  expect(received(tenant)).toBe(10_000);
  // A's state is the last measurement of every device
  const last = await call(a.url, 'GET', `/ngsi-ld/v1/entities?type=WeatherObserved&limit=1000&options=keyValues`, undefined, {
    'ngsild-tenant': tenant, link: '<https://smart-data-models.github.io/dataModel.Weather/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
  });
  expect(last.body).toHaveLength(DEVICES);
  for (const e of last.body) expect(e.temperature).toBe(temperature(99));
  // the ingestion status shows every item delivered
  const status = await call(b.url, 'GET', `/api/v1/ingestions/${encodeURIComponent(more[3])}?limit=2`, undefined, { 'ngsild-tenant': tenant });
  expect(status.status).toBe(200);
  expect(status.body).toMatchObject({ id: more[3], total: 500, pending: 0, delivered: 500, failed: 0 });
  expect(status.body.items).toHaveLength(2);
  expect(status.body.items[0]).toMatchObject({ position: 0, status: 'delivered', entityId: expect.stringMatching(/^urn:ngsi-ld:WeatherObserved:/) });
  // ingestions are per tenant
  expect((await call(b.url, 'GET', `/api/v1/ingestions/${encodeURIComponent(ingestions[0])}`, undefined, { 'ngsild-tenant': 'other' })).status).toBe(404);
  expect((await call(b.url, 'GET', '/health')).body).toMatchObject({ status: 'ok', broker: { reachable: true }, outbox: { pending: 0 } });
  expect(Date.now() - t0).toBeLessThan(90_000);
});

test('an item the broker refuses for good is a dead letter with its problem; the others are delivered', async () => {
  const tenant = 'deadletter';
  // A takes small bodies only: one big item is refused (413), the batch it was in is retried entity by entity
  await a.app.close();
  await startA({ BODY_LIMIT: '20000' }, a.port);
  try {
    const item = (n: number, extra: Record<string, unknown> = {}) => ({
      id: `urn:ngsi-ld:WeatherObserved:dl-${n}`, type: 'WeatherObserved', dateObserved: '2026-11-22T06:00:00Z', temperature: n,
      location: { type: 'Point', coordinates: [9.85, 46.26] }, ...extra,
    });
    const r = await call(b.url, 'POST', '/api/v1/entities/WeatherObserved', [item(1), item(2, { name: 'x'.repeat(30_000) }), item(3)], { 'ngsild-tenant': tenant });
    expect(r.status).toBe(202);
    const id = r.body.ingestionId;
    let status: any;
    await until(async () => {
      status = (await call(b.url, 'GET', `/api/v1/ingestions/${encodeURIComponent(id)}`, undefined, { 'ngsild-tenant': tenant })).body;
      return status.pending === 0;
    }, 30_000, 'the ingestion to finish');
    expect(status).toMatchObject({ total: 3, delivered: 2, failed: 1 });
    const refused = status.items.find((i: any) => i.status === 'failed');
    expect(refused).toMatchObject({ entityId: 'urn:ngsi-ld:WeatherObserved:dl-2', error: { status: 413, detail: expect.stringMatching(/larger than the configured limit/) } });
    const dead = await call(b.url, 'GET', '/api/v1/dead-letters', undefined, { 'ngsild-tenant': tenant });
    expect(dead.status).toBe(200);
    expect(dead.body).toEqual({
      count: 1,
      items: [{ ingestionId: id, position: 1, entityId: 'urn:ngsi-ld:WeatherObserved:dl-2', failedAt: expect.any(String), attempts: 1, error: refused.error }],
    });
    expect((await call(b.url, 'GET', '/health')).body.outbox).toEqual({ pending: 0, failed: 1 });
    expect(received(tenant)).toBe(2);
    // past the retention, delivered items and their ingestion are forgotten; the dead letter stays
    expect(await b.app.ingestionOutbox!.prune(new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(2);
    expect((await call(b.url, 'GET', `/api/v1/ingestions/${encodeURIComponent(id)}`, undefined, { 'ngsild-tenant': tenant })).body)
      .toMatchObject({ total: 1, delivered: 0, failed: 1 });
    expect((await call(b.url, 'GET', '/api/v1/dead-letters', undefined, { 'ngsild-tenant': tenant })).body.count).toBe(1);
  } finally {
    await a.app.close();
    await startA({}, a.port);
  }
});

test('two replicas share one outbox: every item delivered once, in order per entity', async () => {
  const tenant = 'replicas';
  const devices = 40;
  const rounds = 50;
  const b2 = await startInstance(keptOpen(dbB), { BROKER_URL: a.url }, { deps: { ingestionOutbox: { worker: { ...fastWorker, maxEntities: 10, perEntity: 5 } } } });
  try {
    await registerDevices(b.url, tenant, devices);
    // requests alternate between the replicas; the outbox keeps them in the order they were accepted
    for (let k = 0; k < rounds; k += 5) await push(k % 10 ? b2.url : b.url, tenant, devices, k, k + 5, 200);
    await until(async () => (await outboxPending(b.url)) === 0, 60_000, 'the outbox to drain');
    expect(expectAllInOrder(tenant, devices, rounds, false)).toBe(0);
    expect(received(tenant)).toBe(devices * rounds);
  } finally {
    await b2.app.close();
  }
});

test('in embedded mode contractor writes are answered directly, and there are no ingestions', async () => {
  const r = await call(a.url, 'POST', '/api/v1/entities/WeatherObserved', {
    id: 'urn:ngsi-ld:WeatherObserved:direct', dateObserved: '2026-11-22T06:00:00Z', temperature: 1, location: { type: 'Point', coordinates: [9.85, 46.26] },
  });
  expect(r.status).toBe(200);
  expect(r.body.ingestionId).toBeUndefined();
  expect((await call(a.url, 'GET', '/api/v1/ingestions/x')).status).toBe(404);
  expect((await call(a.url, 'GET', '/health')).body).toEqual({ status: 'ok', store: dbA.kind });
});

describe('B killed mid-delivery', () => {
  const store = processStore('orion-kill');
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    await service?.kill();
    await store.remove();
  });

  test('SIGKILL while delivering, start again on the same store: every item arrives, in order per entity', async () => {
    const tenant = 'killed';
    const devices = 50;
    const rounds = 100;
    const env = { ...store.env, AUTH: 'off', BROKER_URL: a.url, OUTBOX_LEASE_SECONDS: '2' };
    service = await startServiceProcess({ ...env, LOG_LEVEL: 'info' });
    await registerDevices(service.url, tenant, devices);
    await push(service.url, tenant, devices, 0, rounds);
    // kill it once deliveries are under way, not done
    await until(() => received(tenant) >= 1000, 60_000, 'deliveries to start');
    await service.kill();
    const atKill = received(tenant);
    expect(atKill).toBeLessThan(devices * rounds);

    service = await startServiceProcess({ ...env, LOG_LEVEL: 'info' });
    await until(async () => (await outboxPending(service!.url)) === 0, 60_000, 'the outbox to drain after the restart');
    const repeats = expectAllInOrder(tenant, devices, rounds, true);
    // at most the layer in flight (one item per entity) was applied twice
    expect(repeats).toBeLessThanOrEqual(devices);
    expect(received(tenant)).toBe(devices * rounds + repeats);
  });
});
