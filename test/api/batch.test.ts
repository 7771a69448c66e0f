import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { BASE, client, entityUrl, expectProblem, expectStatus, json, uid, utype, type Client } from '../helpers/ngsi';

/** Batch entity operations (spec 5.6.7–5.6.10, 5.6.20): create, upsert, update, merge, delete. */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
});
afterAll(async () => app?.close());

const OPS = `${BASE}/entityOperations`;
const ent = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'B', ...extra });

/** BatchOperationResult shape (spec 5.2.16 / 5.2.17). */
function expectBatchResult(body: any, success: string[], errorIds: string[]) {
  expect(Object.keys(body).sort()).toEqual(['errors', 'success']);
  expect([...body.success].sort()).toEqual([...success].sort());
  expect(body.errors.map((e: any) => e.entityId).sort()).toEqual([...errorIds].sort());
  for (const e of body.errors) {
    expect(e.error).toEqual(
      expect.objectContaining({ type: expect.stringMatching(/^https:\/\/uri\.etsi\.org\/ngsi-ld\/errors\//), title: expect.any(String), status: expect.any(Number) }),
    );
  }
}

const exists = async (id: string) => (await c.get(entityUrl(id))).statusCode === 200;

describe('create', () => {
  test('201 with the created ids', async () => {
    const ids = [uid(), uid()];
    const res = expectStatus(await c.post(`${OPS}/create`, ids.map((id) => ent(id, { p: 1 }))), 201);
    expect(json(res).sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await c.entity(id)).p.value).toBe(1);
  });

  test('207: existing and invalid entities are reported, good ones stored', async () => {
    const existing = uid();
    await c.create(ent(existing, { p: 'old' }));
    const good = uid();
    const res = expectStatus(await c.post(`${OPS}/create`, [ent(good), ent(existing, { p: 'new' }), { id: 'not a uri', type: 'B' }, { id: uid() }]), 207);
    const body = json(res);
    expect(body.success).toEqual([good]);
    expect(body.errors).toHaveLength(3);
    const byId = Object.fromEntries(body.errors.map((e: any) => [e.entityId, e.error]));
    expect(byId[existing].type).toBe('https://uri.etsi.org/ngsi-ld/errors/AlreadyExists');
    expect(byId[existing].status).toBe(409);
    expect(Object.values(byId).filter((e: any) => e.type.endsWith('/BadRequestData'))).toHaveLength(2);
    expect(await exists(good)).toBe(true);
    expect((await c.entity(existing)).p.value).toBe('old');
  });

  test('duplicate ids in one batch: the first is created, the second reported', async () => {
    const id = uid();
    const body = json(expectStatus(await c.post(`${OPS}/create`, [ent(id, { n: 1 }), ent(id, { n: 2 })]), 207));
    expectBatchResult(body, [id], [id]);
    expect((await c.entity(id)).n.value).toBe(1);
  });

  test('1000 entities in one call work; 1001 → 400 and nothing stored', async () => {
    const type = utype('Bulk');
    const many = Array.from({ length: 1000 }, (_, i) => ({ id: `urn:ngsi-ld:${type}:${i}`, type, i }));
    const res = expectStatus(await c.post(`${OPS}/create`, many), 201);
    expect(json(res)).toHaveLength(1000);
    const count = await c.get(`${BASE}/entities?type=${type}&count=true&limit=1`);
    expect(count.headers['ngsild-results-count']).toBe('1000');

    const type2 = utype('Bulk');
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `urn:ngsi-ld:${type2}:${i}`, type: type2 }));
    expectProblem(await c.post(`${OPS}/create`, tooMany), 400, 'BadRequestData');
    expect(await exists(`urn:ngsi-ld:${type2}:0`)).toBe(false);
  });

  test('empty array → 400; non-array body → 400', async () => {
    expectProblem(await c.post(`${OPS}/create`, []), 400, 'BadRequestData');
    expectProblem(await c.post(`${OPS}/create`, { id: uid(), type: 'B' }), 400, 'BadRequestData');
  });
});

describe('upsert', () => {
  test('201 with the created ids when some are new, 204 when all existed', async () => {
    const old = uid();
    await c.create(ent(old, { a: 1, b: 1 }));
    const fresh = uid();
    const res = expectStatus(await c.post(`${OPS}/upsert`, [ent(old, { a: 2 }), ent(fresh, { a: 3 })]), 201);
    expect(json(res)).toEqual([fresh]);
    // default mode is replace: b is gone
    const e = await c.entity(old);
    expect(e.a.value).toBe(2);
    expect(e.b).toBeUndefined();
    expectStatus(await c.post(`${OPS}/upsert`, [ent(old, { a: 4 }), ent(fresh, { a: 5 })]), 204);
    expect((await c.entity(fresh)).a.value).toBe(5);
  });

  test('options=replace replaces, options=update keeps other attributes', async () => {
    const id = uid();
    await c.create(ent(id, { a: 1, b: 1 }));
    expectStatus(await c.post(`${OPS}/upsert?options=update`, [ent(id, { a: 2, c: 3 })]), 204);
    let e = await c.entity(id);
    expect([e.a.value, e.b.value, e.c.value]).toEqual([2, 1, 3]);
    expectStatus(await c.post(`${OPS}/upsert?options=replace`, [ent(id, { z: 9 })]), 204);
    e = await c.entity(id);
    expect(e.a).toBeUndefined();
    expect(e.z.value).toBe(9);
  });

  test('options=replace,update → 400; unknown option → 400', async () => {
    expectProblem(await c.post(`${OPS}/upsert?options=replace,update`, [ent(uid())]), 400, 'BadRequestData');
    expectProblem(await c.post(`${OPS}/upsert?options=noOverwrite`, [ent(uid())]), 400, 'BadRequestData');
  });

  test('207 with per-entity errors; valid ones stored', async () => {
    const good = uid();
    const body = json(expectStatus(await c.post(`${OPS}/upsert`, [ent(good), { id: uid(), type: 'B', bad: { type: 'Relationship' } }]), 207));
    expect(body.success).toEqual([good]);
    expect(body.errors).toHaveLength(1);
    expect(await exists(good)).toBe(true);
  });

  test('duplicate ids: the later one wins', async () => {
    const id = uid();
    expectStatus(await c.post(`${OPS}/upsert?options=update`, [ent(id, { a: 1 }), ent(id, { b: 2 })]), 201);
    const e = await c.entity(id);
    expect(e.a.value).toBe(1);
    expect(e.b.value).toBe(2);
  });
});

describe('update', () => {
  test('204; attributes overwritten and added; others kept', async () => {
    const id = uid();
    await c.create(ent(id, { a: 1, b: 1 }));
    expectStatus(await c.post(`${OPS}/update`, [{ id, a: 2, c: 3 }]), 204);
    const e = await c.entity(id);
    expect([e.a.value, e.b.value, e.c.value]).toEqual([2, 1, 3]);
  });

  test('options=noOverwrite keeps existing values', async () => {
    const id = uid();
    await c.create(ent(id, { a: 1 }));
    expectStatus(await c.post(`${OPS}/update?options=noOverwrite`, [{ id, a: 2, c: 3 }]), 204);
    const e = await c.entity(id);
    expect(e.a.value).toBe(1);
    expect(e.c.value).toBe(3);
  });

  test('207 for a missing entity (404 in its error); others updated', async () => {
    const id = uid();
    await c.create(ent(id, { a: 1 }));
    const missing = uid();
    const body = json(expectStatus(await c.post(`${OPS}/update`, [{ id, a: 2 }, { id: missing, a: 1 }]), 207));
    expectBatchResult(body, [id], [missing]);
    expect(body.errors[0].error.status).toBe(404);
    expect((await c.entity(id)).a.value).toBe(2);
    expect(await exists(missing)).toBe(false);
  });
});

describe('merge', () => {
  test('204; merge-patch semantics with urn:ngsi-ld:null', async () => {
    const id = uid();
    await c.create(ent(id, { a: 1, b: 1, o: { type: 'Property', value: { x: 1, y: 1 } } }));
    expectStatus(await c.post(`${OPS}/merge`, [{ id, a: 'urn:ngsi-ld:null', o: { type: 'Property', value: { y: 2 } } }]), 204);
    const e = await c.entity(id);
    expect(e.a).toBeUndefined();
    expect(e.b.value).toBe(1);
    expect(e.o.value).toEqual({ x: 1, y: 2 });
  });

  test('207 for a missing entity', async () => {
    const id = uid();
    await c.create(ent(id));
    const missing = uid();
    const body = json(expectStatus(await c.post(`${OPS}/merge`, [{ id, n: 1 }, { id: missing, n: 1 }]), 207));
    expectBatchResult(body, [id], [missing]);
  });
});

describe('delete', () => {
  test('204 when all existed', async () => {
    const ids = [uid(), uid()];
    await c.post(`${OPS}/create`, ids.map((id) => ent(id)));
    expectStatus(await c.post(`${OPS}/delete`, ids), 204);
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  test('207 for missing and invalid ids; existing ones deleted', async () => {
    const id = uid();
    await c.create(ent(id));
    const missing = uid();
    const body = json(expectStatus(await c.post(`${OPS}/delete`, [id, missing, 'no uri', 42]), 207));
    expect(body.success).toEqual([id]);
    expect(body.errors).toHaveLength(3);
    expect(body.errors.find((e: any) => e.entityId === missing).error.status).toBe(404);
    expect(await exists(id)).toBe(false);
  });

  test('duplicate ids are deleted once', async () => {
    const id = uid();
    await c.create(ent(id));
    expectStatus(await c.post(`${OPS}/delete`, [id, id]), 204);
    expect(await exists(id)).toBe(false);
  });

  test('empty → 400; more than 1000 → 400', async () => {
    expectProblem(await c.post(`${OPS}/delete`, []), 400, 'BadRequestData');
    expectProblem(await c.post(`${OPS}/delete`, Array.from({ length: 1001 }, () => uid())), 400, 'BadRequestData');
  });
});

describe('@context in batches', () => {
  test('application/ld+json: each entity carries its own @context', async () => {
    const id = uid();
    const ctx = { foo: 'https://example.org/foo#' };
    const res = await c.post(`${OPS}/create`, [{ id, type: 'B', foo: 1, '@context': [ctx] }], { 'content-type': 'application/ld+json' });
    expectStatus(res, 201);
    const e = await c.entity(id);
    expect(e['https://example.org/foo#']).toEqual({ type: 'Property', value: 1 });
  });

  test('@context inside an entity with application/json → per-entity 400', async () => {
    const id = uid();
    const body = json(expectStatus(await c.post(`${OPS}/create`, [{ id, type: 'B', '@context': [] }, ent(uid())]), 207));
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].entityId).toBe(id);
    expect(await exists(id)).toBe(false);
  });
});
