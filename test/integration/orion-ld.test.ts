/**
 * The Orion-LD backend (BROKER_URL) against a real NGSI-LD broker over real HTTP: instance A is this
 * service in embedded mode, instance B forwards to A. The same requests are sent straight to A (one
 * tenant) and through B (another tenant, which B forwards to A): answers must be the same, apart
 * from system timestamps and the tenant's name.
 */
import type { Db } from '../../src/store/db';
import { openTestDb } from '../helpers/db';
import { call, keptOpen, startInstance, type HttpAnswer, type Instance } from '../helpers/instances';
import { Receiver } from '../helpers/receiver';
import { CORE_V18, linkHeader } from '../helpers/app';
import { WEATHER_CTX } from '../helpers/ngsi';

let dbA: Db;
let dbB: Db;
let a: Instance;
let b: Instance;

beforeAll(async () => {
  [dbA, dbB] = await Promise.all([openTestDb(), openTestDb()]);
  a = await startInstance(keptOpen(dbA));
  b = await startInstance(keptOpen(dbB), { BROKER_URL: a.url });
});

afterAll(async () => {
  await b?.app.close();
  await a?.app.close();
  await Promise.all([dbA?.close(), dbB?.close()]);
});

const E = '/ngsi-ld/v1/entities';
const OPS = '/ngsi-ld/v1/entityOperations';
const W = { link: linkHeader(WEATHER_CTX) };
const eUrl = (id: string, rest = '') => `${E}/${encodeURIComponent(id)}${rest}`;

/** Drops what legitimately differs between two tenants written at different times. */
function comparable(x: unknown, tenant: string): unknown {
  if (Array.isArray(x)) return x.map((v) => comparable(v, tenant));
  if (x && typeof x === 'object') {
    return Object.fromEntries(Object.entries(x as Record<string, unknown>)
      .filter(([k]) => k !== 'createdAt' && k !== 'modifiedAt')
      .map(([k, v]) => [k, comparable(v, tenant)]));
  }
  if (typeof x !== 'string') return x;
  // discovery lists get a random id per answer
  return /^urn:ngsi-ld:(EntityTypeList|AttributeList):/.test(x) ? '<list id>' : x.split(tenant).join('<tenant>');
}

type Step = [method: string, path: string, body?: unknown, headers?: Record<string, string>];

/** Runs the steps straight on A and through B, each in a tenant of its own; answers must match. */
async function parity(name: string, steps: Step[], extraHeaders: string[] = []): Promise<HttpAnswer[]> {
  const direct = `${name}-direct`;
  const forwarded = `${name}-via-b`;
  const run = async (base: string, tenant: string) => {
    const answers: HttpAnswer[] = [];
    for (const [method, path, body, headers] of steps) {
      answers.push(await call(base, method, path, body, { 'ngsild-tenant': tenant, ...headers }));
    }
    return answers;
  };
  const fromA = await run(a.url, direct);
  const fromB = await run(b.url, forwarded);
  steps.forEach(([method, path], i) => {
    const view = (r: HttpAnswer, tenant: string) => ({
      step: `${i}: ${method} ${path}`,
      status: r.status,
      body: comparable(r.body, tenant),
      count: r.headers.get('ngsild-results-count'),
      type: r.headers.get('content-type'),
      ...Object.fromEntries(extraHeaders.map((h) => [h, r.headers.get(h)])),
    });
    expect(view(fromB[i], forwarded)).toEqual(view(fromA[i], direct));
  });
  return fromB;
}

const station = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:WeatherObserved:valmalenco-${n}`,
  type: 'WeatherObserved',
  temperature: { type: 'Property', value: n - 3, unitCode: 'CEL', observedAt: `2026-11-22T0${n % 10}:00:00Z` },
  location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85 + n / 100, 46.26 + n / 200] } },
  refDevice: { type: 'Relationship', object: `urn:ngsi-ld:Device:wx-${n}` },
  ...extra,
});

describe('entities through B answer as A does', () => {
  test('create, read in every representation, attribute operations, merge, delete, errors', async () => {
    const id = station(1).id;
    const answers = await parity('crud', [
      ['POST', E, station(1), W],
      ['POST', E, station(1), W],
      ['GET', eUrl(id), undefined, W],
      ['GET', eUrl(id) + '?options=keyValues', undefined, W],
      ['GET', eUrl(id) + '?format=concise&options=sysAttrs', undefined, W],
      ['GET', eUrl(id), undefined, { ...W, accept: 'application/geo+json' }],
      ['GET', eUrl(id), undefined, { accept: 'application/ld+json' }],
      ['GET', eUrl(id) + '?pick=temperature', undefined, W],
      ['PATCH', eUrl(id, '/attrs'), { temperature: { type: 'Property', value: 7.5 }, nothere: { type: 'Property', value: 1 } }, W],
      ['POST', eUrl(id, '/attrs') + '?options=noOverwrite', { temperature: 99, humidity: 0.5 }, W],
      ['POST', eUrl(id, '/attrs'), { windSpeed: { type: 'Property', value: 3, datasetId: 'urn:ngsi-ld:Dataset:a' } }, W],
      ['PATCH', eUrl(id, '/attrs/temperature'), { value: 8 }, W],
      ['PUT', eUrl(id, '/attrs/humidity'), { type: 'Property', value: 0.6 }, W],
      ['DELETE', eUrl(id, '/attrs/windSpeed') + '?datasetId=urn:ngsi-ld:Dataset:a', undefined, W],
      ['DELETE', eUrl(id, '/attrs/windSpeed'), undefined, W],
      ['PATCH', eUrl(id), { humidity: 'urn:ngsi-ld:null', name: { type: 'Property', value: 'Chiesa' }, scope: '/Valmalenco/Weather' }, W],
      ['GET', eUrl(id) + '?options=sysAttrs', undefined, W],
      ['PUT', eUrl(id), { type: 'WeatherObserved', temperature: 1, location: station(1).location }, W],
      ['GET', eUrl(id), undefined, W],
      ['GET', eUrl('urn:ngsi-ld:WeatherObserved:none'), undefined, W],
      ['POST', E, { id: 'not a uri', type: 'X' }],
      ['POST', E, { id: 'urn:ngsi-ld:X:1', type: 'X', location: { type: 'Property', value: 1 } }],
      ['DELETE', eUrl(id)],
      ['DELETE', eUrl(id)],
      ['GET', eUrl(id)],
    ]);
    expect(answers.map((r) => r.status)).toEqual([201, 409, 200, 200, 200, 200, 200, 200, 207, 207, 204, 204, 204, 204, 404, 204, 200, 204, 200, 404, 400, 400, 204, 404, 404]);
  });

  test('an unknown tenant is NonexistentTenant through B as on A', async () => {
    const direct = await call(a.url, 'GET', `${E}?type=WeatherObserved`, undefined, { 'ngsild-tenant': 'never-written' });
    const viaB = await call(b.url, 'GET', `${E}?type=WeatherObserved`, undefined, { 'ngsild-tenant': 'never-written' });
    expect(direct.status).toBe(404);
    expect(viaB.status).toBe(404);
    expect(viaB.body).toEqual(direct.body);
  });
});

describe('batch operations through B', () => {
  test('201/204/207 with the broker\'s per-entity problems', async () => {
    const many = Array.from({ length: 30 }, (_, i) => station(100 + i));
    const answers = await parity('batch', [
      ['POST', `${OPS}/create`, many, W],
      ['POST', `${OPS}/create`, [station(100), station(200), { id: 'urn:ngsi-ld:X:bad', type: 'X', location: 5 }], W],
      ['POST', `${OPS}/upsert?options=update`, [station(100, { humidity: 0.3 }), station(201)], W],
      ['POST', `${OPS}/upsert`, [station(100)], W],
      ['POST', `${OPS}/update`, [{ id: station(100).id, humidity: 0.9 }, { id: 'urn:ngsi-ld:WeatherObserved:missing', humidity: 1 }], W],
      ['POST', `${OPS}/update?options=noOverwrite`, [{ id: station(101).id, temperature: 50, dewPoint: 1 }], W],
      ['POST', `${OPS}/merge`, [{ id: station(102).id, temperature: 'urn:ngsi-ld:null' }], W],
      ['GET', eUrl(station(102).id), undefined, W],
      ['POST', `${OPS}/delete`, [station(103).id, 'urn:ngsi-ld:WeatherObserved:missing', 'no uri'], W],
      ['POST', `${OPS}/delete`, [station(104).id], W],
      ['GET', `${E}?type=WeatherObserved&count=true&limit=100`, undefined, W],
    ]);
    expect(answers.map((r) => r.status)).toEqual([201, 207, 201, 204, 207, 204, 204, 200, 207, 204, 200]);
  });

  test('a batch over the broker\'s chunk size is split and the results merged', async () => {
    const many = Array.from({ length: 1500 }, (_, i) => ({ id: `urn:ngsi-ld:Sensor:big-${i}`, type: 'Sensor', n: i }));
    // B takes up to MAX_BATCH_SIZE; its client sends chunks of 1000 to A
    const tenant = 'bigbatch';
    const bBig = await startInstance(keptOpen(dbB), { BROKER_URL: a.url, MAX_BATCH_SIZE: '2000', NOTIFY_WORKER: 'off' });
    try {
      const created = await call(bBig.url, 'POST', `${OPS}/create`, many, { 'ngsild-tenant': tenant });
      expect(created.status).toBe(201);
      expect(created.body).toHaveLength(1500);
      const again = await call(bBig.url, 'POST', `${OPS}/create`, many.slice(990, 1010), { 'ngsild-tenant': tenant });
      expect(again.status).toBe(207);
      expect(again.body.errors).toHaveLength(20);
      const counted = await call(a.url, 'GET', `${E}?type=Sensor&count=true&limit=0`, undefined, { 'ngsild-tenant': tenant });
      expect(counted.headers.get('ngsild-results-count')).toBe('1500');
    } finally {
      await bBig.app.close();
    }
  });
});

describe('queries through B', () => {
  test('q, geo, scopeQ, type expressions, projection, pagination, formats, discovery', async () => {
    const setup: Step[] = [
      ['POST', `${OPS}/create`, Array.from({ length: 45 }, (_, i) => station(300 + i, { scope: i % 2 ? '/Valmalenco/Chiesa' : '/Valmalenco/Lanzada' })), W],
      ['POST', E, { id: 'urn:ngsi-ld:Building:1', type: 'Building', name: 'Municipio', location: station(1).location }],
    ];
    const nearChiesa = 'georel=near%3BmaxDistance%3D%3D20000&geometry=Point&coordinates=%5B9.85%2C46.26%5D';
    const queries: Step[] = [
      ['GET', `${E}?type=WeatherObserved`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&q=temperature%3E310&count=true`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&q=temperature.observedAt%3E%3D2026-11-22T05:00:00Z;temperature%3C320&limit=5&count=true`, undefined, W],
      ['GET', `${E}?q=refDevice==urn:ngsi-ld:Device:wx-301%7CrefDevice==urn:ngsi-ld:Device:wx-340`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&q=temperature.unitCode==%22CEL%22&limit=3&offset=40&count=true`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&${nearChiesa}&options=keyValues&limit=50`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&georel=within&geometry=Polygon&coordinates=%5B%5B%5B9,46%5D,%5B13,46%5D,%5B13,48%5D,%5B9,48%5D,%5B9,46%5D%5D%5D&count=true&limit=0`, undefined, W],
      ['GET', `${E}?scopeQ=/Valmalenco/Chiesa&count=true&attrs=temperature`, undefined, W],
      ['GET', `${E}?type=WeatherObserved,Building&idPattern=.*-(1|3)$&format=concise`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&limit=1000&offset=10&omit=location`, undefined, W],
      ['GET', `${E}?type=Building`, undefined, { accept: 'application/geo+json' }],
      ['GET', `${E}?type=WeatherObserved&q=temperature~=%22%5E3.%22`, undefined, W],
      ['POST', `${OPS}/query?count=true&limit=7`, { type: 'Query', entities: [{ type: 'WeatherObserved', idPattern: '.*-31.' }], q: 'temperature>0' }, W],
      ['GET', `${E}?type=WeatherObserved&q=temperature%3E%3E1`, undefined, W],
      ['GET', `${E}?type=WeatherObserved&limit=2000`, undefined, W],
      ['GET', '/ngsi-ld/v1/types', undefined, W],
      ['GET', '/ngsi-ld/v1/types?details=true', undefined, W],
      ['GET', '/ngsi-ld/v1/types/WeatherObserved', undefined, W],
      ['GET', '/ngsi-ld/v1/attributes?details=true', undefined, W],
      ['GET', '/ngsi-ld/v1/attributes/temperature', undefined, W],
    ];
    const answers = await parity('query', [...setup, ...queries]);
    expect(answers.slice(setup.length).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 200, 200, 200, 200, 200]);
    // the answers are not trivially empty
    expect(answers[setup.length].body).toHaveLength(20);
    expect(answers[setup.length + 1].headers.get('ngsild-results-count')).toBe('31');
    expect(answers[setup.length + 3].body).toHaveLength(2);
    expect(answers[setup.length + 9].body).toHaveLength(35);
  });
});

describe('subscriptions through B: stored and sent by the broker', () => {
  test('CRUD answers as A does; the broker notifies the subscriber', async () => {
    const receiver = await new Receiver().start();
    try {
      const sub = (id: string) => ({
        id, type: 'Subscription', entities: [{ type: 'WeatherObserved' }], watchedAttributes: ['temperature'],
        q: 'temperature>0', notification: { attributes: ['temperature'], format: 'keyValues', endpoint: { uri: receiver.url } },
      });
      const s1 = 'urn:ngsi-ld:Subscription:s1';
      const subs = '/ngsi-ld/v1/subscriptions';
      await parity('subs', [
        ['POST', subs, sub(s1), W],
        ['POST', subs, sub(s1), W],
        ['GET', `${subs}/${encodeURIComponent(s1)}`, undefined, W],
        ['GET', `${subs}/${encodeURIComponent(s1)}`],
        ['PATCH', `${subs}/${encodeURIComponent(s1)}`, { throttling: 5, description: 'valley', notification: { format: 'normalized' } }, W],
        ['GET', `${subs}/${encodeURIComponent(s1)}?options=sysAttrs`, undefined, W],
        ['PATCH', `${subs}/${encodeURIComponent(s1)}`, { description: null }, W],
        ['GET', `${subs}?limit=5&count=true`, undefined, W],
        ['GET', `${subs}/${encodeURIComponent('urn:ngsi-ld:Subscription:none')}`],
        ['POST', subs, { type: 'Subscription', notification: { endpoint: { uri: receiver.url } } }],
        ['DELETE', `${subs}/${encodeURIComponent(s1)}`],
        ['DELETE', `${subs}/${encodeURIComponent(s1)}`],
      ]);
      // a subscription made through B is A's: A notifies when an entity changes through B
      const tenant = 'notified';
      const created = await call(b.url, 'POST', subs, { ...sub('urn:ngsi-ld:Subscription:n1'), throttling: undefined }, { ...W, 'ngsild-tenant': tenant });
      expect(created.status).toBe(201);
      expect((await call(b.url, 'POST', E, station(7), { ...W, 'ngsild-tenant': tenant })).status).toBe(201);
      const deadline = Date.now() + 20_000;
      while (receiver.data.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(receiver.data).toEqual([{ id: station(7).id, type: 'WeatherObserved', temperature: 4 }]);
      expect(receiver.got[0].headers.link).toContain(WEATHER_CTX);
    } finally {
      await receiver.stop();
    }
  });
});

describe('contexts', () => {
  test('the core context stays implicit; an application/ld+json body with an inline context works through B', async () => {
    const body = { '@context': [{ t: 'https://example.org/terms/t' }, CORE_V18], id: 'urn:ngsi-ld:X:ctx', type: 'X', t: 1 };
    await parity('ctx', [
      ['POST', E, body, { 'content-type': 'application/ld+json' }],
      ['GET', `${E}?type=X&q=t==1`, undefined, { accept: 'application/json' }],
      ['GET', eUrl('urn:ngsi-ld:X:ctx')],
    ]);
  });

  test('@contexts registered through B are hosted by A; entities, queries and subscriptions through B use them', async () => {
    const C = '/ngsi-ld/v1/jsonldContexts';
    const SNOW = 'https://example.org/valmalenco/';
    const doc = { '@context': { Snow: `${SNOW}SnowObserved`, level: `${SNOW}snowLevel` } };
    const created = await call(b.url, 'POST', C, doc);
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    expect(url).toMatch(new RegExp(`^${a.url}${C}/`));
    const localId = decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));
    const one = `${C}/${encodeURIComponent(localId)}`;

    // A serves it; B answers as A does (GET one, with details, the list); B keeps no copy
    const same = async (path: string) => {
      const [fromA, viaB] = [await call(a.url, 'GET', path), await call(b.url, 'GET', path)];
      expect({ status: viaB.status, type: viaB.headers.get('content-type'), body: viaB.body })
        .toEqual({ status: fromA.status, type: fromA.headers.get('content-type'), body: fromA.body });
      return viaB;
    };
    expect((await same(one)).body).toEqual(doc);
    expect((await same(`${one}?details=true`)).body).toMatchObject({ URL: url, localId, kind: 'Hosted' });
    expect((await same(`${C}?kind=Hosted`)).body).toContain(url);
    expect(await b.app.contextStore.get(url)).toBeUndefined();
    // the broker's problems, unchanged
    const refused = await call(b.url, 'POST', C, { notAContext: 1 });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual((await call(a.url, 'POST', C, { notAContext: 1 })).body);

    const receiver = await new Receiver().start();
    try {
      const tenant = 'hosted-ctx';
      const link = { link: linkHeader(url), 'ngsild-tenant': tenant };
      const subs = '/ngsi-ld/v1/subscriptions';
      // a subscription naming the hosted context, and one with an inline context (B registers it at A)
      const watch = { entities: [{ type: 'Snow' }], notification: { format: 'keyValues', endpoint: { uri: receiver.url } } };
      expect((await call(b.url, 'POST', subs, { type: 'Subscription', ...watch, watchedAttributes: ['level'] }, link)).status).toBe(201);
      const inline = [{ Snow: `${SNOW}SnowObserved`, lvl: `${SNOW}snowLevel` }, CORE_V18];
      const inlineSub = { '@context': inline, type: 'Subscription', ...watch, watchedAttributes: ['lvl'] };
      expect((await call(b.url, 'POST', subs, inlineSub, { 'content-type': 'application/ld+json', 'ngsild-tenant': tenant })).status).toBe(201);

      // an entity through B in the hosted context's terms: A stores the full IRIs
      const id = 'urn:ngsi-ld:SnowObserved:chiesa';
      expect((await call(b.url, 'POST', E, { id, type: 'Snow', level: { type: 'Property', value: 120 } }, link)).status).toBe(201);
      const stored = await call(a.url, 'GET', eUrl(id), undefined, { 'ngsild-tenant': tenant });
      expect(stored.body).toMatchObject({ type: `${SNOW}SnowObserved`, [`${SNOW}snowLevel`]: { value: 120 } });
      const read = await call(b.url, 'GET', `${E}?type=Snow&q=level%3E100&options=keyValues`, undefined, link);
      expect(read.body).toEqual([{ id, type: 'Snow', level: 120 }]);
      expect(read.headers.get('link')).toContain(url);

      // a query with an inline context: the answer's Link names a copy hosted by A
      const query = await call(b.url, 'POST', `${OPS}/query?options=keyValues`, { '@context': inline, type: 'Query', entities: [{ type: 'Snow' }] },
        { 'content-type': 'application/ld+json', 'ngsild-tenant': tenant });
      expect(query.body).toEqual([{ id, type: 'Snow', lvl: 120 }]);
      const implicitUrl = /<([^>]+)>/.exec(query.headers.get('link')!)![1];
      expect(implicitUrl).toMatch(new RegExp(`^${a.url}${C}/`));
      expect((await call(a.url, 'GET', new URL(implicitUrl).pathname)).body).toEqual({ '@context': inline });

      // A notifies both subscribers, each in its own context (of the creation, then of the change)
      expect((await call(b.url, 'PATCH', eUrl(id, '/attrs'), { level: { type: 'Property', value: 150 } }, link)).status).toBe(204);
      const deadline = Date.now() + 20_000;
      while (receiver.data.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(receiver.data).toEqual(expect.arrayContaining([120, 150].flatMap((v) => [{ id, type: 'Snow', level: v }, { id, type: 'Snow', lvl: v }])));
      expect(receiver.got.map((g) => g.headers.link)).toEqual(expect.arrayContaining([expect.stringContaining(url), expect.stringContaining(implicitUrl)]));
    } finally {
      await receiver.stop();
    }

    // deleted through B: gone at A, and no longer a context B resolves
    expect((await call(b.url, 'DELETE', one)).status).toBe(204);
    expect((await call(a.url, 'GET', one)).status).toBe(404);
    const again = await call(b.url, 'DELETE', one);
    expect(again.status).toBe(404);
    expect(again.body).toEqual((await call(a.url, 'DELETE', one)).body);
    const unresolvable = await call(b.url, 'GET', `${E}?type=Snow`, undefined, { link: linkHeader(url), 'ngsild-tenant': 'hosted-ctx' });
    expect(unresolvable.body.type).toBe('https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable');
  });

  test('a context the broker hosts under a host name of its own is used when the broker names that URL, and only then', async () => {
    // A reached as orion.internal (as a broker in its own network would name itself)
    const created = await a.app.inject({
      method: 'POST', url: '/ngsi-ld/v1/jsonldContexts', headers: { host: 'orion.internal:1026', 'content-type': 'application/json' },
      payload: { '@context': { Avalanche: 'https://example.org/valmalenco/Avalanche', risk: 'https://example.org/valmalenco/risk' } },
    });
    const url = created.headers.location as string;
    expect(url).toMatch(/^http:\/\/orion\.internal:1026\/ngsi-ld\/v1\/jsonldContexts\//);
    const headers = (ctx: string) => ({ link: linkHeader(ctx), 'ngsild-tenant': 'own-name' });
    const entity = { id: 'urn:ngsi-ld:Avalanche:1', type: 'Avalanche', risk: { type: 'Property', value: 3 } };
    expect((await call(b.url, 'POST', E, entity, headers(url))).status).toBe(201);
    expect((await call(a.url, 'GET', eUrl(entity.id), undefined, { 'ngsild-tenant': 'own-name' })).body)
      .toMatchObject({ type: 'https://example.org/valmalenco/Avalanche', 'https://example.org/valmalenco/risk': { value: 3 } });
    // the same id under another host is not the broker's context
    const spoofed = url.replace('orion.internal:1026', 'elsewhere.example');
    const refused = await call(b.url, 'POST', E, { ...entity, id: 'urn:ngsi-ld:Avalanche:2' }, headers(spoofed));
    expect(refused.body.type).toBe('https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable');
  });
});

test('the temporal API is not served in Orion-LD mode: 501, not an empty history', async () => {
  const r = await call(b.url, 'GET', '/ngsi-ld/v1/temporal/entities?type=WeatherObserved&timerel=after&timeAt=2020-01-01T00:00:00Z');
  expect(r.status).toBe(501);
  expect(r.body.type).toBe('https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported');
  expect((await call(a.url, 'GET', '/ngsi-ld/v1/temporal/entities?type=WeatherObserved&timerel=after&timeAt=2020-01-01T00:00:00Z')).status).toBe(200);
});
