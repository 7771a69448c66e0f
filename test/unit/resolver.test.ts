import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContextResolver, coreContextUrl, linkHeaderContext } from '../../src/ngsi-ld/context/resolver';
import { MemoryContextStore, CORE_V18, CORE_GENERIC, CORE_V16 } from '../fixtures/contexts';
import { failure } from '../helpers/errors';

const REL = 'http://www.w3.org/ns/json-ld#context';

/** A real HTTP server on 127.0.0.1 that serves contexts and counts requests per path. */
let server: Server;
let origin: string;
let port: number;
const requests = new Map<string, number>();
const routes = new Map<string, { status?: number; type?: string; body: string; headers?: Record<string, string>; delayMs?: number }>();
const timers: NodeJS.Timeout[] = [];
const served = (path: string) => requests.get(path) ?? 0;
const totalRequests = () => [...requests.values()].reduce((a, b) => a + b, 0);
const doc = (ctx: unknown) => JSON.stringify({ '@context': ctx });

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.set(path, served(path) + 1);
    const route = routes.get(path);
    const send = (): void => {
      if (!route) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(route.status ?? 200, { 'content-type': route.type ?? 'application/ld+json', ...route.headers });
      res.end(route.body);
    };
    if (route?.delayMs) timers.push(setTimeout(send, route.delayMs));
    else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  routes.set('/ctx.jsonld', { body: doc({ speed: 'https://example.org/speed' }) });
  routes.set('/json.json', { type: 'application/json; charset=utf-8', body: doc({ travelMode: 'https://example.org/mode' }) });
  routes.set('/nested.jsonld', {
    body: doc([`${origin}/ctx.jsonld`, 'https://smart-data-models.github.io/dataModel.Weather/context.jsonld', CORE_GENERIC, { extra: 'https://example.org/extra' }]),
  });
  routes.set('/cycle-a.jsonld', { body: doc([`${origin}/cycle-b.jsonld`]) });
  routes.set('/cycle-b.jsonld', { body: doc([`${origin}/cycle-a.jsonld`]) });
  for (let i = 0; i < 12; i++) routes.set(`/deep-${i}.jsonld`, { body: doc([`${origin}/deep-${i + 1}.jsonld`]) });
  routes.set('/html', { type: 'text/html', body: '<html></html>' });
  routes.set('/notjson.jsonld', { body: '{ nope' });
  routes.set('/nocontext.jsonld', { body: '{"a": 1}' });
  routes.set('/big.jsonld', { body: doc({ big: 'https://example.org/' + 'x'.repeat(5000) }) });
  routes.set('/slow.jsonld', { body: doc({}), delayMs: 1500 });
  routes.set('/redirect-out', { status: 302, body: '', headers: { location: `http://localhost:${port}/ctx.jsonld` } });
  routes.set('/redirect-in', { status: 301, body: '', headers: { location: '/json.json' } });
  routes.set('/import.jsonld', { body: doc({ '@import': `${origin}/ctx.jsonld`, speed: 'https://example.org/speed2' }) });
});
afterAll(async () => {
  timers.forEach(clearTimeout);
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => requests.clear());

const resolverWith = (opts: Partial<ConstructorParameters<typeof ContextResolver>[0]> = {}) =>
  new ContextResolver({ coreVersion: 'v1.8', allowHosts: [`127.0.0.1:${port}`], allowPrivate: true, store: new MemoryContextStore(), ...opts });

describe('linkHeaderContext', () => {
  test.each<[string | undefined, string | undefined]>([
    [undefined, undefined],
    ['', undefined],
    [`<https://example.org/c.jsonld>; rel="${REL}"; type="application/ld+json"`, 'https://example.org/c.jsonld'],
    [`<https://example.org/c.jsonld>;rel="${REL}"`, 'https://example.org/c.jsonld'],
    [`<https://example.org/x>; rel="next", <https://example.org/c.jsonld>; rel=${REL}`, 'https://example.org/c.jsonld'],
    [`<https://example.org/a,b.jsonld>; rel="alternate ${REL}"`, 'https://example.org/a,b.jsonld'],
    ['<https://example.org/x>; rel="next"', undefined],
  ])('%s', (header, url) => {
    expect(linkHeaderContext(header)).toBe(url);
  });

  test.each([
    'https://example.org/c.jsonld',
    `<https://example.org/c.jsonld; rel="${REL}"`,
    `<https://example.org/c.jsonld>; rel="${REL}`,
    `<https://example.org/c.jsonld> rel="${REL}"`,
    `<https://example.org/a>; rel="${REL}", <https://example.org/b>; rel="${REL}"`,
  ])('400 for %s', (header) => {
    expect(() => linkHeaderContext(header)).toThrow(expect.objectContaining({ problemType: 'BadRequestData', status: 400 }));
  });
});

test('coreContextUrl', () => {
  expect(coreContextUrl('v1.8')).toBe(CORE_V18);
  expect(coreContextUrl('v1.6')).toBe(CORE_V16);
});

describe('bundled contexts', () => {
  test('no @context, [] and the core URLs give the core term map; it is cached', async () => {
    const r = resolverWith();
    const core = await r.resolve(undefined);
    expect(await r.resolve([])).toBe(core);
    expect(core.context).toBe(CORE_V18);
    expect(core.expand('observedAt')).toBe('https://uri.etsi.org/ngsi-ld/observedAt');
    expect((await r.resolve(CORE_GENERIC)).expand('vocab')).toBe('https://uri.etsi.org/ngsi-ld/hasVocab');
    const v16 = resolverWith({ coreVersion: 'v1.6' });
    // 'vocab' (VocabProperty) came with v1.8: with the v1.6 core it falls to the default @vocab
    expect((await v16.resolve(undefined)).expand('vocab')).toBe('https://uri.etsi.org/ngsi-ld/default-context/vocab');
    expect((await v16.resolve(undefined)).context).toBe(CORE_V16);
  });

  test.each([
    'https://smart-data-models.github.io/dataModel.Weather/context.jsonld',
    'https://raw.githubusercontent.com/smart-data-models/dataModel.Weather/master/context.jsonld',
  ])('Smart Data Models subject %s is answered locally', async (url) => {
    const store = new MemoryContextStore();
    const r = resolverWith({ store, allowHosts: [] });
    const tm = await r.resolve(url);
    expect(tm.expand('WeatherObserved')).toBe('https://smartdatamodels.org/dataModel.Weather/WeatherObserved');
    expect(tm.compact('https://smartdatamodels.org/dataModel.Weather/precipitation')).toBe('precipitation');
    expect(tm.key).toBe(url);
    expect(tm.context).toBe(url);
    expect(await store.list()).toEqual([]);
  });

  test.each([
    ['https://smartdatamodels.org/context.jsonld', 'WeatherObserved', 'https://uri.fiware.org/ns/data-models#WeatherObserved'],
    ['https://smart-data-models.github.io/data-models/context.jsonld', 'WeatherObserved', 'https://uri.fiware.org/ns/data-models#WeatherObserved'],
    ['https://raw.githubusercontent.com/smart-data-models/data-models/master/context/common-context.jsonld', 'address', 'https://smartdatamodels.org/address'],
  ])('all-subjects and common contexts: %s', async (url, term, iri) => {
    expect((await resolverWith({ allowHosts: [] }).resolve(url)).expand(term)).toBe(iri);
  });
});

describe('caching', () => {
  test('by URL, and by content for inline contexts', async () => {
    const r = resolverWith();
    const url = 'https://smart-data-models.github.io/dataModel.Device/context.jsonld';
    expect(await r.resolve(url)).toBe(await r.resolve(url));
    const a = await r.resolve({ x: 'https://example.org/x' });
    const b = await r.resolve({ x: 'https://example.org/x' });
    expect(b).toBe(a);
    expect(a.key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await r.resolve([{ x: 'https://example.org/y' }])).not.toBe(a);
  });

  test('LRU evicts the least recently used', async () => {
    const r = resolverWith({ cacheSize: 2 });
    const [one, two, three] = [1, 2, 3].map((n) => ({ [`t${n}`]: `https://example.org/${n}` }));
    const first = await r.resolve(one);
    await r.resolve(two);
    expect(await r.resolve(one)).toBe(first); // one is now the most recent
    await r.resolve(three); // evicts two
    expect(await r.resolve(one)).toBe(first);
    const twoAgain = await r.resolve(two);
    expect(await r.resolve(two)).toBe(twoAgain);
  });
});

describe('remote contexts', () => {
  test('an allowed host is fetched once, stored as Cached, and served from the store afterwards', async () => {
    const store = new MemoryContextStore();
    const url = `${origin}/ctx.jsonld`;
    const tm = await resolverWith({ store }).resolve(url);
    expect(tm.expand('speed')).toBe('https://example.org/speed');
    expect(served('/ctx.jsonld')).toBe(1);
    const [cached] = await store.list('Cached');
    expect(cached).toMatchObject({ url, kind: 'Cached', body: { '@context': { speed: 'https://example.org/speed' } } });
    // another replica (a new resolver) on the same store: no download
    expect((await resolverWith({ store }).resolve([url])).expand('speed')).toBe('https://example.org/speed');
    expect(served('/ctx.jsonld')).toBe(1);
    expect((await store.get(url))!.numberOfHits).toBe(1);
  });

  test('concurrent requests for a new context share one download', async () => {
    const r = resolverWith();
    const url = `${origin}/json.json`;
    const maps = await Promise.all([1, 2, 3, 4, 5].map((n) => r.resolve(n % 2 ? url : [url, { n: `https://example.org/${n}` }])));
    expect(maps.every((m) => m.expand('travelMode') === 'https://example.org/mode')).toBe(true);
    expect(served('/json.json')).toBe(1);
  });

  test('a host not in the allow-list is refused with 503 and no request is made', async () => {
    for (const allowHosts of [[], ['example.org'], [`127.0.0.1:${port + 1}`], ['localhost']]) {
      const err = await failure(resolverWith({ allowHosts }).resolve(`${origin}/ctx.jsonld`));
      expect(err.status).toBe(503);
      expect(err.problemType).toBe('LdContextNotAvailable');
      expect(err.detail).toContain(`${origin}/ctx.jsonld`);
      expect(err.detail).toMatch(/remote fetching is not allowed for host 127\.0\.0\.1/);
    }
    expect(totalRequests()).toBe(0);
  });

  test('an allow-listed host is still refused when it is (or resolves to) a loopback address, unless private addresses are allowed', async () => {
    for (const [allowHosts, url] of [[[`127.0.0.1:${port}`], `${origin}/ctx.jsonld`], [[`localhost:${port}`], `http://localhost:${port}/ctx.jsonld`]] as const) {
      const err = await failure(resolverWith({ allowHosts: [...allowHosts], allowPrivate: false }).resolve(url));
      expect([err.status, err.problemType]).toEqual([503, 'LdContextNotAvailable']);
      expect(err.detail).toMatch(/resolves to (127\.0\.0\.1|::1) \(loopback address\); private addresses are not allowed \(CONTEXT_ALLOW_PRIVATE\)/);
    }
    expect(totalRequests()).toBe(0);
  });

  test('an allow-list entry without a port allows any port of the host', async () => {
    const tm = await resolverWith({ allowHosts: ['127.0.0.1'] }).resolve(`${origin}/ctx.jsonld`);
    expect(tm.expand('speed')).toBe('https://example.org/speed');
  });

  test('redirects are followed only to allowed hosts', async () => {
    const err = await failure(resolverWith().resolve(`${origin}/redirect-out`));
    expect(err.status).toBe(503);
    expect(served('/ctx.jsonld')).toBe(0);
    expect((await resolverWith().resolve(`${origin}/redirect-in`)).expand('travelMode')).toBe('https://example.org/mode');
  });

  test('nested references: URLs, bundled contexts, the core URL and inline objects, in order', async () => {
    const tm = await resolverWith().resolve(`${origin}/nested.jsonld`);
    expect(tm.expand('speed')).toBe('https://example.org/speed');
    expect(tm.expand('extra')).toBe('https://example.org/extra');
    expect(tm.expand('WeatherObserved')).toBe('https://smartdatamodels.org/dataModel.Weather/WeatherObserved');
    expect(tm.expand('location')).toBe('https://uri.etsi.org/ngsi-ld/location');
  });

  test('@import of a remote context; the importing context wins', async () => {
    const tm = await resolverWith().resolve(`${origin}/import.jsonld`);
    expect(tm.expand('speed')).toBe('https://example.org/speed2');
    expect(served('/ctx.jsonld')).toBe(1);
  });

  test.each<[string, number, RegExp]>([
    ['/cycle-a.jsonld', 400, /includes itself/],
    ['/deep-0.jsonld', 400, /nested deeper than 8/],
    ['/html', 503, /not JSON/],
    ['/notjson.jsonld', 503, /not valid JSON/],
    ['/nocontext.jsonld', 400, /no @context member/],
    ['/big.jsonld', 503, /larger than 1000 bytes/],
    ['/slow.jsonld', 503, /could not be downloaded/],
    ['/missing.jsonld', 503, /HTTP 404/],
  ])('%s → %d', async (path, status, detail) => {
    const err = await failure(resolverWith({ maxContextBytes: 1000, fetchTimeoutMs: 300 }).resolve(`${origin}${path}`));
    expect([err.status, err.detail]).toEqual([status, expect.stringMatching(detail)]);
  });

  test('refetch replaces the stored copy and forgets compiled maps', async () => {
    const store = new MemoryContextStore();
    const r = resolverWith({ store });
    routes.set('/changing.jsonld', { body: doc({ v: 'https://example.org/v1' }) });
    const url = `${origin}/changing.jsonld`;
    expect((await r.resolve(url)).expand('v')).toBe('https://example.org/v1');
    const { id } = (await store.get(url))!;
    routes.set('/changing.jsonld', { body: doc({ v: 'https://example.org/v2' }) });
    expect((await r.resolve(url)).expand('v')).toBe('https://example.org/v1');
    await r.refetch(url);
    expect((await r.resolve(url)).expand('v')).toBe('https://example.org/v2');
    expect((await store.get(url))!.id).toBe(id);
  });
});

describe('invalid @context values → 400', () => {
  test.each<[string, unknown]>([
    ['a number', 42],
    ['an array with a number', ['https://smartdatamodels.org/context.jsonld', 42]],
    ['a relative URL', 'context.jsonld'],
    ['a non-http URL', 'file:///etc/passwd'],
    ['a bad term definition', { a: { '@id': 'https://example.org/a', '@container': 'nope' } }],
    ['@import that is not a string', { '@import': 1 }],
  ])('%s', async (_name, ctx) => {
    const err = await failure(resolverWith({ allowHosts: ['etc'] }).resolve(ctx as never));
    expect(err.status).toBe(400);
    expect(totalRequests()).toBe(0);
  });
});

test('hosted contexts are found by their path on any host name', async () => {
  const store = new MemoryContextStore();
  await store.put({
    id: 'abc-1',
    url: 'http://broker.example:1026/ngsi-ld/v1/jsonldContexts/abc-1',
    kind: 'Hosted',
    body: { '@context': { height: 'https://example.org/height' } },
    createdAt: new Date().toISOString(),
    numberOfHits: 0,
  });
  const r = resolverWith({ store, allowHosts: [] });
  expect((await r.resolve('http://broker.example:1026/ngsi-ld/v1/jsonldContexts/abc-1')).expand('height')).toBe('https://example.org/height');
  expect((await r.resolve('http://10.0.0.7:8080/ngsi-ld/v1/jsonldContexts/abc-1')).expand('height')).toBe('https://example.org/height');
  expect((await store.getById('abc-1'))!.numberOfHits).toBe(2);
  for (const unknown of ['unknown', '%E0%A4%A']) {
    const err = await failure(r.resolve(`http://10.0.0.7:8080/ngsi-ld/v1/jsonldContexts/${unknown}`));
    expect(err.status).toBe(503);
  }
});
