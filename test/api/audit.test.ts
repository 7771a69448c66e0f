import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { ADMIN_KEY, authEnv, bearer, createKey, jwtSigner } from '../helpers/auth';
import { openTestDb } from '../helpers/db';
import { BASE, client, entityUrl, expectStatus, json, uid, type Client } from '../helpers/ngsi';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { AuditLog, AUDIT_MAX_NAMES, auditSubject, networkOf } from '../../src/audit/audit-log';
import { queryAuditRecords } from '../../src/store/audit-store';
import type { Db } from '../../src/store/db';

/** The audit trail (MIM5): what every write records, who may read it, filters, retention, shutdown. */

let app: FastifyInstance;
let c: Client;
let contractor: string;
const T = 'valley';
const admin = { ...bearer(ADMIN_KEY), 'NGSILD-Tenant': T };

beforeAll(async () => {
  ({ app } = await openTestApp(authEnv((await jwtSigner()).jwksFile)));
  c = client(app);
  contractor = (await createKey(app, {
    name: 'audit-contractor', roles: ['contractor'], tenants: [T], entityTypes: ['WeatherObserved'], idPrefixes: ['urn:ngsi-ld:WeatherObserved:'],
  })).key;
});
afterAll(async () => app?.close());

const audit = async (query: string) => json(expectStatus(await c.get(`/api/v1/audit${query}`, bearer(ADMIN_KEY)), 200)) as Record<string, any>[];

test('a write records principal, time, route, tenant, entity, attributes, source and outcome', async () => {
  const id = uid('WeatherObserved');
  const before = new Date().toISOString();
  expectStatus(await c.post(`${BASE}/entities`, { id, type: 'WeatherObserved', temperature: { type: 'Property', value: 1 } }, { ...bearer(contractor), 'NGSILD-Tenant': T }), 201);
  expectStatus(await c.patch(entityUrl(id, '/attrs/temperature'), { value: 2 }, { ...bearer(contractor), 'NGSILD-Tenant': T }), 204);
  const records = await audit(`?entity=${encodeURIComponent(id)}`);
  expect(records).toEqual([
    { seq: expect.any(Number), at: expect.any(String), principal: 'audit-contractor', method: 'PATCH', route: '/ngsi-ld/v1/entities/:entityId/attrs/:attrId', tenant: T, entityIds: [id], attributes: ['temperature', 'value'], sourceIp: '127.0.0.0/24', status: 204 },
    { seq: expect.any(Number), at: expect.any(String), principal: 'audit-contractor', method: 'POST', route: '/ngsi-ld/v1/entities', tenant: T, entityIds: [id], attributes: ['temperature'], sourceIp: '127.0.0.0/24', status: 201 },
  ]);
  expect(records[1].at >= before).toBe(true);
});

test('the record is in the database when the response arrives (nothing to flush, nothing lost on a crash)', async () => {
  const id = uid('WeatherObserved');
  expectStatus(await c.post(`${BASE}/entities`, { id, type: 'WeatherObserved' }, { ...bearer(contractor), 'NGSILD-Tenant': T }), 201);
  const { records } = await queryAuditRecords(app.db, { entity: id, limit: 10, offset: 0, count: false });
  expect(records.map((r) => [r.principal, r.status])).toEqual([['audit-contractor', 201]]);
});

test('refused and unauthenticated writes are recorded too; reads (also POST queries) are not', async () => {
  const forbiddenId = 'urn:ngsi-ld:Building:not-mine';
  expectStatus(await c.post(`${BASE}/entities`, { id: forbiddenId, type: 'Building' }, { ...bearer(contractor), 'NGSILD-Tenant': T }), 403);
  expectStatus(await c.del(entityUrl(forbiddenId), { 'NGSILD-Tenant': T }), 401);
  expectStatus(await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: 'Building' }] }, admin), 200);
  const records = await audit(`?entity=${encodeURIComponent(forbiddenId)}`);
  expect(records.map((r) => [r.principal, r.method, r.status])).toEqual([['unauthenticated', 'DELETE', 401], ['audit-contractor', 'POST', 403]]);
  expect((await audit('?limit=1000')).some((r) => r.route.endsWith('/entityOperations/query'))).toBe(false);
});

test('batch writes record every entity id (bounded)', async () => {
  const ids = [uid('WeatherObserved'), uid('WeatherObserved')];
  expectStatus(await c.post(`${BASE}/entityOperations/upsert`, ids.map((id) => ({ id, type: 'WeatherObserved', temperature: 3 })), admin), 201);
  const [r] = await audit(`?entity=${encodeURIComponent(ids[1])}`);
  expect(r).toEqual(expect.objectContaining({ principal: 'bootstrap-admin', entityIds: ids, attributes: ['temperature'] }));
  const many = auditSubject({}, Array.from({ length: 300 }, (_, i) => ({ id: `urn:x:${i}`, ['a' + i]: 1 })));
  expect([many.entityIds.length, many.attributes.length]).toEqual([AUDIT_MAX_NAMES, AUDIT_MAX_NAMES]);
});

test('filters: principal, time range; pagination and count', async () => {
  const start = new Date().toISOString();
  for (let i = 0; i < 3; i++) expectStatus(await c.post(`${BASE}/entities`, { id: uid('WeatherObserved'), type: 'WeatherObserved' }, admin), 201);
  const res = await c.get(`/api/v1/audit?principal=bootstrap-admin&from=${encodeURIComponent(start)}&limit=2&count=true`, bearer(ADMIN_KEY));
  expect(res.headers['ngsild-results-count']).toBe('3');
  const page1 = json(expectStatus(res, 200)) as Record<string, any>[];
  const page2 = await audit(`?principal=bootstrap-admin&from=${encodeURIComponent(start)}&limit=2&offset=2`);
  expect(page1.length).toBe(2);
  expect(page2.length).toBe(1);
  expect(new Set([...page1, ...page2].map((r) => r.seq)).size).toBe(3);
  expect(await audit(`?principal=bootstrap-admin&to=${encodeURIComponent(start)}&from=${encodeURIComponent(start)}`)).toEqual([]);
  expect(await audit('?principal=nobody-at-all')).toEqual([]);
});

test('only admins read the trail', async () => {
  expectStatus(await c.get('/api/v1/audit', bearer(contractor)), 403);
  expectStatus(await c.get('/api/v1/audit'), 401);
});

describe('AuditLog', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestDb();
  });
  afterAll(async () => db?.close());

  const record = (at: string, principal = 'p') =>
    ({ at, principal, method: 'POST', route: '/ngsi-ld/v1/entities', tenant: '', entityIds: [], attributes: [], status: 201 });

  test('records of concurrent requests go in one flush, committed before record() resolves; retention prunes old ones', async () => {
    let statements = 0;
    const counting: Db = { ...db, query: (sql, params, opts) => (statements++, db.query(sql, params, opts)) };
    const log = new AuditLog({ db: counting });
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    await Promise.all([log.record(record(old, 'old')), log.record(record(new Date().toISOString(), 'new'))]);
    expect(statements).toBe(1);
    expect((await queryAuditRecords(db, { limit: 10, offset: 0, count: false })).records.map((r) => r.principal)).toEqual(['new', 'old']);
    expect(await log.prune(30)).toBe(1);
    expect((await queryAuditRecords(db, { limit: 10, offset: 0, count: false })).records.map((r) => r.principal)).toEqual(['new']);
  });

  test('a failed flush keeps the records for the next one', async () => {
    let fail = true;
    const flaky: Db = { ...db, query: (sql, params, opts) => (fail ? Promise.reject(new Error('down')) : db.query(sql, params, opts)) };
    const errors: unknown[] = [];
    const log = new AuditLog({ db: flaky, retryMs: 60_000, onError: (err) => errors.push(err) });
    await log.record(record(new Date().toISOString(), 'kept'));
    expect(errors.length).toBe(1);
    fail = false;
    await log.close();
    expect((await queryAuditRecords(db, { principal: 'kept', limit: 10, offset: 0, count: false })).records.length).toBe(1);
  });

  test('a clean shutdown of the app writes what is still buffered', async () => {
    // the app closes this store wrapper; the test keeps the real one to look afterwards
    const shared: Db = { ...db, close: async () => undefined };
    const service = await buildApp(loadConfig({ LOG_LEVEL: 'silent', AUTH: 'off', NOTIFY_WORKER: 'off' }), { db: shared });
    await service.ready();
    const id = uid('WeatherObserved');
    expectStatus(await service.inject({ method: 'POST', url: `${BASE}/entities`, headers: { 'content-type': 'application/json' }, payload: { id, type: 'WeatherObserved' } }) as never, 201);
    await service.close();
    const { records } = await queryAuditRecords(db, { entity: id, limit: 10, offset: 0, count: false });
    expect(records.map((r) => [r.principal, r.status])).toEqual([['anonymous (AUTH=off)', 201]]);
  });
});

test('the client address is kept as its network only (MIM4)', () => {
  expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
  expect(networkOf('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
  expect(networkOf('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::/48');
  expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48');
  expect(networkOf('::1')).toBe('0:0:0::/48');
});
