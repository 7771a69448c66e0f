import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { openTestApp } from '../helpers/app';
import { BASE, client, entityUrl, expectProblem, expectStatus, json, uid, utype, type Client } from '../helpers/ngsi';

/** Multi-tenancy (spec 4.14, 6.3.14): the NGSILD-Tenant header. */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  // the default tenant exists from the start; give it some data too
  await c.create({ id: uid(), type: 'Other' });
});
afterAll(async () => app?.close());

const tenant = () => `t_${randomBytes(4).toString('hex')}`;
const T = (name: string) => ({ 'NGSILD-Tenant': name });

describe('isolation', () => {
  test('an entity written in A is invisible in B and in the default tenant', async () => {
    const a = tenant();
    const b = tenant();
    const type = utype();
    const id = uid(type);
    await c.create({ id, type, p: 'in A' }, T(a));
    await c.create({ id: uid(type), type, p: 'in B' }, T(b));

    expect((await c.entity(id, '', T(a))).p.value).toBe('in A');
    expectProblem(await c.get(entityUrl(id), T(b)), 404, 'ResourceNotFound');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');

    const inA = json(expectStatus(await c.get(`${BASE}/entities?type=${type}`, T(a)), 200));
    const inB = json(expectStatus(await c.get(`${BASE}/entities?type=${type}`, T(b)), 200));
    const inDefault = json(expectStatus(await c.get(`${BASE}/entities?type=${type}`), 200));
    expect(inA.map((e: any) => e.p.value)).toEqual(['in A']);
    expect(inB.map((e: any) => e.p.value)).toEqual(['in B']);
    expect(inDefault).toEqual([]);
  });

  test('the same id can exist in two tenants with different content', async () => {
    const a = tenant();
    const b = tenant();
    const id = uid();
    await c.create({ id, type: 'T', v: 1 }, T(a));
    await c.create({ id, type: 'T', v: 2 }, T(b));
    await c.create({ id, type: 'T', v: 3 });
    expect((await c.entity(id, '', T(a))).v.value).toBe(1);
    expect((await c.entity(id, '', T(b))).v.value).toBe(2);
    expect((await c.entity(id)).v.value).toBe(3);
    // writes in one tenant leave the others alone
    expectStatus(await c.patch(entityUrl(id, '/attrs'), { v: 10 }, T(a)), 204);
    expectStatus(await c.del(entityUrl(id), T(b)), 204);
    expect((await c.entity(id, '', T(a))).v.value).toBe(10);
    expectProblem(await c.get(entityUrl(id), T(b)), 404, 'ResourceNotFound');
    expect((await c.entity(id)).v.value).toBe(3);
  });

  test('batch operations stay in their tenant', async () => {
    const a = tenant();
    const id = uid();
    expectStatus(await c.post(`${BASE}/entityOperations/upsert`, [{ id, type: 'T', v: 1 }], T(a)), 201);
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    const res = json(expectStatus(await c.post(`${BASE}/entityOperations/delete`, [id]), 207));
    expect(res.errors[0].entityId).toBe(id);
    expect((await c.entity(id, '', T(a))).v.value).toBe(1);
    const q = await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ id, type: 'T' }] }, T(a));
    expect(json(expectStatus(q, 200))).toHaveLength(1);
  });

  test('discovery is per tenant', async () => {
    const a = tenant();
    const type = utype('Only');
    await c.create({ id: uid(type), type, onlyAttr: 1 }, T(a));
    expect(json(await c.get(`${BASE}/types`, T(a))).typeList).toEqual([type]);
    expect(json(await c.get(`${BASE}/types`)).typeList).not.toContain(type);
    expect(json(await c.get(`${BASE}/attributes`)).attributeList).not.toContain('onlyAttr');
  });

  test('tenant names are case-insensitive', async () => {
    const name = tenant();
    const id = uid();
    await c.create({ id, type: 'T' }, T(name.toUpperCase()));
    expectStatus(await c.get(entityUrl(id), T(name)), 200);
  });

  test('an empty NGSILD-Tenant header means the default tenant', async () => {
    const id = uid();
    await c.create({ id, type: 'T' });
    expectStatus(await c.get(entityUrl(id), T('')), 200);
  });
});

describe('unknown tenant', () => {
  test('reads → 404 NonexistentTenant', async () => {
    const t = T(tenant());
    expectProblem(await c.get(entityUrl(uid()), t), 404, 'NonexistentTenant');
    expectProblem(await c.get(`${BASE}/entities?type=T`, t), 404, 'NonexistentTenant');
    expectProblem(await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: 'T' }] }, t), 404, 'NonexistentTenant');
    expectProblem(await c.get(`${BASE}/types`, t), 404, 'NonexistentTenant');
    expectProblem(await c.get(`${BASE}/attributes`, t), 404, 'NonexistentTenant');
  });

  test('deletes and updates do not create it', async () => {
    const name = tenant();
    expect((await c.del(entityUrl(uid()), T(name))).statusCode).toBe(404);
    expectProblem(await c.patch(entityUrl(uid(), '/attrs'), { a: 1 }, T(name)), 404, 'ResourceNotFound');
    expectProblem(await c.get(`${BASE}/entities?type=T`, T(name)), 404, 'NonexistentTenant');
  });

  test('the first write creates it', async () => {
    const t = T(tenant());
    await c.create({ id: uid(), type: 'T' }, t);
    expectStatus(await c.get(`${BASE}/entities?type=T`, t), 200);
  });
});

describe('invalid tenant names → 400', () => {
  test.each(['bad tenant', 'a/b', 'x'.repeat(65), 'ümlaut', 'a;b', '../etc'])('%p', async (name) => {
    expectProblem(await c.get(`${BASE}/entities?type=T`, T(name)), 400, 'BadRequestData');
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T' }, T(name)), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });
});
