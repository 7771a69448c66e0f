import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { BASE, client, entityUrl, expectProblem, expectStatus, json, uid, type Client } from '../helpers/ngsi';

/**
 * Error paths: every error is a problem-details body with an ETSI type, and a rejected write
 * leaves the store as it was. The app runs with a small body limit (2048 bytes) to test 413.
 */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp({ BODY_LIMIT: '2048', MAX_JSON_DEPTH: '8' }));
  c = client(app);
});
afterAll(async () => app?.close());

/** Creates an entity and returns a function that asserts it is still exactly as created. */
async function fixture(): Promise<{ id: string; unchanged: () => Promise<void> }> {
  const id = uid();
  await c.create({ id, type: 'T', a: { type: 'Property', value: 1 }, r: { type: 'Relationship', object: 'urn:ngsi-ld:X:1' } });
  const before = await c.entity(id, '?options=sysAttrs');
  return { id, unchanged: async () => expect(await c.entity(id, '?options=sysAttrs')).toEqual(before) };
}

const rawPost = (url: string, payload: string, contentType?: string) =>
  c.inject({ method: 'POST', url, payload, headers: contentType ? { 'content-type': contentType } : {} });

describe('request bodies', () => {
  test('invalid JSON → 400', async () => {
    const id = uid();
    expectProblem(await rawPost(`${BASE}/entities`, `{"id":"${id}","type":"T",`, 'application/json'), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test('empty body → 400', async () => {
    const res = await rawPost(`${BASE}/entities`, '', 'application/json');
    expect(res.statusCode).toBe(400);
    expectProblem(res, 400, json(res).type.split('/').pop());
  });

  test('a JSON body that is not an object → 400', async () => {
    for (const body of ['[]', '"x"', '42', 'null']) {
      expectProblem(await rawPost(`${BASE}/entities`, body, 'application/json'), 400, 'BadRequestData');
    }
    expectProblem(await rawPost(`${BASE}/entityOperations/create`, '{}', 'application/json'), 400, 'BadRequestData');
  });

  test('oversized body → 413 with a problem body; nothing stored', async () => {
    const id = uid();
    const res = await c.post(`${BASE}/entities`, { id, type: 'T', big: 'x'.repeat(4000) });
    expectProblem(res, 413, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    const batch = await c.post(`${BASE}/entityOperations/upsert`, Array.from({ length: 50 }, () => ({ id: uid(), type: 'T' })));
    expectProblem(batch, 413, 'BadRequestData');
  });

  test('JSON nested deeper than MAX_JSON_DEPTH → 400; nothing stored', async () => {
    const id = uid();
    let deep: unknown = 1;
    for (let i = 0; i < 12; i++) deep = { x: deep };
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T', p: { type: 'Property', value: deep } }), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    // deeply nested arrays too
    expectProblem(await rawPost(`${BASE}/entityOperations/create`, '['.repeat(20) + ']'.repeat(20), 'application/json'), 400, 'BadRequestData');
  });
});

describe('Content-Type', () => {
  test('unsupported Content-Type → 415', async () => {
    const id = uid();
    expectProblem(await rawPost(`${BASE}/entities`, JSON.stringify({ id, type: 'T' }), 'text/plain'), 415, 'InvalidRequest');
    expectProblem(await rawPost(`${BASE}/entities`, `<entity/>`, 'application/xml'), 415, 'InvalidRequest');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test('a body without Content-Type → 415', async () => {
    const id = uid();
    const res = await c.inject({ method: 'POST', url: `${BASE}/entities`, payload: Buffer.from(JSON.stringify({ id, type: 'T' })) });
    expectProblem(res, 415, 'InvalidRequest');
  });

  test('Content-Type parameters (charset) are fine', async () => {
    const id = uid();
    expectStatus(await rawPost(`${BASE}/entities`, JSON.stringify({ id, type: 'T' }), 'application/json; charset=utf-8'), 201);
  });

  test('application/merge-patch+json is accepted only on PATCH /entities/{id}', async () => {
    const f = await fixture();
    const mp = { 'content-type': 'application/merge-patch+json' };
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T' }, mp), 415, 'InvalidRequest');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    expectProblem(await c.put(entityUrl(f.id), { type: 'T', z: 1 }, mp), 415, 'InvalidRequest');
    expectProblem(await c.post(entityUrl(f.id, '/attrs'), { z: 1 }, mp), 415, 'InvalidRequest');
    expectProblem(await c.patch(entityUrl(f.id, '/attrs'), { a: 2 }, mp), 415, 'InvalidRequest');
    expectProblem(await c.patch(entityUrl(f.id, '/attrs/a'), { value: 2 }, mp), 415, 'InvalidRequest');
    expectProblem(await c.put(entityUrl(f.id, '/attrs/a'), { type: 'Property', value: 2 }, mp), 415, 'InvalidRequest');
    expectProblem(await c.post(`${BASE}/entityOperations/upsert`, [{ id: f.id, type: 'T' }], mp), 415, 'InvalidRequest');
    expectProblem(await c.post(`${BASE}/entityOperations/merge`, [{ id: f.id, a: 5 }], mp), 415, 'InvalidRequest');
    expectProblem(await c.post(`${BASE}/jsonldContexts`, { '@context': { a: 'http://a/' } }, mp), 415, 'InvalidRequest');
    await f.unchanged();
    expectStatus(await c.patch(entityUrl(f.id), { a: 2 }, mp), 204);
  });

  test('application/geo+json is not a request body type for writes', async () => {
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T' }, { 'content-type': 'application/geo+json' }), 415, 'InvalidRequest');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test('415 on PATCH carries Accept-Patch', async () => {
    const f = await fixture();
    const res = await c.patch(entityUrl(f.id), { a: 1 }, { 'content-type': 'application/geo+json' });
    expectProblem(res, 415, 'InvalidRequest');
    expect(res.headers['accept-patch']).toContain('application/merge-patch+json');
    const attrs = await c.patch(entityUrl(f.id, '/attrs'), { a: 1 }, { 'content-type': 'application/merge-patch+json' });
    expectProblem(attrs, 415, 'InvalidRequest');
    expect(attrs.headers['accept-patch']).toBe('application/json, application/ld+json');
    await f.unchanged();
  });
});

describe('identifiers and parameters', () => {
  test('entity ids that are not URIs → 400', async () => {
    for (const bad of ['no-scheme', 'urn:has space', 'x'.repeat(10), 'a'.repeat(300) + ':x']) {
      expectProblem(await c.post(`${BASE}/entities`, { id: bad, type: 'T' }), 400, 'BadRequestData');
      expectProblem(await c.get(entityUrl(bad)), 400, 'BadRequestData');
    }
    expectProblem(await c.post(`${BASE}/entities`, { id: 42, type: 'T' }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/entities`, { type: 'T' }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/entities`, { id: uid() }), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?id=notauri`), 400, 'BadRequestData');
  });

  test('invalid type names → 400', async () => {
    for (const bad of ['', 'a b', 'x(y)', 42, [], ['ok', 1]]) {
      expectProblem(await c.post(`${BASE}/entities`, { id: uid(), type: bad }), 400, 'BadRequestData');
    }
    expectProblem(await c.get(`${BASE}/entities?type=${encodeURIComponent('A;(B')}`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?type=`), 400, 'BadRequestData');
  });

  test('invalid idPattern → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?idPattern=${encodeURIComponent('(')}`), 400, 'BadRequestData');
  });

  test('unknown options → 400', async () => {
    const f = await fixture();
    expectProblem(await c.get(entityUrl(f.id, '?options=fancy')), 400, 'BadRequestData');
    expectProblem(await c.post(entityUrl(f.id, '/attrs?options=replace'), { z: 1 }), 400, 'BadRequestData');
    await f.unchanged();
  });

  test('invalid query parameter types → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?type=T&count=maybe`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?type=T&offset=x`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/types?details=perhaps`), 400, 'BadRequestData');
  });

  test('unknown route → 404 problem', async () => {
    expectProblem(await c.get(`${BASE}/nothing-here`), 404, 'ResourceNotFound');
  });
});

describe('attribute shapes', () => {
  const bad: [string, unknown][] = [
    ['Property without value', { type: 'Property' }],
    ['Relationship without object', { type: 'Relationship' }],
    ['Relationship to a non-URI', { type: 'Relationship', object: 'not a uri' }],
    ['Relationship with value', { type: 'Relationship', value: 'urn:x:y' }],
    ['Relationship object number', { type: 'Relationship', object: 5 }],
    ['ListRelationship non-array', { type: 'ListRelationship', objectList: 'urn:x:1' }],
    ['unknown attribute type', { type: 'Proprety', value: 1 }],
    ['GeoProperty with invalid geometry', { type: 'GeoProperty', value: { type: 'Point', coordinates: [500, 1] } }],
    ['GeoProperty with non-geometry', { type: 'GeoProperty', value: 'here' }],
    ['LanguageProperty with non-object', { type: 'LanguageProperty', languageMap: 'hello' }],
    ['LanguageProperty with bad tag', { type: 'LanguageProperty', languageMap: { 'not a tag': 'x' } }],
    ['LanguageProperty with number', { type: 'LanguageProperty', languageMap: { en: 5 } }],
    ['ListProperty non-array', { type: 'ListProperty', valueList: 5 }],
    ['VocabProperty non-string', { type: 'VocabProperty', vocab: 5 }],
    ['invalid observedAt', { type: 'Property', value: 1, observedAt: 'yesterday' }],
    ['impossible observedAt', { type: 'Property', value: 1, observedAt: '2024-02-30T00:00:00Z' }],
    ['empty unitCode', { type: 'Property', value: 1, unitCode: '' }],
    ['datasetId not a URI', { type: 'Property', value: 1, datasetId: 'ds 1' }],
    ['duplicate datasetId', [{ type: 'Property', value: 1, datasetId: 'urn:d:1' }, { type: 'Property', value: 2, datasetId: 'urn:d:1' }]],
    ['two default instances', [{ type: 'Property', value: 1 }, { type: 'Property', value: 2 }]],
    ['null', null],
    ['NGSI-LD null on create', { type: 'Property', value: 'urn:ngsi-ld:null' }],
    ['two value members', { value: 1, object: 'urn:x:1' }],
    ['objectType on a Property', { type: 'Property', value: 1, objectType: 'T' }],
    ['sub-attribute null', { type: 'Property', value: 1, sub: null }],
  ];

  test.each(bad)('%s → 400 and nothing stored', async (_name, attr) => {
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T', attr }), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test.each(bad.filter(([n]) => !n.startsWith('two default') && n !== 'null'))('%s → 400 on append/update/replace, entity unchanged', async (_name, attr) => {
    const f = await fixture();
    expectProblem(await c.post(entityUrl(f.id, '/attrs'), { attr }), 400, 'BadRequestData');
    expectProblem(await c.patch(entityUrl(f.id, '/attrs'), { a: attr }), 400, 'BadRequestData');
    expectProblem(await c.put(entityUrl(f.id), { type: 'T', attr }), 400, 'BadRequestData');
    await f.unchanged();
  });

  test('location must be a GeoProperty', async () => {
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T', location: { type: 'Property', value: 'Sondrio' } }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T', location: 'Sondrio' }), 400, 'BadRequestData');
  });

  test('forbidden characters in attribute names', async () => {
    for (const name of ['a b', 'a<b', 'a"b', 'a=b', 'a;b', 'a(b', '@id']) {
      expectProblem(await c.post(`${BASE}/entities`, { id: uid(), type: 'T', [name]: 1 }), 400, 'BadRequestData');
    }
  });

  test('a bad attribute in a merge leaves the entity unchanged', async () => {
    const f = await fixture();
    expectProblem(await c.patch(entityUrl(f.id), { a: 2, b: { type: 'Relationship', object: 'bad uri' } }), 400, 'BadRequestData');
    expectProblem(await c.patch(entityUrl(f.id), { id: uid(), a: 3 }), 400, 'BadRequestData');
    await f.unchanged();
  });

  test('partial attribute update: NGSI-LD Null value → 400; kind mismatch fields → 400', async () => {
    const f = await fixture();
    expectProblem(await c.patch(entityUrl(f.id, '/attrs/a'), { value: 'urn:ngsi-ld:null' }), 400, 'BadRequestData');
    expectProblem(await c.patch(entityUrl(f.id, '/attrs/a'), { object: 'urn:x:1', value: 1 }), 400, 'BadRequestData');
    expectProblem(await c.put(entityUrl(f.id, '/attrs/a'), { type: 'Property' }), 400, 'BadRequestData');
    await f.unchanged();
  });

  test('invalid scope → 400', async () => {
    for (const scope of ['noslash', '/a//b', '/a#', 5, '/a b']) {
      expectProblem(await c.post(`${BASE}/entities`, { id: uid(), type: 'T', scope }), 400, 'BadRequestData');
    }
  });
});

describe('error body format', () => {
  test('application/problem+json by default, application/json when that is all the client accepts', async () => {
    const a = await c.get(entityUrl(uid()));
    expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
    const b = await c.get(entityUrl(uid()), { accept: 'application/json' });
    expect(b.headers['content-type']).toMatch(/^application\/json/);
    expectProblem(b, 404, 'ResourceNotFound');
  });

  test('validation errors of the request schema are BadRequestData problems', async () => {
    const res = await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: 'T', bogus: 1 }] });
    expectProblem(res, 400, 'BadRequestData');
  });

  test('a store error is not leaked as 500 for user input (invalid regex in idPattern that PostgreSQL rejects)', async () => {
    const res = await c.get(`${BASE}/entities?idPattern=${encodeURIComponent('(?<name>x)')}`);
    expect(res.statusCode).toBeLessThan(500);
  });
});
