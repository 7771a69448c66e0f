import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { ADMIN_KEY, authEnv, bearer, createKey, jwtSigner } from '../helpers/auth';
import { BASE, client, entityUrl, expectStatus, json, type Client } from '../helpers/ngsi';

/**
 * Tenant isolation: a principal bound to tenant A gets 403 for tenant B (and for the default
 * tenant) on every endpoint, reads and writes, single, batch, subscriptions and the contractor
 * API; and data never crosses tenants: same ids, queries, subscription lists, notifications.
 */

let app: FastifyInstance;
let c: Client;
let keyA: string;

const A = 'lanzada';
const B = 'caspoggio';
const ID = 'urn:ngsi-ld:WeatherObserved:shared-id-1';

const weather = (value: number, id = ID) => ({ id, type: 'WeatherObserved', temperature: { type: 'Property', value } });
const asA = (tenant: string | undefined) => ({ ...bearer(keyA), ...(tenant === undefined ? {} : { 'NGSILD-Tenant': tenant }) });
const asAdmin = (tenant: string) => ({ ...bearer(ADMIN_KEY), 'NGSILD-Tenant': tenant });

beforeAll(async () => {
  const jwt = await jwtSigner();
  ({ app } = await openTestApp(authEnv(jwt.jwksFile)));
  c = client(app);
  // everything a non-admin may do, but only in tenant A
  keyA = (await createKey(app, {
    name: 'tenant-a-everything', roles: ['contractor', 'subscriber', 'reader'], tenants: [A], projects: ['*'], entityTypes: ['*'], idPrefixes: ['*'],
  })).key;
  expectStatus(await c.post(`${BASE}/entities`, weather(1), asAdmin(B)), 201);
  expectStatus(await c.post(`${BASE}/entities`, weather(100), asA(A)), 201);
});
afterAll(async () => app?.close());

const subscription = { type: 'Subscription', entities: [{ type: 'WeatherObserved' }], notification: { endpoint: { uri: 'http://notify.example.com/a' } } };

const REQUESTS: [string, string, unknown?][] = [
  ['GET', `${BASE}/entities?type=WeatherObserved`],
  ['GET', entityUrl(ID)],
  ['POST', `${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: 'WeatherObserved' }] }],
  ['GET', `${BASE}/types`],
  ['GET', `${BASE}/attributes`],
  ['POST', `${BASE}/entities`, weather(5, 'urn:ngsi-ld:WeatherObserved:new-1')],
  ['PUT', entityUrl(ID), weather(6)],
  ['PATCH', entityUrl(ID), { temperature: { type: 'Property', value: 7 } }],
  ['POST', entityUrl(ID, '/attrs'), { humidity: { type: 'Property', value: 7 } }],
  ['PATCH', entityUrl(ID, '/attrs'), { temperature: { type: 'Property', value: 7 } }],
  ['PATCH', entityUrl(ID, '/attrs/temperature'), { value: 8 }],
  ['PUT', entityUrl(ID, '/attrs/temperature'), { type: 'Property', value: 8 }],
  ['DELETE', entityUrl(ID, '/attrs/temperature')],
  ['DELETE', entityUrl(ID)],
  ['POST', `${BASE}/entityOperations/create`, [weather(9, 'urn:ngsi-ld:WeatherObserved:new-2')]],
  ['POST', `${BASE}/entityOperations/upsert`, [weather(9)]],
  ['POST', `${BASE}/entityOperations/update`, [weather(9)]],
  ['POST', `${BASE}/entityOperations/merge`, [weather(9)]],
  ['POST', `${BASE}/entityOperations/delete`, [ID]],
  ['GET', `${BASE}/subscriptions`],
  ['POST', `${BASE}/subscriptions`, subscription],
  ['GET', `${BASE}/subscriptions/${encodeURIComponent('urn:ngsi-ld:Subscription:x')}`],
  ['DELETE', `${BASE}/subscriptions/${encodeURIComponent('urn:ngsi-ld:Subscription:x')}`],
  ['POST', '/api/v1/entities/WeatherObserved', [{ id: ID, type: 'WeatherObserved', dateObserved: '2026-11-22T06:00:00Z', temperature: 2 }]],
  ['GET', '/api/v1/devices'],
  ['POST', '/api/v1/measurements', { deviceId: 'wx-1', observedAt: '2026-11-22T06:00:00Z', values: { t: 1 } }],
  ['PATCH', '/api/v1/projects/P-1/progress', { completionPercentage: 10 }],
];

describe('another tenant is 403 on every endpoint', () => {
  test.each(REQUESTS.flatMap(([method, url, body]) => [[method, url, B, body], [method, url, '(default)', body]] as const))(
    '%s %s in tenant %s',
    async (method, url, tenant, body) => {
      const res = await c.inject({
        method: method as 'GET',
        url,
        headers: { ...asA(tenant === '(default)' ? undefined : tenant), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { payload: JSON.stringify(body) } : {}),
      });
      expectStatus(res, 403);
      expect(json(res).detail).toMatch(/may not use tenant/);
    },
  );

  test('nothing changed in tenant B', async () => {
    const e = await c.entity(ID, '', asAdmin(B));
    expect(e.temperature.value).toBe(1);
    expect(e.humidity).toBeUndefined();
    expectStatus(await c.get(entityUrl('urn:ngsi-ld:WeatherObserved:new-1'), asAdmin(B)), 404);
    expect(json(await c.get(`${BASE}/subscriptions`, asAdmin(B)))).toEqual([]);
  });
});

describe('data stays in its tenant', () => {
  test('the same id is two entities; queries see their own tenant only', async () => {
    expect((await c.entity(ID, '', asA(A))).temperature.value).toBe(100);
    expect((await c.entity(ID, '', asAdmin(B))).temperature.value).toBe(1);
    const inA = json(expectStatus(await c.get(`${BASE}/entities?type=WeatherObserved`, asA(A)), 200));
    expect(inA.map((e: { temperature: { value: number } }) => e.temperature.value)).toEqual([100]);
  });

  test('a subscription in tenant A never sees tenant B\'s entity changes', async () => {
    const created = expectStatus(await c.post(`${BASE}/subscriptions`, subscription, asA(A)), 201);
    const subId = decodeURIComponent((created.headers.location as string).split('/').pop()!);
    const outbox = async () =>
      (await app.db.query<{ tenant: string; subscription_id: string; entity_id: string }>(
        'SELECT tenant, subscription_id, entity_id FROM notification_outbox WHERE subscription_id = $1 ORDER BY seq',
        [subId],
      )).rows;
    // changes in B: single write, batch, delete
    expectStatus(await c.patch(entityUrl(ID, '/attrs'), { temperature: { type: 'Property', value: 2 } }, asAdmin(B)), 204);
    expectStatus(await c.post(`${BASE}/entityOperations/upsert`, [weather(3, 'urn:ngsi-ld:WeatherObserved:b-2')], asAdmin(B)), 201);
    expect(await outbox()).toEqual([]);
    // a change in A reaches it
    expectStatus(await c.patch(entityUrl(ID, '/attrs'), { temperature: { type: 'Property', value: 101 } }, asA(A)), 204);
    expect(await outbox()).toEqual([{ tenant: A, subscription_id: subId, entity_id: ID }]);
  });
});
