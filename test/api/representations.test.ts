import type { FastifyInstance } from 'fastify';
import { openTestApp, CORE_V18 } from '../helpers/app';
import { BASE, client, entityUrl, expectProblem, expectStatus, json, uid, utype, type Client } from '../helpers/ngsi';

/** Representations (spec 4.5): normalized, concise, keyValues, GeoJSON; content negotiation (6.3.4). */

let app: FastifyInstance;
let c: Client;

const T = utype('Rep');
const point = (lon: number, lat: number) => ({ type: 'Point', coordinates: [lon, lat] });

const sample = (id: string) => ({
  id,
  type: T,
  temperature: { type: 'Property', value: 21, unitCode: 'CEL', accuracy: { type: 'Property', value: 0.2 } },
  plain: { type: 'Property', value: 'x' },
  owner: { type: 'Relationship', object: 'urn:ngsi-ld:Person:1' },
  stops: { type: 'ListRelationship', objectList: [{ object: 'urn:ngsi-ld:Stop:1' }] },
  name: { type: 'LanguageProperty', languageMap: { en: 'Bridge', it: 'Ponte' } },
  kind: { type: 'VocabProperty', vocab: 'bridge' },
  doc: { type: 'JsonProperty', json: { a: [1, 2] } },
  list: { type: 'ListProperty', valueList: [3, 2, 1] },
  location: { type: 'GeoProperty', value: point(9.85, 46.26) },
  area: { type: 'GeoProperty', value: point(9.9, 46.3) },
  speed: [
    { type: 'Property', value: 1, datasetId: 'urn:ngsi-ld:Dataset:a' },
    { type: 'Property', value: 2 },
  ],
});

const A = `urn:ngsi-ld:${T}:a`;
const B = `urn:ngsi-ld:${T}:b`;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  await c.create(sample(A));
  await c.create({ id: B, type: T, n: 1 });
});
afterAll(async () => app?.close());

const linkOf = (res: { headers: Record<string, unknown> }) => res.headers.link as string | undefined;

describe('normalized, concise, keyValues', () => {
  test('keyValues', async () => {
    const e = await c.entity(A, '?options=keyValues');
    expect(e.id).toBe(A);
    expect(e.type).toBe(T);
    expect(e.temperature).toBe(21);
    expect(e.owner).toBe('urn:ngsi-ld:Person:1');
    expect(e.location).toEqual(point(9.85, 46.26));
    expect(e.name).toEqual({ languageMap: { en: 'Bridge', it: 'Ponte' } });
    expect(e.kind).toEqual({ vocab: 'bridge' });
    expect(e.doc).toEqual({ json: { a: [1, 2] } });
    expect(e.list).toEqual({ valueList: [3, 2, 1] });
    expect(e.stops).toEqual({ objectList: ['urn:ngsi-ld:Stop:1'] });
  });

  test('concise', async () => {
    const e = await c.entity(A, '?options=concise');
    expect(e.plain).toBe('x');
    expect(e.temperature).toEqual({ value: 21, unitCode: 'CEL', accuracy: 0.2 });
    expect(e.owner).toEqual({ object: 'urn:ngsi-ld:Person:1' });
    expect(e.location).toEqual(point(9.85, 46.26));
    expect(e.name).toEqual({ languageMap: { en: 'Bridge', it: 'Ponte' } });
    expect(e.kind).toEqual({ vocab: 'bridge' });
    expect(e.list).toEqual({ valueList: [3, 2, 1] });
  });

  test('concise output posted back gives the same entity (lossless)', async () => {
    const concise = await c.entity(A, '?options=concise');
    const copy = uid(T);
    await c.create({ ...concise, id: copy });
    const original = await c.entity(A);
    const roundTrip = await c.entity(copy);
    expect({ ...roundTrip, id: A }).toEqual(original);
  });

  test('format=concise equals options=concise; format=normalized is the default', async () => {
    expect(await c.entity(A, '?format=concise')).toEqual(await c.entity(A, '?options=concise'));
    expect(await c.entity(A, '?format=normalized')).toEqual(await c.entity(A));
    expect(await c.entity(A, '?options=normalized')).toEqual(await c.entity(A));
  });
});

describe('application/json and application/ld+json', () => {
  test('application/json: Link header to the core context, no @context in the body', async () => {
    const res = expectStatus(await c.get(entityUrl(A)), 200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(linkOf(res)).toBe(`<${CORE_V18}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`);
    expect(json(res)['@context']).toBeUndefined();
  });

  test('application/ld+json: @context in the body, no Link header', async () => {
    const res = expectStatus(await c.get(entityUrl(A), { accept: 'application/ld+json' }), 200);
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(linkOf(res)).toBeUndefined();
    expect(json(res)['@context']).toEqual(expect.anything());
  });

  test('ld+json on queries: every entity carries @context', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${T}`, { accept: 'application/ld+json' }), 200);
    expect(linkOf(res)).toBeUndefined();
    for (const e of json(res)) expect(e['@context']).toEqual(expect.anything());
  });

  test('queries in application/json carry the Link header', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${T}`), 200);
    expect(linkOf(res)).toContain(CORE_V18);
  });

  test('wildcards and q-values', async () => {
    expect((await c.get(entityUrl(A), { accept: '*/*' })).headers['content-type']).toMatch(/^application\/json/);
    expect((await c.get(entityUrl(A), { accept: 'application/*' })).headers['content-type']).toMatch(/^application\/json/);
    const res = await c.get(entityUrl(A), { accept: 'application/json;q=0.5, application/ld+json;q=0.9' });
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    const res2 = await c.get(entityUrl(A), { accept: 'text/html, application/json' });
    expect(res2.headers['content-type']).toMatch(/^application\/json/);
  });

  test('406 for an unsupported Accept', async () => {
    expectProblem(await c.get(entityUrl(A), { accept: 'text/html' }), 406, 'InvalidRequest');
    expectProblem(await c.get(`${BASE}/entities?type=${T}`, { accept: 'application/xml' }), 406, 'InvalidRequest');
    expectProblem(await c.get(`${BASE}/types`, { accept: 'application/geo+json' }), 406, 'InvalidRequest');
    expectProblem(await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ type: T }] }, { accept: 'text/plain' }), 406, 'InvalidRequest');
  });
});

describe('GeoJSON', () => {
  test('one entity → Feature, geometry from location', async () => {
    const res = expectStatus(await c.get(entityUrl(A), { accept: 'application/geo+json' }), 200);
    expect(res.headers['content-type']).toMatch(/^application\/geo\+json/);
    const f = json(res);
    expect(f.type).toBe('Feature');
    expect(f.id).toBe(A);
    expect(f.geometry).toEqual(point(9.85, 46.26));
    expect(f.properties.type).toBe(T);
    expect(f.properties.temperature).toEqual(sample(A).temperature);
    expect(f.properties.id).toBeUndefined();
    expect(linkOf(res)).toContain(CORE_V18);
  });

  test('keyValues in GeoJSON, geometryProperty picks another GeoProperty', async () => {
    const f = json(expectStatus(await c.get(entityUrl(A, '?options=keyValues&geometryProperty=area'), { accept: 'application/geo+json' }), 200));
    expect(f.geometry).toEqual(point(9.9, 46.3));
    expect(f.properties.temperature).toBe(21);
  });

  test('entity without location → geometry null', async () => {
    const f = json(expectStatus(await c.get(entityUrl(B), { accept: 'application/geo+json' }), 200));
    expect(f.geometry).toBeNull();
  });

  test('queries → FeatureCollection', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${T}&id=${A},${B}`, { accept: 'application/geo+json' }), 200);
    const fc = json(res);
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features.map((f: any) => f.id).sort()).toEqual([A, B].sort());
    for (const f of fc.features) expect(f.type).toBe('Feature');
  });

  test('POST /entityOperations/query with geo+json', async () => {
    const res = await c.post(`${BASE}/entityOperations/query`, { type: 'Query', entities: [{ id: A, type: T }] }, { accept: 'application/geo+json' });
    const fc = json(expectStatus(res, 200));
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(1);
  });
});

describe('multi-instance attributes', () => {
  test('normalized: an array; keyValues: dataset by datasetId', async () => {
    expect((await c.entity(A)).speed).toHaveLength(2);
    const kv = await c.entity(A, '?options=keyValues');
    expect(kv.speed).toEqual({ dataset: { 'urn:ngsi-ld:Dataset:a': 1, '@none': 2 } });
  });
});
