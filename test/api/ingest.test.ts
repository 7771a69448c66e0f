import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader } from '../helpers/app';
import { client, entityUrl, expectProblem, expectStatus, json, uid, type Client, type Res } from '../helpers/ngsi';
import { ENTITY_TYPES, SMARTLAND_CONTEXT_URL, SUPPORTED_TYPES } from '../../src/domain/sdm-types';
import { seedItems } from '../../src/domain/valmalenco';
import { ingestItems } from '../../src/ingest/ingest';

/**
 * Contractor API (/api/v1): every supported type pushed as JSON and read back through NGSI-LD,
 * partial failures, atomic requests, Idempotency-Key, validation errors (units, ranges, dates),
 * media types, bounds, GET /types, the OpenAPI document and our served @context.
 * NDJSON and CSV: ingest-csv.test.ts.
 */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
});
afterAll(async () => app?.close());

type Json = Record<string, any>;
const API = '/api/v1';
const WEATHER_CTX = ENTITY_TYPES.get('WeatherObserved')!.context;
const ROOT = join(__dirname, '..', '..');

/**
 * Known defects of the vendored examples (see test/unit/domain-mapping.test.ts, which checks they
 * are still there): the patched members.
 */
const EXAMPLE_PATCHES: Record<string, Json> = {
  AirQualityObserved: { dateObserved: '2016-03-15T11:00:00Z' },
  PublicTransportStop: {
    openingHoursSpecification: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'].map((dayOfWeek) => (
      { opens: '00:01:00Z', closes: '23:59:00Z', dayOfWeek })),
  },
  Action: { refProject: 'urn:ngsi-ld:Project:O.E.6.AY1' },
  Indicator: { refProject: 'urn:ngsi-ld:Project:O.E.6.AY1' },
  // modifiedAt is an NGSI-LD system member (the broker sets it): the API refuses it rather than drop it
  KeyPerformanceIndicator: { modifiedAt: undefined },
};

/** A valid keyValues item of a type: the vendored SDM example (patched), or our seed for our own types. */
function exampleOf(type: string): Json {
  if (ENTITY_TYPES.get(type)!.origin === 'smartland') return seedItems().find((i) => i.type === type)!;
  const { '@context': _ctx, ...item } = JSON.parse(readFileSync(join(ROOT, 'schemas', 'smart-data-models', type, 'example.jsonld'), 'utf8'));
  return JSON.parse(JSON.stringify({ ...item, ...EXAMPLE_PATCHES[type] }));
}

const push = (type: string, payload: unknown, headers: Record<string, string> = {}, query = ''): Promise<Res> =>
  c.post(`${API}/entities/${type}${query}`, payload, headers);

const weather = (extra: Json = {}): Json => ({
  id: uid('WeatherObserved'),
  type: 'WeatherObserved',
  dateObserved: '2024-05-01T10:00:00Z',
  location: { type: 'Point', coordinates: [9.85, 46.2667] },
  temperature: 12.5,
  relativeHumidity: 0.6,
  ...extra,
});

const exists = async (id: string, tenant?: string) =>
  (await c.get(entityUrl(id), tenant ? { 'NGSILD-Tenant': tenant } : {})).statusCode === 200;

/** The per-item results, checked for shape. */
function results(res: Res): { accepted: number; rejected: number; items: Json[] } {
  const body = json(res);
  expect(Object.keys(body).sort()).toEqual(['accepted', 'items', 'rejected']);
  expect(body.accepted + body.rejected).toBe(body.items.length);
  return body;
}

describe('every supported type, as JSON', () => {
  test.each(SUPPORTED_TYPES.map((t) => [t]))('%s: the example is accepted and readable as NGSI-LD with its @context', async (type) => {
    const item = exampleOf(type);
    const res = expectStatus(await push(type, item), 200);
    expect(results(res)).toEqual({ accepted: 1, rejected: 0, items: [{ index: 0, id: item.id, status: 'accepted' }] });

    const context = ENTITY_TYPES.get(type)!.context;
    const entity = await c.entity(item.id, '', { Link: linkHeader(context) });
    expect(entity.id).toBe(item.id);
    expect(entity.type).toBe(type);
    // every member is there, under its compact name
    for (const name of Object.keys(item)) {
      if (name === 'id' || name === 'type' || item[name] === null) continue;
      expect([name, entity[name] !== undefined]).toEqual([name, true]);
    }
  });

  test('an array of several types is refused per item: items must be of the URL type', async () => {
    const w = weather();
    const res = expectStatus(await push('WeatherObserved', [w, { ...exampleOf('ParkingSpot'), id: uid('ParkingSpot') }]), 207);
    const body = results(res);
    expect(body.items[0]).toEqual({ index: 0, id: w.id, status: 'accepted' });
    expect(body.items[1].status).toBe('rejected');
    expect(body.items[1].errors).toContainEqual({ pointer: '/type', reason: 'must be one of "WeatherObserved"' });
  });

  test('type may be left out (taken from the URL); an item @context is ignored', async () => {
    const { type: _t, ...w } = weather();
    const res = expectStatus(await push('WeatherObserved', { ...w, '@context': 'https://example.org/other.jsonld' }), 200);
    expect(results(res).accepted).toBe(1);
    const e = await c.entity(w.id, '?options=keyValues', { Link: linkHeader(WEATHER_CTX) });
    expect(e).toEqual(expect.objectContaining({ type: 'WeatherObserved', temperature: 12.5, relativeHumidity: 0.6 }));
  });

  test('a second push updates the members it sends and keeps the others', async () => {
    const w = weather();
    expectStatus(await push('WeatherObserved', w), 200);
    const { relativeHumidity: _left, ...rest } = w;
    expectStatus(await push('WeatherObserved', { ...rest, temperature: 14 }), 200);
    const e = await c.entity(w.id, '?options=keyValues', { Link: linkHeader(WEATHER_CTX) });
    expect([e.temperature, e.relativeHumidity]).toEqual([14, 0.6]);
  });

  test('temporal values are DateTime-typed and units come from the model', async () => {
    const w = weather();
    expectStatus(await push('WeatherObserved', w), 200);
    const e = await c.entity(w.id, '', { Link: linkHeader(WEATHER_CTX) });
    expect(e.dateObserved.value).toEqual({ '@type': 'DateTime', '@value': '2024-05-01T10:00:00Z' });
    expect(e.temperature).toEqual(expect.objectContaining({ type: 'Property', value: 12.5, unitCode: 'CEL' }));
    expect(e.location).toEqual(expect.objectContaining({ type: 'GeoProperty' }));
  });

  test('tenants: the entity lands in the NGSILD-Tenant tenant only', async () => {
    const w = weather();
    expectStatus(await push('WeatherObserved', w, { 'NGSILD-Tenant': 'contractor1' }), 200);
    expect(await exists(w.id, 'contractor1')).toBe(true);
    expect(await exists(w.id)).toBe(false);
  });
});

describe('partial failures and atomic requests', () => {
  test('207: good items stored, bad ones reported with pointer and reason', async () => {
    const good = [weather(), weather()];
    const bad = weather({ relativeHumidity: 65, dateObserved: 'yesterday' });
    const res = expectStatus(await push('WeatherObserved', [good[0], bad, good[1]]), 207);
    const body = results(res);
    expect([body.accepted, body.rejected]).toEqual([2, 1]);
    expect(body.items.map((i) => i.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(body.items[1]).toEqual({
      index: 1,
      id: bad.id,
      status: 'rejected',
      errors: expect.arrayContaining([
        { pointer: '/relativeHumidity', reason: 'must be <= 1' },
        { pointer: '/dateObserved', reason: 'must be a valid date-time' },
      ]),
    });
    for (const g of good) expect(await exists(g.id)).toBe(true);
    expect(await exists(bad.id)).toBe(false);
  });

  test('nothing accepted → 422 with the per-item results', async () => {
    const res = expectStatus(await push('WeatherObserved', [{ type: 'WeatherObserved' }, 42]), 422);
    const body = results(res);
    expect(body.items[0].errors).toContainEqual({ pointer: '/id', reason: 'is required' });
    expect(body.items[1].errors).toEqual([{ pointer: '/', reason: 'an item must be a JSON object' }]);
  });

  test('atomic=true with a bad item: 422, nothing written, valid items say so', async () => {
    const good = weather();
    const bad = weather({ temperature: '12.5 °C' });
    const res = expectStatus(await push('WeatherObserved', [good, bad], {}, '?atomic=true'), 422);
    const body = results(res);
    expect(body.accepted).toBe(0);
    expect(body.items[0]).toEqual({
      index: 0, id: good.id, status: 'rejected',
      errors: [{ pointer: '/', reason: 'valid, but not written: the atomic request has rejected items' }],
    });
    expect(body.items[1].errors).toEqual([{ pointer: '/temperature', reason: 'must be number' }]);
    expect(await exists(good.id)).toBe(false);
  });

  test('atomic=true, all valid: 200, all written', async () => {
    const items = [weather(), weather(), weather()];
    expect(results(expectStatus(await push('WeatherObserved', items, {}, '?atomic=true'), 200)).accepted).toBe(3);
    for (const i of items) expect(await exists(i.id)).toBe(true);
  });

  test('atomic=true with more items than one transaction takes → 400, nothing written', async () => {
    const items = Array.from({ length: 1001 }, () => weather());
    const p = expectProblem(await push('WeatherObserved', items, {}, '?atomic=true'), 400, 'BadRequestData');
    expect(p.detail).toMatch(/atomic request may hold at most 1000 items/);
    expect(await exists(items[0].id)).toBe(false);
  });

  test('more than one chunk (1000) without atomic: every item written and accepted', async () => {
    const prefix = uid('WeatherObserved');
    const items = Array.from({ length: 1500 }, (_, i) => weather({ id: `${prefix}-${i}` }));
    const body = results(expectStatus(await push('WeatherObserved', items), 200));
    expect(body.accepted).toBe(1500);
    expect(body.items[1499]).toEqual({ index: 1499, id: items[1499].id, status: 'accepted' });
    for (const i of [0, 999, 1000, 1499]) expect(await exists(items[i].id)).toBe(true);
  });

  test('a chunk the store fails: earlier chunks stay accepted, that one and later ones are "not written"', async () => {
    const items = Array.from({ length: 5 }, () => weather());
    let calls = 0;
    const broker = {
      batchUpsert: async (_t: string, entities: { id: string }[]) => {
        if (++calls === 2) throw new Error('disk full');
        return { success: entities.map((e) => e.id), errors: [] };
      },
    };
    const r = await ingestItems({ broker: broker as any, contexts: app.contexts }, '', 'WeatherObserved', items, { atomic: false, chunkSize: 2 });
    expect(r.retryable).toBe(true);
    expect(r.items.map((i) => i.status)).toEqual(['accepted', 'accepted', 'rejected', 'rejected', 'rejected']);
    expect(r.items[4].errors).toEqual([{ pointer: '/', reason: 'not written: an earlier chunk failed; retry' }]);
    expect(calls).toBe(2);
  });

  test('the same id twice in one request: both accepted, the later members win', async () => {
    const w = weather();
    expectStatus(await push('WeatherObserved', [w, { ...w, temperature: 20 }]), 200);
    expect((await c.entity(w.id, '?options=keyValues', { Link: linkHeader(WEATHER_CTX) })).temperature).toBe(20);
  });
});

describe('validation: wrong units, out-of-range values, bad dates', () => {
  const rejected = async (type: string, item: Json): Promise<Json[]> => {
    const body = results(expectStatus(await push(type, item), 422));
    return body.items[0].errors;
  };

  test('a percentage where the model wants a fraction (relativeHumidity 0..1)', async () => {
    expect(await rejected('WeatherObserved', weather({ relativeHumidity: 87 }))).toEqual([{ pointer: '/relativeHumidity', reason: 'must be <= 1' }]);
  });

  test('a value with its unit in a string instead of a number', async () => {
    expect(await rejected('WeatherObserved', weather({ temperature: '12.5 °C' }))).toEqual([{ pointer: '/temperature', reason: 'must be number' }]);
  });

  test('negative precipitation, speed and an unknown enum value', async () => {
    const errors = await rejected('WeatherObserved', weather({ precipitation: -3, windSpeed: -1, pressureTendency: 'wobbly' }));
    expect(errors).toEqual(expect.arrayContaining([
      { pointer: '/precipitation', reason: 'must be >= 0' },
      { pointer: '/windSpeed', reason: 'must be >= 0' },
    ]));
    expect(errors.map((e) => e.pointer)).toContain('/pressureTendency');
  });

  test('bad dates: impossible day, no time zone, free text', async () => {
    for (const dateObserved of ['2024-02-30T10:00:00Z', '2024-05-01T10:00:00', 'yesterday']) {
      expect(await rejected('WeatherObserved', weather({ dateObserved }))).toEqual([{ pointer: '/dateObserved', reason: 'must be a valid date-time' }]);
    }
  });

  test('NGSI-LD system members are refused, not dropped', async () => {
    expect(await rejected('WeatherObserved', weather({ modifiedAt: '2024-05-01T10:00:00Z' }))).toEqual([
      { pointer: '/modifiedAt', reason: expect.stringMatching(/system member/) },
    ]);
  });

  test('ParkingSpot: missing required members and a bad status', async () => {
    const errors = await rejected('ParkingSpot', { id: uid('ParkingSpot'), type: 'ParkingSpot', status: 'parked' });
    expect(errors).toEqual(expect.arrayContaining([
      { pointer: '/location', reason: 'is required' },
      { pointer: '/category', reason: 'is required' },
    ]));
    expect(errors.find((e) => e.pointer === '/status')?.reason).toMatch(/^must be one of /);
  });

  test('an id that is not a URI and a Relationship to a bare name', async () => {
    expect(await rejected('WeatherObserved', weather({ id: 'station 1' }))).toContainEqual({ pointer: '/id', reason: 'must be a valid uri' });
    expect(await rejected('WeatherObserved', weather({ refDevice: 'device-1' }))).toEqual([
      { pointer: '/refDevice', reason: expect.stringMatching(/Relationship must point to entity ids/) },
    ]);
  });
});

describe('Idempotency-Key', () => {
  const sysAttrs = async (id: string, tenant = '') =>
    (await c.entity(id, '?options=sysAttrs', tenant ? { 'NGSILD-Tenant': tenant } : {})).modifiedAt;

  test('a retry with the same key and body gets the stored response without ingesting again', async () => {
    const w = weather();
    const key = `k-${uid()}`;
    const first = expectStatus(await push('WeatherObserved', [w], { 'Idempotency-Key': key }), 200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const modified = await sysAttrs(w.id);
    const again = expectStatus(await push('WeatherObserved', [w], { 'Idempotency-Key': key }), 200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(json(again)).toEqual(json(first));
    expect(await sysAttrs(w.id)).toBe(modified);
  });

  test('a 207 is replayed as a 207', async () => {
    const key = `k-${uid()}`;
    const payload = [weather(), weather({ relativeHumidity: 2 })];
    const first = expectStatus(await push('WeatherObserved', payload, { 'Idempotency-Key': key }), 207);
    const again = expectStatus(await push('WeatherObserved', payload, { 'Idempotency-Key': key }), 207);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(json(again)).toEqual(json(first));
  });

  test('the same key with a different body → 409, and nothing written', async () => {
    const key = `k-${uid()}`;
    expectStatus(await push('WeatherObserved', weather(), { 'Idempotency-Key': key }), 200);
    const other = weather();
    const p = expectProblem(await push('WeatherObserved', other, { 'Idempotency-Key': key }), 409, 'AlreadyExists');
    expect(p.detail).toMatch(/different request/);
    expect(await exists(other.id)).toBe(false);
    // also another type or atomic flag with the same body
    expectProblem(await push('WeatherObserved', other, { 'Idempotency-Key': key }, '?atomic=true'), 409, 'AlreadyExists');
  });

  test('keys are per tenant', async () => {
    const key = `k-${uid()}`;
    const w = weather();
    const a = expectStatus(await push('WeatherObserved', w, { 'Idempotency-Key': key, 'NGSILD-Tenant': 'ta' }), 200);
    const b = expectStatus(await push('WeatherObserved', w, { 'Idempotency-Key': key, 'NGSILD-Tenant': 'tb' }), 200);
    expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']]).toEqual([undefined, undefined]);
    expect([await exists(w.id, 'ta'), await exists(w.id, 'tb')]).toEqual([true, true]);
  });

  test('concurrent duplicates ingest once', async () => {
    const key = `k-${uid()}`;
    const payload = Array.from({ length: 50 }, () => weather());
    const responses = await Promise.all([1, 2, 3].map(() => push('WeatherObserved', payload, { 'Idempotency-Key': key })));
    const fresh = responses.filter((r) => r.statusCode === 200 && r.headers['idempotent-replayed'] === undefined);
    expect(fresh).toHaveLength(1);
    for (const r of responses) {
      if (r === fresh[0]) continue;
      if (r.statusCode === 409) expect(json(r).detail).toMatch(/still being processed/);
      else expect([r.statusCode, r.headers['idempotent-replayed']]).toEqual([200, 'true']);
    }
  });

  test('keys expire after 24 hours', async () => {
    const key = `k-${uid()}`;
    expectStatus(await push('WeatherObserved', weather(), { 'Idempotency-Key': key }), 200);
    await app.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", [key]);
    const other = weather();
    const res = expectStatus(await push('WeatherObserved', other, { 'Idempotency-Key': key }), 200);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(await exists(other.id)).toBe(true);
  });

  test('a request that fails before ingesting does not keep the key', async () => {
    const key = `k-${uid()}`;
    expectProblem(await push('WeatherObserved', Array.from({ length: 1001 }, () => weather()), { 'Idempotency-Key': key }, '?atomic=true'), 400, 'BadRequestData');
    expectStatus(await push('WeatherObserved', weather(), { 'Idempotency-Key': key }), 200);
  });

  test('a store failure: 503, items "not written", the key is not kept so that a retry does the work', async () => {
    const key = `k-${uid()}`;
    const w = weather();
    const spy = jest.spyOn(app.broker, 'batchUpsert').mockRejectedValueOnce(new Error('connection lost'));
    try {
      const res = expectStatus(await push('WeatherObserved', [w], { 'Idempotency-Key': key }), 503);
      expect(results(res).items).toEqual([{ index: 0, id: w.id, status: 'rejected', errors: [{ pointer: '/', reason: 'not written: the store failed; retry' }] }]);
    } finally {
      spy.mockRestore();
    }
    expect(await exists(w.id)).toBe(false);
    const retry = expectStatus(await push('WeatherObserved', [w], { 'Idempotency-Key': key }), 200);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await exists(w.id)).toBe(true);
  });

  test('invalid keys → 400', async () => {
    expectProblem(await push('WeatherObserved', weather(), { 'Idempotency-Key': 'x'.repeat(201) }), 400, 'BadRequestData');
    expectProblem(await push('WeatherObserved', weather(), { 'Idempotency-Key': 'caffè' }), 400, 'BadRequestData');
    expectProblem(await push('WeatherObserved', weather(), { 'Idempotency-Key': '   ' }), 400, 'BadRequestData');
  });
});

describe('requests refused as a whole', () => {
  test('unknown type → 400 naming the supported ones', async () => {
    const p = expectProblem(await push('Spaceship', { id: uid(), type: 'Spaceship' }), 400, 'BadRequestData');
    expect(p.detail).toMatch(/unsupported entity type "Spaceship"; supported: .*WeatherObserved/);
  });

  test('unsupported media types → 415', async () => {
    const res = await c.inject({ method: 'POST', url: `${API}/entities/WeatherObserved`, headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expectProblem(res, 415, 'InvalidRequest');
    const ld = await c.post(`${API}/entities/WeatherObserved`, weather(), { 'content-type': 'application/ld+json' });
    expectProblem(ld, 415, 'InvalidRequest');
  });

  test('more than 10,000 items → 400', async () => {
    const items = Array.from({ length: 10_001 }, (_, i) => ({ id: `urn:ngsi-ld:WeatherObserved:many-${i}` }));
    const p = expectProblem(await push('WeatherObserved', items), 400, 'BadRequestData');
    expect(p.detail).toMatch(/10001 items; the maximum is 10000/);
    expect(await exists(items[0].id)).toBe(false);
  });

  test('INGEST_MAX_ITEMS bounds items and measurements per request', async () => {
    const small = (await openTestApp({ INGEST_MAX_ITEMS: '3' })).app;
    try {
      const items = Array.from({ length: 4 }, (_, i) => ({ id: `urn:ngsi-ld:WeatherObserved:cap-${i}` }));
      const res = await small.inject({ method: 'POST', url: `${API}/entities/WeatherObserved`, headers: { 'content-type': 'application/json' }, payload: items });
      expect(expectProblem(res, 400, 'BadRequestData').detail).toMatch(/4 items; the maximum is 3/);
      const m = Array.from({ length: 4 }, () => ({ deviceId: 'd', observedAt: '2026-11-22T06:00:00Z', values: {} }));
      const res2 = await small.inject({ method: 'POST', url: `${API}/measurements`, headers: { 'content-type': 'application/json' }, payload: m });
      expect(expectProblem(res2, 400, 'BadRequestData').detail).toMatch(/4 measurements; the maximum is 3/);
    } finally {
      await small.close();
    }
  });

  test('empty array, invalid JSON → 400; a scalar body is one rejected item', async () => {
    expectProblem(await push('WeatherObserved', []), 400, 'BadRequestData');
    expect(results(expectStatus(await push('WeatherObserved', '42'), 422)).items[0].errors).toEqual([
      { pointer: '/', reason: 'an item must be a JSON object' },
    ]);
    expectProblem(await push('WeatherObserved', '{"id": '), 400, 'BadRequestData');
  });
});

describe('types, OpenAPI and our @context', () => {
  test('GET /api/v1/types lists every supported type with its schema and @context', async () => {
    const types = json(expectStatus(await c.get(`${API}/types`), 200));
    expect(types.map((t: Json) => t.type)).toEqual([...SUPPORTED_TYPES]);
    expect(types.find((t: Json) => t.type === 'WeatherObserved')).toEqual({
      type: 'WeatherObserved', family: 'environment', origin: 'sdm',
      schemaId: 'https://smart-data-models.github.io/dataModel.Weather/WeatherObserved/schema.json',
      context: WEATHER_CTX,
    });
    expect(types.find((t: Json) => t.type === 'ThematicCorridor').context).toBe(SMARTLAND_CONTEXT_URL);
  });

  test('the OpenAPI document at /docs/json describes the contractor API only; /docs serves the UI', async () => {
    const doc = json(expectStatus(await c.get('/docs/json'), 200));
    expect(doc.openapi).toMatch(/^3\./);
    const post = doc.paths['/api/v1/entities/{type}'].post;
    expect(Object.keys(post.requestBody.content).sort()).toEqual(['application/json', 'application/ndjson', 'application/x-ndjson', 'text/csv']);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['200', '207', '422']));
    expect(post.parameters.map((p: Json) => p.name)).toEqual(expect.arrayContaining(['type', 'atomic', 'idempotency-key']));
    expect(doc.paths['/api/v1/types']).toBeDefined();
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/ngsi-ld'))).toEqual([]);

    let ui = await c.get('/docs');
    if (ui.statusCode >= 300 && ui.statusCode < 400) ui = await c.get(new URL(String(ui.headers.location), 'http://x/docs/').pathname);
    expectStatus(ui, 200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).not.toMatch(/https?:\/\/(unpkg|cdn)/);
  });

  test('GET /contexts/smartland.jsonld serves our @context, which the resolver knows offline', async () => {
    const res = expectStatus(await c.get('/contexts/smartland.jsonld'), 200);
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    const doc = json(res);
    expect(doc['@context'].ThematicCorridor).toBe('smartland:ThematicCorridor');
    const tm = await app.contexts.resolve(SMARTLAND_CONTEXT_URL);
    expect(tm.expand('ThematicCorridor')).toBe('https://smartland.example/ns#ThematicCorridor');
  });
});
