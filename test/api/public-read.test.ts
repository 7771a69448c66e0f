import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { ADMIN_KEY, authEnv, bearer, jwtSigner } from '../helpers/auth';
import { BASE, client, entityUrl, expectStatus, json, uid, type Client } from '../helpers/ngsi';

/** PUBLIC_READ_TENANTS: anonymous reads of the listed tenants (the dashboard for citizens); nothing else opens. */

let app: FastifyInstance;
let c: Client;
const id = uid('WeatherObserved');

beforeAll(async () => {
  ({ app } = await openTestApp(authEnv((await jwtSigner()).jwksFile, { PUBLIC_READ_TENANTS: 'default' })));
  c = client(app);
  expectStatus(await c.post(`${BASE}/entities`, { id, type: 'WeatherObserved', temperature: 4 }, bearer(ADMIN_KEY)), 201);
  expectStatus(await c.post(`${BASE}/entities`, { id, type: 'WeatherObserved', temperature: 5 }, { ...bearer(ADMIN_KEY), 'NGSILD-Tenant': 'closed' }), 201);
});
afterAll(async () => app?.close());

test('reads of a public tenant need no credentials', async () => {
  expect(json(expectStatus(await c.get(entityUrl(id, '?options=keyValues')), 200)).temperature).toBe(4);
  expect(json(expectStatus(await c.get(`${BASE}/entities?type=WeatherObserved`), 200)).length).toBe(1);
  expectStatus(await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: 'WeatherObserved' }] }), 200);
});

test('writes, other tenants, admin routes and bad credentials are not opened', async () => {
  expectStatus(await c.post(`${BASE}/entities`, { id: uid('WeatherObserved'), type: 'WeatherObserved' }), 401);
  expectStatus(await c.del(entityUrl(id)), 401);
  expectStatus(await c.get(entityUrl(id), { 'NGSILD-Tenant': 'closed' }), 401);
  expectStatus(await c.get('/api/v1/audit'), 401);
  expectStatus(await c.get(entityUrl(id), bearer('not-a-key')), 401);
});
