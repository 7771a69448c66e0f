/**
 * Authorisation holds with the Orion-LD backend too: it is enforced in the facade, before the
 * broker. Instance A is this service in embedded mode (the external NGSI-LD broker); instance B
 * forwards to A (BROKER_URL) with authentication on. What B refuses never reaches A.
 */
import type { Db } from '../../src/store/db';
import { openTestDb } from '../helpers/db';
import { call, keptOpen, startInstance, type Instance } from '../helpers/instances';
import { ADMIN_KEY, bearer } from '../helpers/auth';

let dbA: Db;
let dbB: Db;
let a: Instance;
let b: Instance;
let contractor: string;
let subscriber: string;
let otherSubscriber: string;

const T = 'valley';
const PREFIX = 'urn:ngsi-ld:WeatherObserved:lanzada-';
const E = '/ngsi-ld/v1/entities';
const eUrl = (id: string, rest = '') => `${E}/${encodeURIComponent(id)}${rest}`;
const as = (key: string, tenant = T) => ({ ...bearer(key), 'ngsild-tenant': tenant });

async function key(grant: Record<string, unknown>): Promise<string> {
  const res = await call(b.url, 'POST', '/api/v1/admin/keys', grant, bearer(ADMIN_KEY));
  expect(res.status).toBe(201);
  return res.body.key;
}

beforeAll(async () => {
  [dbA, dbB] = await Promise.all([openTestDb(), openTestDb()]);
  a = await startInstance(keptOpen(dbA));
  b = await startInstance(keptOpen(dbB), { BROKER_URL: a.url, AUTH: 'on', ADMIN_API_KEY: ADMIN_KEY, NOTIFY_WORKER: 'off' });
  contractor = await key({ name: 'orion-contractor', roles: ['contractor'], tenants: [T], entityTypes: ['WeatherObserved'], idPrefixes: [PREFIX] });
  subscriber = await key({ name: 'orion-subscriber', roles: ['subscriber'], tenants: [T] });
  otherSubscriber = await key({ name: 'orion-other', roles: ['subscriber'], tenants: [T] });
});

afterAll(async () => {
  await b?.app.close();
  await a?.app.close();
  await Promise.all([dbA?.close(), dbB?.close()]);
});

const weather = (id: string) => ({ id, type: 'WeatherObserved', temperature: { type: 'Property', value: 2 } });
const onA = async (id: string) => (await call(a.url, 'GET', eUrl(id), undefined, { 'ngsild-tenant': T })).status;

test('contractor writes outside its scope are refused by B and never reach A', async () => {
  expect((await call(b.url, 'POST', E, weather(`${PREFIX}1`), as(contractor))).status).toBe(201);
  expect(await onA(`${PREFIX}1`)).toBe(200);
  expect((await call(b.url, 'POST', E, weather('urn:ngsi-ld:WeatherObserved:chiesa-1'), as(contractor))).status).toBe(403);
  expect(await onA('urn:ngsi-ld:WeatherObserved:chiesa-1')).toBe(404);

  // a stored entity of another type, with an allowed id: its type is read from the broker
  const lamp = `${PREFIX}lamp`;
  expect((await call(b.url, 'POST', E, { id: lamp, type: 'Streetlight', powerState: { type: 'Property', value: 'on' } }, as(ADMIN_KEY))).status).toBe(201);
  expect((await call(b.url, 'PATCH', eUrl(lamp, '/attrs'), { powerState: { type: 'Property', value: 'off' } }, as(contractor))).status).toBe(403);
  expect((await call(b.url, 'DELETE', eUrl(lamp), undefined, as(contractor))).status).toBe(403);
  expect(await onA(lamp)).toBe(200);

  const batch = await call(b.url, 'POST', '/ngsi-ld/v1/entityOperations/upsert', [weather(`${PREFIX}2`), weather('urn:ngsi-ld:WeatherObserved:spriana-2')], as(contractor));
  expect(batch.status).toBe(207);
  expect(batch.body.success).toEqual([`${PREFIX}2`]);
  expect(batch.body.errors).toEqual([{ entityId: 'urn:ngsi-ld:WeatherObserved:spriana-2', error: expect.objectContaining({ status: 403 }) }]);
  expect(await onA(`${PREFIX}2`)).toBe(200);
  expect(await onA('urn:ngsi-ld:WeatherObserved:spriana-2')).toBe(404);
});

test('another tenant is 403 at B', async () => {
  expect((await call(b.url, 'GET', `${E}?type=WeatherObserved`, undefined, as(contractor, 'elsewhere'))).status).toBe(403);
  expect((await call(b.url, 'POST', E, weather(`${PREFIX}3`), as(contractor, 'elsewhere'))).status).toBe(403);
});

test('subscriptions held by A belong to their creator at B', async () => {
  const sub = { type: 'Subscription', entities: [{ type: 'WeatherObserved' }], notification: { endpoint: { uri: 'http://notify.example.com/x' } } };
  const created = await call(b.url, 'POST', '/ngsi-ld/v1/subscriptions', sub, as(subscriber));
  expect(created.status).toBe(201);
  const url = created.headers.get('location')!;
  expect((await call(b.url, 'GET', url, undefined, as(subscriber))).status).toBe(200);
  expect((await call(b.url, 'GET', url, undefined, as(otherSubscriber))).status).toBe(404);
  expect((await call(b.url, 'DELETE', url, undefined, as(otherSubscriber))).status).toBe(404);
  const listed = await call(b.url, 'GET', '/ngsi-ld/v1/subscriptions', undefined, as(otherSubscriber));
  expect(listed.body).toEqual([]);
  // A holds it (the broker), B only knows who owns it
  expect((await call(a.url, 'GET', url, undefined, { 'ngsild-tenant': T })).status).toBe(200);
  expect((await call(b.url, 'DELETE', url, undefined, as(subscriber))).status).toBe(204);
  expect((await call(a.url, 'GET', url, undefined, { 'ngsild-tenant': T })).status).toBe(404);
});
