/**
 * Contractor writes of the Orion-LD backend while the broker is down, over real HTTP: instance A
 * (embedded) is the external broker of instance B (BROKER_URL = A, authentication on). Device
 * registrations and a contractor key restricted to entity types are accepted by B while A is
 * stopped (202, committed to B's outbox) and reach A once it is back; what the key may not write
 * is still refused, at once when B can tell, or at delivery (a 403 dead letter) when only the
 * broker could.
 */
import type { Db } from '../../src/store/db';
import { openTestDb } from '../helpers/db';
import { call, keptOpen, startInstance, type Instance } from '../helpers/instances';
import { ADMIN_KEY, bearer } from '../helpers/auth';
import { linkHeader } from '../helpers/app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dbA: Db;
let dbB: Db;
let a: Instance;
let b: Instance;
let contractor: string;

const T = 'valley';
const E = '/ngsi-ld/v1/entities';
const eUrl = (id: string) => `${E}/${encodeURIComponent(id)}`;
const as = (key: string) => ({ ...bearer(key), 'ngsild-tenant': T });
const DEVICE_CTX = 'https://smart-data-models.github.io/dataModel.Device/context.jsonld';
const WEATHER_CTX = 'https://smart-data-models.github.io/dataModel.Weather/context.jsonld';

const startA = async (port?: number) => {
  a = await startInstance(keptOpen(dbA), { NOTIFY_WORKER: 'off' }, { port });
};

beforeAll(async () => {
  [dbA, dbB] = await Promise.all([openTestDb(), openTestDb()]);
  await startA();
  b = await startInstance(
    keptOpen(dbB),
    { BROKER_URL: a.url, BROKER_TIMEOUT_MS: '2000', AUTH: 'on', ADMIN_API_KEY: ADMIN_KEY, NOTIFY_WORKER: 'off' },
    { deps: { ingestionOutbox: { worker: { backoff: { baseMs: 50, maxMs: 400 }, breakerCooldownMs: 200, breakerThreshold: 3, pollMs: 100 } } } },
  );
  const res = await call(b.url, 'POST', '/api/v1/admin/keys', {
    name: 'lanzada-contractor', roles: ['contractor'], tenants: [T], entityTypes: ['WeatherObserved', 'Device'],
    idPrefixes: ['urn:ngsi-ld:WeatherObserved:lanzada-', 'urn:ngsi-ld:Device:lanzada-'],
  }, bearer(ADMIN_KEY));
  expect(res.status).toBe(201);
  contractor = res.body.key;
});

afterAll(async () => {
  await b?.app.close();
  await a?.app.close();
  await Promise.all([dbA?.close(), dbB?.close()]);
});

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A stopped for the duration of `during`, then started again on its port; returns after B's outbox drained. */
async function outage(during: () => Promise<void>): Promise<void> {
  await a.app.close();
  await during();
  expect((await call(b.url, 'GET', '/health')).body).toMatchObject({ status: 'degraded', broker: { reachable: false } });
  await startA(a.port);
  await until(async () => (await call(b.url, 'GET', '/health')).body.outbox.pending === 0, 30_000, 'the outbox to drain');
}

const onA = (id: string, ctx: string) =>
  call(a.url, 'GET', `${eUrl(id)}?options=keyValues`, undefined, { 'ngsild-tenant': T, link: linkHeader(ctx) });

const ingestion = async (id: string) =>
  (await call(b.url, 'GET', `/api/v1/ingestions/${encodeURIComponent(id)}`, undefined, as(contractor))).body;

const registration = (deviceId: string, extra: Record<string, unknown> = {}) => ({
  deviceId, observedType: 'WeatherObserved', location: { type: 'Point', coordinates: [9.87, 46.27] }, municipality: '014035',
  attributes: [{ key: 't', name: 'temperature', unitCode: 'CEL' }], ...extra,
});

test('devices registered, replaced and deleted while the broker is down are accepted (202) and reach it in order', async () => {
  const kept = 'lanzada-wx-1';
  const dropped = 'lanzada-wx-2';
  const answers: Record<string, any> = {};
  await outage(async () => {
    const registered = await call(b.url, 'POST', '/api/v1/devices', registration(kept, { serialNumber: 'SN-1' }), as(contractor));
    expect(registered.status).toBe(202);
    expect(registered.headers.get('location')).toBe(`/api/v1/devices/${kept}`);
    expect(registered.body).toMatchObject({ deviceId: kept, entityId: `urn:ngsi-ld:Device:${kept}`, ingestionId: expect.stringMatching(/^urn:smartland:ingestion:/) });
    answers.registered = registered.body;
    // the registration is ours: readable at once, and measurements of the device are accepted
    expect((await call(b.url, 'GET', `/api/v1/devices/${kept}`, undefined, as(contractor))).body.registration).toMatchObject({ serialNumber: 'SN-1' });
    const replaced = await call(b.url, 'PUT', `/api/v1/devices/${kept}`, registration(kept, { name: 'Lanzada weather station' }), as(contractor));
    expect(replaced.status).toBe(202);
    answers.replaced = replaced.body;
    const measured = await call(b.url, 'POST', '/api/v1/measurements', { deviceId: kept, observedAt: '2026-11-22T06:00:00Z', values: { t: -4.5 } }, as(contractor));
    expect(measured.status).toBe(202);
    expect(measured.body).toMatchObject({ accepted: 1, rejected: 0 });

    expect((await call(b.url, 'POST', '/api/v1/devices', registration(dropped), as(contractor))).status).toBe(202);
    const deleted = await call(b.url, 'DELETE', `/api/v1/devices/${dropped}`, undefined, as(contractor));
    expect(deleted.status).toBe(202);
    expect(deleted.body).toEqual({ ingestionId: expect.stringMatching(/^urn:smartland:ingestion:/) });
    answers.deleted = deleted.body;
    expect((await call(b.url, 'GET', `/api/v1/devices/${dropped}`, undefined, as(contractor))).status).toBe(404);
    expect(await ingestion(answers.registered.ingestionId)).toMatchObject({ total: 1, pending: 1 });
  });

  for (const id of [answers.registered.ingestionId, answers.replaced.ingestionId, answers.deleted.ingestionId]) {
    expect(await ingestion(id)).toMatchObject({ total: 1, delivered: 1, failed: 0 });
  }
  // the replacement is the Device entity (its serial number gone with the registration that had it)
  const device = await onA(`urn:ngsi-ld:Device:${kept}`, DEVICE_CTX);
  expect(device.status).toBe(200);
  expect(device.body).toMatchObject({ type: 'Device', name: 'Lanzada weather station', controlledProperty: ['temperature'] });
  expect(device.body.serialNumber).toBeUndefined();
  expect((await onA(`urn:ngsi-ld:WeatherObserved:${kept}`, WEATHER_CTX)).body).toMatchObject({ temperature: -4.5, refDevice: `urn:ngsi-ld:Device:${kept}` });
  // created, then deleted: in that order
  expect((await onA(`urn:ngsi-ld:Device:${dropped}`, DEVICE_CTX)).status).toBe(404);
});

test('a key restricted to entity types writes while the broker is down; what it may not write never reaches the broker', async () => {
  // an entity with an id the key may write, but of a type it may not: only the broker knows its type
  const lamp = 'urn:ngsi-ld:WeatherObserved:lanzada-lamp';
  const admin = await call(b.url, 'POST', E, { id: lamp, type: 'Streetlight', powerState: { type: 'Property', value: 'on' } }, as(ADMIN_KEY));
  expect(admin.status).toBe(201);
  const item = (id: string, temperature: number) => ({
    id, dateObserved: '2026-11-22T06:00:00Z', temperature, location: { type: 'Point', coordinates: [9.87, 46.27] },
  });
  const fresh = 'urn:ngsi-ld:WeatherObserved:lanzada-new';
  const outside = 'urn:ngsi-ld:WeatherObserved:chiesa-1';

  // while A is up, B refuses the lamp at once (it asks A for the stored type)
  const atOnce = await call(b.url, 'POST', '/api/v1/entities/WeatherObserved', [item(lamp, 1)], as(contractor));
  expect(atOnce.status).toBe(422);
  expect(atOnce.body.items[0].errors[0].reason).toMatch(/may not write entities of type .*Streetlight/);

  let accepted: any;
  await outage(async () => {
    accepted = await call(b.url, 'POST', '/api/v1/entities/WeatherObserved', [item(fresh, 2), item(lamp, 3), item(outside, 4)], as(contractor));
    // the id prefix is checked here; the stored type of the lamp waits for the broker
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(accepted.body.items[2]).toMatchObject({ status: 'rejected', errors: [{ pointer: '/', reason: expect.stringMatching(/allowed prefixes/) }] });
  });

  const status = await ingestion(accepted.body.ingestionId);
  expect(status).toMatchObject({ total: 2, delivered: 1, failed: 1 });
  expect(status.items).toEqual([
    expect.objectContaining({ entityId: fresh, status: 'delivered' }),
    expect.objectContaining({ entityId: lamp, status: 'failed', error: expect.objectContaining({ status: 403, detail: expect.stringMatching(/may not write entities of type .*Streetlight/) }) }),
  ]);
  const dead = await call(b.url, 'GET', '/api/v1/dead-letters', undefined, as(ADMIN_KEY));
  expect(dead.body.items).toEqual([expect.objectContaining({ entityId: lamp, error: expect.objectContaining({ status: 403 }) })]);
  expect((await onA(fresh, WEATHER_CTX)).body).toMatchObject({ type: 'WeatherObserved', temperature: 2 });
  // the lamp is as the admin left it; the outside id never reached A
  expect((await call(a.url, 'GET', eUrl(lamp), undefined, { 'ngsild-tenant': T })).body).toEqual({
    id: lamp, type: 'Streetlight', powerState: { type: 'Property', value: 'on' },
  });
  expect((await call(a.url, 'GET', eUrl(outside), undefined, { 'ngsild-tenant': T })).status).toBe(404);
});
