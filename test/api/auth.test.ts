import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { ADMIN_KEY, authEnv, bearer, createKey, jwtSigner, type JwtSigner } from '../helpers/auth';
import { BASE, client, entityUrl, expectStatus, json, uid, type Client, type Res } from '../helpers/ngsi';
import { loadConfig } from '../../src/config';

/**
 * Authentication (API keys, bearer JWTs) and authorisation (roles, contractor scope, subscription
 * ownership) on /ngsi-ld/v1 and /api/v1, through the real app and store.
 */

let app: FastifyInstance;
let c: Client;
let jwt: JwtSigner;
const keys: Record<string, string> = {};

const TENANT = 'valley';
const LANZADA = 'urn:ngsi-ld:WeatherObserved:lanzada-';
const PROJECT = 'P-LANZADA-01';

beforeAll(async () => {
  jwt = await jwtSigner();
  ({ app } = await openTestApp(authEnv(jwt.jwksFile)));
  c = client(app);
  keys.admin = ADMIN_KEY;
  keys.contractor = (await createKey(app, {
    name: 'lanzada-weather-contractor', roles: ['contractor'], tenants: [TENANT],
    entityTypes: ['WeatherObserved', 'Project', 'KeyPerformanceIndicator', 'Action'], idPrefixes: [LANZADA, 'urn:ngsi-ld:Project:P-LANZADA', 'urn:ngsi-ld:KeyPerformanceIndicator:', 'urn:ngsi-ld:Action:'], projects: [PROJECT],
  })).key;
  keys.subscriber = (await createKey(app, { name: 'sondrio-platform', roles: ['subscriber'], tenants: [TENANT] })).key;
  keys.reader = (await createKey(app, { name: 'integrator', roles: ['reader'], tenants: [TENANT] })).key;
  // the tenant exists (reads of unknown tenants are 404 NonexistentTenant, which is not what these tests are about)
  expectStatus(await c.post(`${BASE}/entities`, weather(), { ...bearer(ADMIN_KEY), 'NGSILD-Tenant': TENANT }), 201);
});
afterAll(async () => app?.close());

function weather(id = uid('WeatherObserved').replace('urn:ngsi-ld:WeatherObserved:', LANZADA), extra: Record<string, unknown> = {}) {
  return { id, type: 'WeatherObserved', temperature: { type: 'Property', value: 3.5 }, ...extra };
}

function expectAuthProblem(res: Res, status: 401 | 403): Record<string, unknown> {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(res);
  expect(body).toEqual(expect.objectContaining({ type: `urn:smartland:errors:${status === 401 ? 'Unauthorized' : 'Forbidden'}`, status, detail: expect.any(String) }));
  if (status === 401) expect(res.headers['www-authenticate']).toBe('Bearer realm="smartland"');
  return body;
}

type Who = 'admin' | 'contractor' | 'subscriber' | 'reader' | 'nobody';
const WHO: Who[] = ['admin', 'contractor', 'subscriber', 'reader', 'nobody'];

interface Row {
  what: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: () => string;
  body?: () => unknown;
  contentType?: string;
  allowed: Who[];
}

const subscription = () => ({ type: 'Subscription', entities: [{ type: 'WeatherObserved' }], notification: { endpoint: { uri: 'http://notify.example.com/x' } } });
const kvWeather = () => ({ id: uid('WeatherObserved').replace('urn:ngsi-ld:WeatherObserved:', LANZADA), type: 'WeatherObserved', dateObserved: '2026-11-22T06:00:00Z', temperature: 1.5, location: { type: 'Point', coordinates: [9.87, 46.27] } });

// every kind of route; "allowed" means the request got past authentication and authorisation
const TABLE: Row[] = [
  { what: 'query entities', method: 'GET', url: () => `${BASE}/entities?type=WeatherObserved`, allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'POST query', method: 'POST', url: () => `${BASE}/entityOperations/query`, body: () => ({ type: 'Query', entities: [{ type: 'WeatherObserved' }] }), allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'types', method: 'GET', url: () => `${BASE}/types`, allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'create entity', method: 'POST', url: () => `${BASE}/entities`, body: () => weather(), allowed: ['admin', 'contractor'] },
  { what: 'replace entity', method: 'PUT', url: () => entityUrl(`${LANZADA}put`), body: () => weather(`${LANZADA}put`), allowed: ['admin', 'contractor'] },
  { what: 'append attrs', method: 'POST', url: () => entityUrl(`${LANZADA}put`, '/attrs'), body: () => ({ humidity: { type: 'Property', value: 80 } }), allowed: ['admin', 'contractor'] },
  { what: 'delete entity', method: 'DELETE', url: () => entityUrl(`${LANZADA}gone`), allowed: ['admin', 'contractor'] },
  { what: 'batch upsert', method: 'POST', url: () => `${BASE}/entityOperations/upsert`, body: () => [weather()], allowed: ['admin', 'contractor'] },
  { what: 'batch delete', method: 'POST', url: () => `${BASE}/entityOperations/delete`, body: () => [`${LANZADA}none`], allowed: ['admin', 'contractor'] },
  { what: 'create subscription', method: 'POST', url: () => `${BASE}/subscriptions`, body: subscription, allowed: ['admin', 'subscriber'] },
  { what: 'list subscriptions', method: 'GET', url: () => `${BASE}/subscriptions`, allowed: ['admin', 'subscriber'] },
  { what: 'add a @context', method: 'POST', url: () => `${BASE}/jsonldContexts`, body: () => ({ '@context': { a: 'https://example.org/a' } }), allowed: ['admin'] },
  { what: 'list @contexts', method: 'GET', url: () => `${BASE}/jsonldContexts`, allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'contractor ingest', method: 'POST', url: () => '/api/v1/entities/WeatherObserved', body: () => [kvWeather()], allowed: ['admin', 'contractor'] },
  { what: 'contractor types', method: 'GET', url: () => '/api/v1/types', allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'list devices', method: 'GET', url: () => '/api/v1/devices', allowed: ['admin', 'contractor', 'subscriber', 'reader'] },
  { what: 'project progress', method: 'PATCH', url: () => `/api/v1/projects/${PROJECT}/progress`, body: () => ({ completionPercentage: 40 }), allowed: ['admin', 'contractor'] },
  { what: 'list API keys', method: 'GET', url: () => '/api/v1/admin/keys', allowed: ['admin'] },
  { what: 'create API key', method: 'POST', url: () => '/api/v1/admin/keys', body: () => ({ name: 'x', roles: ['reader'], tenants: [TENANT] }), allowed: ['admin'] },
  { what: 'audit trail', method: 'GET', url: () => '/api/v1/audit', allowed: ['admin'] },
];

const send = (row: Row, who: Who, headers: Record<string, string> = {}) =>
  c.inject({
    method: row.method,
    url: row.url(),
    headers: { 'NGSILD-Tenant': TENANT, ...(who === 'nobody' ? {} : bearer(keys[who])), ...(row.body ? { 'content-type': row.contentType ?? 'application/json' } : {}), ...headers },
    ...(row.body ? { payload: JSON.stringify(row.body()) } : {}),
  });

describe('role × endpoint', () => {
  const cases = TABLE.flatMap((row) => WHO.map((who) => [row.what, row.method, who, row] as const));
  test.each(cases)('%s (%s) as %s', async (_what, _method, who, row) => {
    const res = await send(row, who);
    if (who === 'nobody') expectAuthProblem(res, 401);
    else if (row.allowed.includes(who)) expect([401, 403]).not.toContain(res.statusCode);
    else expectAuthProblem(res, 403);
  });

  test('public routes need no credentials', async () => {
    expectStatus(await c.get('/health'), 200);
    expectStatus(await c.get('/contexts/smartland.jsonld'), 200);
  });
});

describe('API keys', () => {
  test('missing, malformed and unknown credentials are 401', async () => {
    const url = `${BASE}/entities?type=WeatherObserved`;
    expect(expectAuthProblem(await c.get(url, { 'NGSILD-Tenant': TENANT }), 401).detail).toMatch(/authentication required/);
    expectAuthProblem(await c.get(url, { 'NGSILD-Tenant': TENANT, authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 401);
    expectAuthProblem(await c.get(url, { 'NGSILD-Tenant': TENANT, ...bearer('slk_' + 'A'.repeat(43)) }), 401);
  });

  test('a key is shown once, listed without it, and revoked keys are refused at once', async () => {
    const res = await c.post('/api/v1/admin/keys', { name: 'temporary', roles: ['reader'], tenants: [TENANT] }, bearer(ADMIN_KEY));
    const created = json(expectStatus(res, 201));
    expect(created.key).toMatch(/^slk_[A-Za-z0-9_-]{43}$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const listed = json(expectStatus(await c.get('/api/v1/admin/keys', bearer(ADMIN_KEY)), 200)) as Record<string, unknown>[];
    const mine = listed.find((k) => k.id === created.id)!;
    expect(mine).toEqual(expect.objectContaining({ name: 'temporary', roles: ['reader'], tenants: [TENANT] }));
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const { rows } = await app.db.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [created.id]);
    expect(rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);

    const url = `${BASE}/entities?type=WeatherObserved`;
    expectStatus(await c.get(url, { 'NGSILD-Tenant': TENANT, ...bearer(created.key) }), 200);
    expectStatus(await c.del(`/api/v1/admin/keys/${created.id}`, bearer(ADMIN_KEY)), 204);
    expect(expectAuthProblem(await c.get(url, { 'NGSILD-Tenant': TENANT, ...bearer(created.key) }), 401).detail).toMatch(/revoked/);
    expectStatus(await c.del(`/api/v1/admin/keys/${created.id}`, bearer(ADMIN_KEY)), 404);
    const all = json(await c.get('/api/v1/admin/keys?includeRevoked=true', bearer(ADMIN_KEY))) as Record<string, unknown>[];
    expect(all.find((k) => k.id === created.id)?.revokedAt).toEqual(expect.any(String));
  });

  test('an expired key is refused', async () => {
    const { key } = await createKey(app, { name: 'expired', roles: ['reader'], tenants: [TENANT], expiresAt: '2020-01-01T00:00:00Z' });
    expectAuthProblem(await c.get(`${BASE}/types`, { 'NGSILD-Tenant': TENANT, ...bearer(key) }), 401);
  });

  test('grants are validated', async () => {
    for (const grant of [{ name: 'x', roles: ['root'], tenants: [TENANT] }, { name: 'x', roles: ['reader'], tenants: [] }, { roles: ['reader'], tenants: [TENANT] }]) {
      expect(expectStatus(await c.post('/api/v1/admin/keys', grant, bearer(ADMIN_KEY)), 400).statusCode).toBe(400);
    }
  });
});

describe('bearer JWTs', () => {
  const url = `${BASE}/entities?type=WeatherObserved`;
  const claims = { sub: 'integrator-7', roles: ['reader'], tenants: [TENANT] };
  const get = (token: string) => c.get(url, { 'NGSILD-Tenant': TENANT, ...bearer(token) });

  test('a valid token of the issuer for the audience maps its claims to the principal', async () => {
    expectStatus(await get(await jwt.sign(claims)), 200);
    // roles from the token: a reader may not write
    const token = await jwt.sign(claims);
    expectAuthProblem(await c.post(`${BASE}/entities`, weather(), { 'NGSILD-Tenant': TENANT, ...bearer(token) }), 403);
    // a contractor token with its scope as space-separated claims
    const contractor = await jwt.sign({ sub: 'c-9', roles: 'contractor', tenants: TENANT, entity_types: 'WeatherObserved', id_prefixes: LANZADA });
    expectStatus(await c.post(`${BASE}/entities`, weather(), { 'NGSILD-Tenant': TENANT, ...bearer(contractor) }), 201);
  });

  test.each<[string, (s: JwtSigner) => Promise<string>, RegExp]>([
    ['expired', (s) => s.sign(claims, { expiresAt: Math.floor(Date.now() / 1000) - 120 }), /expired/],
    ['wrong audience', (s) => s.sign(claims, { audience: 'another-service' }), /aud/],
    ['wrong issuer', (s) => s.sign(claims, { issuer: 'https://evil.example/' }), /iss/],
    ['signed by another key', (s) => s.sign(claims, { otherKey: true }), /not valid/],
    ['without a subject', (s) => s.sign({ roles: ['reader'], tenants: [TENANT] }), /sub/],
  ])('%s → 401', async (_what, make, why) => {
    expect(expectAuthProblem(await get(await make(jwt)), 401).detail).toMatch(why);
  });

  test('an unsigned (alg none) or tampered token → 401', async () => {
    const valid = await jwt.sign(claims);
    const [header, , signature] = valid.split('.');
    const payload = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'], tenants: ['*'], iss: 'x' })).toString('base64url');
    expectAuthProblem(await get(`${header}.${payload}.${signature}`), 401);
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    expectAuthProblem(await get(`${none}.${payload}.`), 401);
  });
});

describe('JWKS from a URL on the allow-list', () => {
  let server: http.Server;
  let other: FastifyInstance | undefined;
  let served = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(jwt.jwksFile));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    await other?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('tokens are verified against the fetched key set', async () => {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ app: other } = await openTestApp({
      ...authEnv(jwt.jwksFile), JWKS_FILE: '', JWKS_URL: `http://${host}/jwks.json`, JWKS_ALLOW_HOSTS: host,
    }));
    const headers = { 'NGSILD-Tenant': TENANT, ...bearer(await jwt.sign({ sub: 'remote-reader', roles: ['reader'], tenants: [TENANT] })) };
    expectStatus(await other.inject({ method: 'GET', url: '/api/v1/types', headers }), 200);
    expect(served).toBe(1);
    const forged = { 'NGSILD-Tenant': TENANT, ...bearer(await jwt.sign({ sub: 'x', roles: ['admin'], tenants: ['*'] }, { otherKey: true })) };
    expectAuthProblem(await other.inject({ method: 'GET', url: '/api/v1/types', headers: forged }), 401);
  });
});

describe('contractor scope', () => {
  const h = () => ({ 'NGSILD-Tenant': TENANT, ...bearer(keys.contractor) });
  const admin = { 'NGSILD-Tenant': TENANT, ...bearer(ADMIN_KEY) };

  test('single-entity writes outside the listed types or id prefixes are 403 and change nothing', async () => {
    const otherPrefix = weather('urn:ngsi-ld:WeatherObserved:chiesa-01');
    expect(expectAuthProblem(await c.post(`${BASE}/entities`, otherPrefix, h()), 403).detail).toMatch(/prefixes/);
    const otherType = { id: `${LANZADA}building`, type: 'Building', height: { type: 'Property', value: 9 } };
    expect(expectAuthProblem(await c.post(`${BASE}/entities`, otherType, h()), 403).detail).toMatch(/type/);
    expectStatus(await c.get(entityUrl(otherPrefix.id), admin), 404);
    expectStatus(await c.get(entityUrl(otherType.id), admin), 404);
  });

  test('an entity with an allowed id but a forbidden stored type cannot be changed or deleted', async () => {
    const id = `${LANZADA}streetlight-${Date.now()}`;
    expectStatus(await c.post(`${BASE}/entities`, { id, type: 'Streetlight', powerState: { type: 'Property', value: 'on' } }, admin), 201);
    const patch = { powerState: { type: 'Property', value: 'off' } };
    expectAuthProblem(await c.patch(entityUrl(id, '/attrs'), patch, h()), 403);
    expectAuthProblem(await c.del(entityUrl(id), h()), 403);
    const res = await c.post(`${BASE}/entityOperations/update`, [{ id, ...patch }], h());
    expect(json(expectStatus(res, 207)).errors).toEqual([{ entityId: id, error: expect.objectContaining({ status: 403 }) }]);
    expect((await c.entity(id, '', admin)).powerState.value).toBe('on');
  });

  test('a batch with forbidden entities writes the allowed ones and reports the others as 403 (207)', async () => {
    const good = weather();
    const badPrefix = weather('urn:ngsi-ld:WeatherObserved:caspoggio-1');
    const badType = { id: `${LANZADA}tank-${Date.now()}`, type: 'Tank', level: { type: 'Property', value: 1 } };
    const res = await c.post(`${BASE}/entityOperations/upsert`, [good, badPrefix, badType], h());
    const result = json(expectStatus(res, 207));
    expect(result.success).toEqual([good.id]);
    expect(result.errors.map((e: { entityId: string }) => e.entityId).sort()).toEqual([badPrefix.id, badType.id].sort());
    for (const e of result.errors) expect(e.error).toEqual(expect.objectContaining({ type: 'urn:smartland:errors:Forbidden', status: 403 }));
    await c.entity(good.id, '', admin);
    expectStatus(await c.get(entityUrl(badPrefix.id), admin), 404);
    expectStatus(await c.get(entityUrl(badType.id), admin), 404);
  });

  test('batch delete: only the contractor\'s entities go', async () => {
    const mine = weather();
    const theirs = weather('urn:ngsi-ld:WeatherObserved:spriana-1');
    expectStatus(await c.post(`${BASE}/entityOperations/create`, [mine, theirs], admin), 201);
    const result = json(expectStatus(await c.post(`${BASE}/entityOperations/delete`, [mine.id, theirs.id], h()), 207));
    expect(result.success).toEqual([mine.id]);
    await c.entity(theirs.id, '', admin);
  });

  test('contractor API: forbidden items are rejected per item, the others stored', async () => {
    const good = kvWeather();
    const bad = { ...kvWeather(), id: 'urn:ngsi-ld:WeatherObserved:chiesa-77' };
    const res = await c.post('/api/v1/entities/WeatherObserved', [good, bad], h());
    const body = json(expectStatus(res, 207));
    expect(body.items.map((i: { status: string }) => i.status)).toEqual(['accepted', 'rejected']);
    expect(body.items[1].errors[0].reason).toMatch(/prefixes/);
    expectStatus(await c.get(entityUrl(bad.id), admin), 404);
  });

  test('contractor API with atomic=true: one forbidden item and nothing is stored', async () => {
    const good = kvWeather();
    const bad = { ...kvWeather(), id: 'urn:ngsi-ld:WeatherObserved:chiesa-78' };
    const body = json(expectStatus(await c.post('/api/v1/entities/WeatherObserved?atomic=true', [good, bad], h()), 422));
    expect(body.accepted).toBe(0);
    expect(body.items[1].errors[0].reason).toMatch(/prefixes/);
    expect(body.items[0].errors[0].reason).toMatch(/atomic/);
    expectStatus(await c.get(entityUrl(good.id), admin), 404);
    expectStatus(await c.get(entityUrl(bad.id), admin), 404);
  });

  test('project progress only for the listed projects', async () => {
    expectAuthProblem(await c.patch('/api/v1/projects/P-CHIESA-02/progress', { completionPercentage: 10 }, h()), 403);
  });

  test('device registrations are checked before the registry changes', async () => {
    const reg = { deviceId: 'wx-lanzada-9', observedType: 'WeatherObserved', attributes: [{ key: 't', name: 'temperature', unitCode: 'CEL' }] };
    expectAuthProblem(await c.post('/api/v1/devices', reg, h()), 403);
    expectStatus(await c.get('/api/v1/devices/wx-lanzada-9', admin), 404);
  });
});

describe('subscriptions belong to their creator', () => {
  test('a subscriber sees, changes and deletes only its own; an admin sees all', async () => {
    const other = (await createKey(app, { name: 'other-platform', roles: ['subscriber'], tenants: [TENANT] })).key;
    const as = (key: string) => ({ 'NGSILD-Tenant': TENANT, ...bearer(key) });
    const created = expectStatus(await c.post(`${BASE}/subscriptions`, subscription(), as(keys.subscriber)), 201);
    const url = created.headers.location as string;
    const id = decodeURIComponent(url.split('/').pop()!);
    expectStatus(await c.get(url, as(keys.subscriber)), 200);
    expectStatus(await c.get(url, as(other)), 404);
    expectStatus(await c.patch(url, { subscriptionName: 'hijacked' }, as(other)), 404);
    expectStatus(await c.del(url, as(other)), 404);
    const mine = json(expectStatus(await c.get(`${BASE}/subscriptions?count=true`, as(keys.subscriber)), 200));
    expect(mine.map((s: { id: string }) => s.id)).toContain(id);
    const theirs = json(expectStatus(await c.get(`${BASE}/subscriptions`, as(other)), 200));
    expect(theirs.map((s: { id: string }) => s.id)).not.toContain(id);
    const all = json(expectStatus(await c.get(`${BASE}/subscriptions?limit=1000`, as(ADMIN_KEY)), 200));
    expect(all.map((s: { id: string }) => s.id)).toContain(id);
    expectStatus(await c.del(url, as(keys.subscriber)), 204);
    expectStatus(await c.get(url, as(ADMIN_KEY)), 404);
  });
});

describe('configuration', () => {
  test('AUTH is on unless explicitly off', () => {
    expect(loadConfig({}).auth).toBe('on');
    expect(loadConfig({ AUTH: 'off' }).auth).toBe('off');
  });

  test.each<[Record<string, string>, RegExp]>([
    [{ ADMIN_API_KEY: 'short' }, /ADMIN_API_KEY must be at least 32/],
    [{ JWKS_FILE: '/x.json' }, /JWT_ISSUER is required/],
    [{ JWKS_URL: 'https://login.example/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, /not in JWKS_ALLOW_HOSTS/],
    [{ JWKS_FILE: '/x', JWKS_URL: 'https://a/', JWKS_ALLOW_HOSTS: 'a', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, /exclude each other/],
  ])('%j is refused', (env, why) => {
    expect(() => loadConfig(env)).toThrow(why);
  });

  test('a JWKS URL on the allow-list is accepted', () => {
    const config = loadConfig({ JWKS_URL: 'https://login.example/jwks', JWKS_ALLOW_HOSTS: 'login.example', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' });
    expect(config.jwksUrl).toBe('https://login.example/jwks');
  });
});
