import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { BASE, client, entityUrl, expectProblem, expectStatus, json, uid, type Client } from '../helpers/ngsi';

/** Entity CRUD (spec 5.6.1, 5.6.3–5.6.6, 5.6.17, 5.7.1) and attribute operations, with every attribute kind. */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
});
afterAll(async () => app?.close());

const point = (lon: number, lat: number) => ({ type: 'Point', coordinates: [lon, lat] });

/** One attribute of every kind, each with sub-attributes / metadata. */
const allKinds = (id: string) => ({
  id,
  type: 'Sensor',
  temperature: {
    type: 'Property',
    value: 21.5,
    unitCode: 'CEL',
    observedAt: '2024-05-01T10:00:00Z',
    accuracy: { type: 'Property', value: 0.1 },
    measuredBy: { type: 'Relationship', object: 'urn:ngsi-ld:Device:d1' },
  },
  compound: { type: 'Property', value: { a: 1, b: [1, 2, { c: 'x' }], d: null } },
  isParkedIn: { type: 'Relationship', object: 'urn:ngsi-ld:Park:p1', objectType: 'Park' },
  partOf: { type: 'Relationship', object: ['urn:ngsi-ld:Zone:z1', 'urn:ngsi-ld:Zone:z2'] },
  route: { type: 'ListRelationship', objectList: [{ object: 'urn:ngsi-ld:Stop:1' }, { object: 'urn:ngsi-ld:Stop:2' }] },
  location: { type: 'GeoProperty', value: point(9.85, 46.26) },
  name: { type: 'LanguageProperty', languageMap: { en: 'Lake', it: 'Lago' } },
  category: { type: 'VocabProperty', vocab: ['water', 'public'] },
  raw: { type: 'JsonProperty', json: { anything: ['goes', 1, { here: true }], type: 'NotAnAttribute' } },
  readings: { type: 'ListProperty', valueList: [1, 'two', { three: 3 }] },
  speed: [
    { type: 'Property', value: 10, datasetId: 'urn:ngsi-ld:Dataset:gps' },
    { type: 'Property', value: 12, datasetId: 'urn:ngsi-ld:Dataset:radar' },
    { type: 'Property', value: 11 },
  ],
});

describe('POST /entities', () => {
  test('201 with Location, then GET returns it', async () => {
    const id = uid();
    const res = await c.post(`${BASE}/entities`, { id, type: 'T', p: { type: 'Property', value: 1 } });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(`/ngsi-ld/v1/entities/${encodeURIComponent(id)}`);
    expect(res.body).toBe('');
    const e = await c.entity(id);
    expect(e).toEqual({ id, type: 'T', p: { type: 'Property', value: 1 } });
  });

  test('the Location header works for a GET', async () => {
    const id = uid();
    const res = await c.create({ id, type: 'T' });
    expectStatus(await c.get(res.headers.location as string), 200);
  });

  test('409 AlreadyExists on a second create, first one unchanged', async () => {
    const id = uid();
    await c.create({ id, type: 'T', p: 1 });
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T', p: 2 }), 409, 'AlreadyExists');
    expect((await c.entity(id)).p.value).toBe(1);
  });

  test('every attribute kind round-trips in normalized form', async () => {
    const id = uid();
    await c.create(allKinds(id));
    const e = await c.entity(id);
    const sent = allKinds(id);
    expect(e.temperature).toEqual(sent.temperature);
    expect(e.compound).toEqual(sent.compound);
    expect(e.isParkedIn).toEqual(sent.isParkedIn);
    expect(e.partOf).toEqual(sent.partOf);
    expect(e.route).toEqual(sent.route);
    expect(e.location).toEqual(sent.location);
    expect(e.name).toEqual(sent.name);
    expect(e.category).toEqual(sent.category);
    expect(e.raw).toEqual(sent.raw);
    expect(e.readings).toEqual(sent.readings);
    expect(e.speed).toHaveLength(3);
    expect(e.speed).toEqual(expect.arrayContaining(sent.speed));
    expect(e).toEqual(sent);
  });

  test('concise input is accepted and stored normalized', async () => {
    const id = uid();
    await c.create({
      id,
      type: 'T',
      n: 5,
      s: 'text',
      arr: [1, 2],
      obj: { value: 3, unitCode: 'MTR' },
      rel: { object: 'urn:ngsi-ld:X:1' },
      lang: { languageMap: { en: 'hi' } },
      location: point(1, 2),
    });
    const e = await c.entity(id);
    expect(e.n).toEqual({ type: 'Property', value: 5 });
    expect(e.s).toEqual({ type: 'Property', value: 'text' });
    expect(e.arr).toEqual({ type: 'Property', value: [1, 2] });
    expect(e.obj).toEqual({ type: 'Property', value: 3, unitCode: 'MTR' });
    expect(e.rel).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:X:1' });
    expect(e.lang).toEqual({ type: 'LanguageProperty', languageMap: { en: 'hi' } });
    expect(e.location).toEqual({ type: 'GeoProperty', value: point(1, 2) });
  });

  test('options=sysAttrs: createdAt/modifiedAt on the entity and on attributes', async () => {
    const id = uid();
    const before = new Date().toISOString();
    await c.create({ id, type: 'T', p: { type: 'Property', value: 1, sub: { type: 'Property', value: 2 } } });
    const e = await c.entity(id, '?options=sysAttrs');
    expect(e.createdAt >= before.slice(0, 19)).toBe(true);
    expect(e.modifiedAt).toBe(e.createdAt);
    expect(e.p.createdAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/));
    expect(e.p.modifiedAt).toEqual(expect.any(String));
    expect(e.p.sub.createdAt).toEqual(expect.any(String));
    // without the option, no system attributes
    const plain = await c.entity(id);
    expect(plain.createdAt).toBeUndefined();
    expect(plain.p.createdAt).toBeUndefined();
  });

  test('system attributes sent by the client are ignored', async () => {
    const id = uid();
    await c.create({ id, type: 'T', createdAt: '2000-01-01T00:00:00Z', p: { type: 'Property', value: 1, modifiedAt: '2000-01-01T00:00:00Z' } });
    const e = await c.entity(id, '?options=sysAttrs');
    expect(e.createdAt.startsWith('2000')).toBe(false);
    expect(e.p.modifiedAt.startsWith('2000')).toBe(false);
  });

  test('scope round-trips', async () => {
    const id = uid();
    await c.create({ id, type: 'T', scope: ['/Valmalenco/Water', '/Lanzada'] });
    expect((await c.entity(id)).scope).toEqual(['/Valmalenco/Water', '/Lanzada']);
  });

  test('several types', async () => {
    const id = uid();
    await c.create({ id, type: ['A', 'B'] });
    expect((await c.entity(id)).type).toEqual(['A', 'B']);
  });
});

describe('GET /entities/{id}', () => {
  test('404 ResourceNotFound for an unknown id', async () => {
    expectProblem(await c.get(entityUrl(uid())), 404, 'ResourceNotFound');
  });

  test('400 for an id that is not a URI', async () => {
    expectProblem(await c.get(`${BASE}/entities/not-a-uri`), 400, 'BadRequestData');
  });

  test('attrs / pick / omit projections on one entity', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, b: 2, c: 3 });
    expect(Object.keys(await c.entity(id, '?attrs=a,b')).sort()).toEqual(['a', 'b', 'id', 'type']);
    expect(await c.entity(id, '?pick=id,b')).toEqual({ id, b: { type: 'Property', value: 2 } });
    expect(await c.entity(id, '?omit=type,a,c')).toEqual({ id, b: { type: 'Property', value: 2 } });
    expectProblem(await c.get(entityUrl(id, '?pick=a&omit=b')), 400, 'BadRequestData');
  });
});

describe('PUT /entities/{id} (replace)', () => {
  test('replaces all attributes, keeps createdAt', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, b: 2 });
    const created = (await c.entity(id, '?options=sysAttrs')).createdAt;
    expectStatus(await c.put(entityUrl(id), { type: 'T2', c: { type: 'Property', value: 3 } }), 204);
    const e = await c.entity(id, '?options=sysAttrs');
    expect(e.type).toBe('T2');
    expect(e.a).toBeUndefined();
    expect(e.b).toBeUndefined();
    expect(e.c.value).toBe(3);
    expect(e.createdAt).toBe(created);
    expect(e.modifiedAt >= created).toBe(true);
  });

  test('404 for a missing entity, 400 for a mismatching id', async () => {
    expectProblem(await c.put(entityUrl(uid()), { type: 'T', a: 1 }), 404, 'ResourceNotFound');
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    expectProblem(await c.put(entityUrl(id), { id: uid(), type: 'T', a: 2 }), 400, 'BadRequestData');
    expect((await c.entity(id)).a.value).toBe(1);
  });
});

describe('PATCH /entities/{id} (merge)', () => {
  test('merges attributes, values of compound properties key by key', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, obj: { type: 'Property', value: { x: 1, y: 2 } }, keep: 'k' });
    expectStatus(await c.patch(entityUrl(id), { a: 2, obj: { type: 'Property', value: { y: 3, z: 4 } }, n: 'new' }), 204);
    const e = await c.entity(id);
    expect(e.a.value).toBe(2);
    expect(e.obj.value).toEqual({ x: 1, y: 3, z: 4 });
    expect(e.n.value).toBe('new');
    expect(e.keep.value).toBe('k');
  });

  test('application/merge-patch+json is accepted; urn:ngsi-ld:null deletes', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, b: { type: 'Property', value: 2, unitCode: 'MTR', sub: { type: 'Property', value: 5 } } });
    const res = await c.patch(entityUrl(id), { a: 'urn:ngsi-ld:null', b: { unitCode: 'urn:ngsi-ld:null', sub: 'urn:ngsi-ld:null' } }, {
      'content-type': 'application/merge-patch+json',
    });
    expectStatus(res, 204);
    const e = await c.entity(id);
    expect(e.a).toBeUndefined();
    expect(e.b).toEqual({ type: 'Property', value: 2 });
  });

  test('a partial attribute (observedAt only) keeps the value', async () => {
    const id = uid();
    await c.create({ id, type: 'T', t: { type: 'Property', value: 20 } });
    expectStatus(await c.patch(entityUrl(id), { t: { observedAt: '2024-01-01T00:00:00Z' } }), 204);
    expect((await c.entity(id)).t).toEqual({ type: 'Property', value: 20, observedAt: '2024-01-01T00:00:00Z' });
  });

  test('type is added, scope replaced', async () => {
    const id = uid();
    await c.create({ id, type: 'A', scope: '/x' });
    expectStatus(await c.patch(entityUrl(id), { type: 'B', scope: '/y' }), 204);
    const e = await c.entity(id);
    expect(e.type).toEqual(['A', 'B']);
    expect(e.scope).toBe('/y');
  });

  test('404 for a missing entity', async () => {
    expectProblem(await c.patch(entityUrl(uid()), { a: 1 }), 404, 'ResourceNotFound');
  });
});

describe('DELETE /entities/{id}', () => {
  test('204, then 404 on GET and on a second DELETE', async () => {
    const id = uid();
    await c.create({ id, type: 'T' });
    expectStatus(await c.del(entityUrl(id)), 204);
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    expectProblem(await c.del(entityUrl(id)), 404, 'ResourceNotFound');
  });
});

describe('POST /entities/{id}/attrs (append)', () => {
  test('adds and overwrites attributes (204)', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    expectStatus(await c.post(entityUrl(id, '/attrs'), { a: 2, b: { type: 'Relationship', object: 'urn:ngsi-ld:X:1' } }), 204);
    const e = await c.entity(id);
    expect(e.a.value).toBe(2);
    expect(e.b.object).toBe('urn:ngsi-ld:X:1');
  });

  test('options=noOverwrite → 207 with notUpdated for the existing ones', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    const res = expectStatus(await c.post(entityUrl(id, '/attrs?options=noOverwrite'), { a: 2, b: 3 }), 207);
    const body = json(res);
    expect(body.updated).toEqual(['b']);
    expect(body.notUpdated).toEqual([{ attributeName: 'a', reason: expect.any(String) }]);
    const e = await c.entity(id);
    expect(e.a.value).toBe(1);
    expect(e.b.value).toBe(3);
  });

  test('a new datasetId is added as another instance', async () => {
    const id = uid();
    await c.create({ id, type: 'T', s: { type: 'Property', value: 1 } });
    expectStatus(await c.post(entityUrl(id, '/attrs'), { s: { type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:2' } }), 204);
    const e = await c.entity(id);
    expect(e.s).toEqual(expect.arrayContaining([{ type: 'Property', value: 1 }, { type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:2' }]));
  });

  test('404 for a missing entity, 400 for an unknown option', async () => {
    expectProblem(await c.post(entityUrl(uid(), '/attrs'), { a: 1 }), 404, 'ResourceNotFound');
    const id = uid();
    await c.create({ id, type: 'T' });
    expectProblem(await c.post(entityUrl(id, '/attrs?options=bogus'), { a: 1 }), 400, 'BadRequestData');
  });
});

describe('PATCH /entities/{id}/attrs (update)', () => {
  test('204 when all exist', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, b: 2 });
    expectStatus(await c.patch(entityUrl(id, '/attrs'), { a: 10, b: { type: 'Property', value: 20, unitCode: 'C' } }), 204);
    const e = await c.entity(id);
    expect(e.a.value).toBe(10);
    expect(e.b).toEqual({ type: 'Property', value: 20, unitCode: 'C' });
  });

  test('207 listing the missing attributes; existing ones updated', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    const body = json(expectStatus(await c.patch(entityUrl(id, '/attrs'), { a: 2, missing: 3 }), 207));
    expect(body.updated).toEqual(['a']);
    expect(body.notUpdated).toEqual([{ attributeName: 'missing', reason: expect.any(String) }]);
    const e = await c.entity(id);
    expect(e.a.value).toBe(2);
    expect(e.missing).toBeUndefined();
  });

  test('merge-patch content type is refused here (415)', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    expectProblem(await c.patch(entityUrl(id, '/attrs'), { a: 2 }, { 'content-type': 'application/merge-patch+json' }), 415, 'InvalidRequest');
    expect((await c.entity(id)).a.value).toBe(1);
  });

  test('404 for a missing entity', async () => {
    expectProblem(await c.patch(entityUrl(uid(), '/attrs'), { a: 1 }), 404, 'ResourceNotFound');
  });
});

describe('PATCH /entities/{id}/attrs/{attr} (partial update)', () => {
  test('patches members, keeps the rest, sub-attributes merged', async () => {
    const id = uid();
    await c.create({ id, type: 'T', t: { type: 'Property', value: 20, unitCode: 'CEL', acc: { type: 'Property', value: 1 } } });
    expectStatus(await c.patch(entityUrl(id, '/attrs/t'), { value: 25, src: { type: 'Property', value: 'x' } }), 204);
    expect((await c.entity(id)).t).toEqual({
      type: 'Property', value: 25, unitCode: 'CEL', acc: { type: 'Property', value: 1 }, src: { type: 'Property', value: 'x' },
    });
  });

  test('datasetId selects the instance; missing datasetId → 404', async () => {
    const id = uid();
    await c.create({ id, type: 'T', s: [{ type: 'Property', value: 1 }, { type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:b' }] });
    expectStatus(await c.patch(entityUrl(id, '/attrs/s'), { value: 22, datasetId: 'urn:ngsi-ld:Dataset:b' }), 204);
    const e = await c.entity(id);
    expect(e.s).toEqual(expect.arrayContaining([{ type: 'Property', value: 1 }, { type: 'Property', value: 22, datasetId: 'urn:ngsi-ld:Dataset:b' }]));
    expectProblem(await c.patch(entityUrl(id, '/attrs/s'), { value: 3, datasetId: 'urn:ngsi-ld:Dataset:none' }), 404, 'ResourceNotFound');
  });

  test('404 for a missing attribute or entity', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    expectProblem(await c.patch(entityUrl(id, '/attrs/zzz'), { value: 1 }), 404, 'ResourceNotFound');
    expectProblem(await c.patch(entityUrl(uid(), '/attrs/a'), { value: 1 }), 404, 'ResourceNotFound');
  });
});

describe('PUT /entities/{id}/attrs/{attr} (replace attribute)', () => {
  test('replaces the whole instance (members not given are gone)', async () => {
    const id = uid();
    await c.create({ id, type: 'T', t: { type: 'Property', value: 20, unitCode: 'CEL' } });
    expectStatus(await c.put(entityUrl(id, '/attrs/t'), { type: 'Property', value: 30 }), 204);
    expect((await c.entity(id)).t).toEqual({ type: 'Property', value: 30 });
  });

  test('can change the kind', async () => {
    const id = uid();
    await c.create({ id, type: 'T', t: 1 });
    expectStatus(await c.put(entityUrl(id, '/attrs/t'), { type: 'Relationship', object: 'urn:ngsi-ld:X:9' }), 204);
    expect((await c.entity(id)).t).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:X:9' });
  });

  test('404 for a missing attribute', async () => {
    const id = uid();
    await c.create({ id, type: 'T' });
    expectProblem(await c.put(entityUrl(id, '/attrs/nope'), { type: 'Property', value: 1 }), 404, 'ResourceNotFound');
  });
});

describe('DELETE /entities/{id}/attrs/{attr}', () => {
  const multi = (id: string) => ({
    id,
    type: 'T',
    s: [
      { type: 'Property', value: 0 },
      { type: 'Property', value: 1, datasetId: 'urn:ngsi-ld:Dataset:1' },
      { type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:2' },
    ],
  });

  test('default instance only, then by datasetId, then 404', async () => {
    const id = uid();
    await c.create(multi(id));
    expectStatus(await c.del(entityUrl(id, '/attrs/s')), 204);
    let e = await c.entity(id);
    expect(e.s).toHaveLength(2);
    expectStatus(await c.del(entityUrl(id, `/attrs/s?datasetId=${encodeURIComponent('urn:ngsi-ld:Dataset:1')}`)), 204);
    e = await c.entity(id);
    expect(e.s).toEqual({ type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:2' });
    expectProblem(await c.del(entityUrl(id, `/attrs/s?datasetId=${encodeURIComponent('urn:ngsi-ld:Dataset:1')}`)), 404, 'ResourceNotFound');
  });

  test('deleteAll=true removes every instance', async () => {
    const id = uid();
    await c.create(multi(id));
    expectStatus(await c.del(entityUrl(id, '/attrs/s?deleteAll=true')), 204);
    expect((await c.entity(id)).s).toBeUndefined();
  });

  test('datasetId with deleteAll → 400; missing attribute/entity → 404', async () => {
    const id = uid();
    await c.create(multi(id));
    expectProblem(await c.del(entityUrl(id, '/attrs/s?deleteAll=true&datasetId=urn:ngsi-ld:Dataset:1')), 400, 'BadRequestData');
    expectProblem(await c.del(entityUrl(id, '/attrs/nope')), 404, 'ResourceNotFound');
    expectProblem(await c.del(entityUrl(uid(), '/attrs/s')), 404, 'ResourceNotFound');
    expect((await c.entity(id)).s).toHaveLength(3);
  });

  test('modifiedAt of the entity advances', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1, b: 2 });
    const before = (await c.entity(id, '?options=sysAttrs')).modifiedAt;
    await new Promise((r) => setTimeout(r, 5));
    expectStatus(await c.del(entityUrl(id, '/attrs/a')), 204);
    expect((await c.entity(id, '?options=sysAttrs')).modifiedAt > before).toBe(true);
  });
});

describe('modifiedAt / createdAt of attributes across updates', () => {
  test('an overwritten attribute keeps createdAt, gets a new modifiedAt', async () => {
    const id = uid();
    await c.create({ id, type: 'T', a: 1 });
    const first = (await c.entity(id, '?options=sysAttrs')).a;
    await new Promise((r) => setTimeout(r, 5));
    expectStatus(await c.patch(entityUrl(id, '/attrs'), { a: 2 }), 204);
    const second = (await c.entity(id, '?options=sysAttrs')).a;
    expect(second.createdAt).toBe(first.createdAt);
    expect(second.modifiedAt > first.modifiedAt).toBe(true);
  });
});
