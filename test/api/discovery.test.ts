import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader } from '../helpers/app';
import { BASE, DEFAULT_VOCAB, client, expectProblem, expectStatus, json, type Client } from '../helpers/ngsi';

/** Discovery (spec 5.7.5–5.7.10): /types and /attributes, in a tenant of their own. */

let app: FastifyInstance;
let c: Client;
const TENANT = { 'NGSILD-Tenant': 'discovery' };
const H = TENANT;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  const res = await c.post(
    `${BASE}/entityOperations/create`,
    [
      { id: 'urn:ngsi-ld:Building:1', type: 'Building', name: 'a', owner: { type: 'Relationship', object: 'urn:ngsi-ld:P:1' }, location: { type: 'Point', coordinates: [9, 46] } },
      { id: 'urn:ngsi-ld:Building:2', type: 'Building', name: 'b' },
      { id: 'urn:ngsi-ld:Streetlight:1', type: 'Streetlight', name: 'c', status: 'on' },
    ],
    H,
  );
  expectStatus(res, 201);
});
afterAll(async () => app?.close());

describe('/types', () => {
  test('EntityTypeList', async () => {
    const res = expectStatus(await c.get(`${BASE}/types`, H), 200);
    const body = json(res);
    expect(body).toEqual({ id: expect.stringMatching(/^urn:ngsi-ld:EntityTypeList:/), type: 'EntityTypeList', typeList: ['Building', 'Streetlight'] });
    expect(res.headers.link).toBeDefined();
  });

  test('details=true: EntityType objects', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/types?details=true`, H), 200));
    // the order of the lists is not specified
    for (const t of body) t.attributeNames.sort();
    expect(body).toEqual([
      { id: `${DEFAULT_VOCAB}Building`, type: 'EntityType', typeName: 'Building', attributeNames: ['location', 'name', 'owner'] },
      { id: `${DEFAULT_VOCAB}Streetlight`, type: 'EntityType', typeName: 'Streetlight', attributeNames: ['name', 'status'] },
    ]);
  });

  test('/types/{type}: EntityTypeInfo', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/types/Building`, H), 200));
    expect(body).toEqual(
      expect.objectContaining({ id: `${DEFAULT_VOCAB}Building`, type: 'EntityTypeInfo', typeName: 'Building', entityCount: 2 }),
    );
    const attrs = Object.fromEntries(body.attributeDetails.map((a: any) => [a.attributeName, a]));
    expect(attrs.owner).toEqual({ id: `${DEFAULT_VOCAB}owner`, type: 'Attribute', attributeName: 'owner', attributeTypes: ['Relationship'] });
    expect(attrs.location.attributeTypes).toEqual(['GeoProperty']);
    expect(attrs.name.attributeTypes).toEqual(['Property']);
  });

  test('/types/{type} by full IRI', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/types/${encodeURIComponent(DEFAULT_VOCAB + 'Streetlight')}`, H), 200));
    expect(body.entityCount).toBe(1);
  });

  test('/types/{type} unknown → 404', async () => {
    expectProblem(await c.get(`${BASE}/types/Nope`, H), 404, 'ResourceNotFound');
  });

  test('ld+json: @context in the body, no Link', async () => {
    const res = expectStatus(await c.get(`${BASE}/types`, { ...H, accept: 'application/ld+json' }), 200);
    expect(json(res)['@context']).toBeDefined();
    expect(res.headers.link).toBeUndefined();
    const one = expectStatus(await c.get(`${BASE}/types/Building`, { ...H, accept: 'application/ld+json' }), 200);
    expect(json(one)['@context']).toBeDefined();
  });

  test('names compacted with the Link context', async () => {
    const ctx = 'https://smart-data-models.github.io/dataModel.Streetlighting/context.jsonld';
    const body = json(expectStatus(await c.get(`${BASE}/types`, { ...H, link: linkHeader(ctx) }), 200));
    // default-vocabulary types are not terms of that context: still recognisable
    expect(body.typeList).toHaveLength(2);
  });

  test('an empty tenant has empty lists', async () => {
    await c.create({ id: 'urn:ngsi-ld:X:1', type: 'X' }, { 'NGSILD-Tenant': 'emptied' });
    expectStatus(await c.del(`${BASE}/entities/urn:ngsi-ld:X:1`, { 'NGSILD-Tenant': 'emptied' }), 204);
    expect(json(await c.get(`${BASE}/types`, { 'NGSILD-Tenant': 'emptied' })).typeList).toEqual([]);
    expect(json(await c.get(`${BASE}/types?details=true`, { 'NGSILD-Tenant': 'emptied' }))).toEqual([]);
    expect(json(await c.get(`${BASE}/attributes`, { 'NGSILD-Tenant': 'emptied' })).attributeList).toEqual([]);
  });
});

describe('/attributes', () => {
  test('AttributeList', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/attributes`, H), 200));
    body.attributeList.sort();
    expect(body).toEqual({
      id: expect.stringMatching(/^urn:ngsi-ld:AttributeList:/),
      type: 'AttributeList',
      attributeList: ['location', 'name', 'owner', 'status'],
    });
  });

  test('details=true: Attribute objects', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/attributes?details=true`, H), 200));
    const name = body.find((a: any) => a.attributeName === 'name');
    expect(name).toEqual({
      id: `${DEFAULT_VOCAB}name`,
      type: 'Attribute',
      attributeName: 'name',
      attributeCount: 3,
      attributeTypes: ['Property'],
      typeNames: ['Building', 'Streetlight'],
    });
    expect(body).toHaveLength(4);
  });

  test('/attributes/{attr}', async () => {
    const body = json(expectStatus(await c.get(`${BASE}/attributes/owner`, H), 200));
    expect(body).toEqual({
      id: `${DEFAULT_VOCAB}owner`,
      type: 'Attribute',
      attributeName: 'owner',
      attributeCount: 1,
      attributeTypes: ['Relationship'],
      typeNames: ['Building'],
    });
  });

  test('/attributes/{attr} unknown → 404', async () => {
    expectProblem(await c.get(`${BASE}/attributes/nope`, H), 404, 'ResourceNotFound');
  });

  test('406 for geo+json', async () => {
    expectProblem(await c.get(`${BASE}/attributes`, { ...H, accept: 'application/geo+json' }), 406, 'InvalidRequest');
  });
});

describe('unknown tenant', () => {
  test('404 NonexistentTenant on every discovery endpoint', async () => {
    const t = { 'NGSILD-Tenant': 'neverwritten' };
    for (const url of ['/types', '/types?details=true', '/types/Building', '/attributes', '/attributes?details=true', '/attributes/name']) {
      expectProblem(await c.get(BASE + url, t), 404, 'NonexistentTenant');
    }
  });
});
