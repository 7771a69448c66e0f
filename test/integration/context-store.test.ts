import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTestDb } from '../helpers/db';
import type { Db } from '../../src/store/db';
import { SqlContextStore } from '../../src/store/context-store';
import { ContextResolver } from '../../src/ngsi-ld/context/resolver';
import { addContext, deleteContext, getContext, listContexts, type ContextMetadata, type StoredContext } from '../../src/ngsi-ld/context/registry';
import { failure } from '../helpers/errors';

let db: Db;
let store: SqlContextStore;
let server: Server;
let origin: string;
let remoteBody = { '@context': { rainfall: 'https://example.org/rain/v1' } };
let remoteRequests = 0;

beforeAll(async () => {
  db = await openTestDb();
  store = new SqlContextStore(db);
  server = createServer((_req, res) => {
    remoteRequests++;
    res.writeHead(200, { 'content-type': 'application/ld+json' }).end(JSON.stringify(remoteBody));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await db.close();
});
beforeEach(() => db.query('DELETE FROM jsonld_contexts'));

// the test server is on loopback: private addresses allowed, as CONTEXT_ALLOW_PRIVATE=true would
const resolver = () => new ContextResolver({ coreVersion: 'v1.8', allowHosts: [new URL(origin).host], allowPrivate: true, store });
const BASE = 'http://broker.example:1026';


describe('SqlContextStore', () => {
  const sample = (over: Partial<StoredContext> = {}): StoredContext => ({
    id: 'c1',
    url: 'https://example.org/c1.jsonld',
    kind: 'Cached',
    body: { '@context': { a: 'https://example.org/a', nested: { '@id': 'https://example.org/n', '@type': '@id' } } },
    createdAt: '2025-01-02T03:04:05.678Z',
    numberOfHits: 0,
    ...over,
  });

  test('put, get by URL and id, list by kind, delete', async () => {
    await store.put(sample());
    await store.put(sample({ id: 'h1', url: `${BASE}/ngsi-ld/v1/jsonldContexts/h1`, kind: 'Hosted', createdAt: '2025-01-03T00:00:00.000Z' }));
    expect(await store.get('https://example.org/c1.jsonld')).toEqual(sample());
    expect((await store.getById('h1'))?.kind).toBe('Hosted');
    expect(await store.get('https://example.org/none')).toBeUndefined();
    expect((await store.list()).map((c) => c.id)).toEqual(['c1', 'h1']);
    expect((await store.list('Hosted')).map((c) => c.id)).toEqual(['h1']);
    expect(await store.delete('c1')).toBe(true);
    expect(await store.delete('c1')).toBe(false);
    expect((await store.list()).map((c) => c.id)).toEqual(['h1']);
  });

  test('a second put for the same URL replaces the body and keeps the id', async () => {
    await store.put(sample());
    await store.put(sample({ id: 'other', body: { '@context': { b: 'https://example.org/b' } } }));
    const stored = await store.get('https://example.org/c1.jsonld');
    expect(stored).toMatchObject({ id: 'c1', body: { '@context': { b: 'https://example.org/b' } } });
    expect(await store.getById('other')).toBeUndefined();
  });

  test('touch counts hits and sets lastUsage', async () => {
    await store.put(sample());
    await store.touch('https://example.org/c1.jsonld');
    await store.touch('https://example.org/c1.jsonld');
    const stored = await store.get('https://example.org/c1.jsonld');
    expect(stored?.numberOfHits).toBe(2);
    expect(Date.parse(stored!.lastUsage!)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('/jsonldContexts registry', () => {
  const body = { '@context': { height: 'https://example.org/height', ex: 'https://example.org/' } };

  test('add a hosted context, list it, serve it, use it from any host name, delete it', async () => {
    const stored = await addContext(store, body, BASE + '/');
    expect(stored.kind).toBe('Hosted');
    expect(stored.url).toBe(`${BASE}/ngsi-ld/v1/jsonldContexts/${encodeURIComponent(stored.id)}`);
    expect(await listContexts(store, {})).toEqual([stored.url]);
    expect(await getContext(store, stored.id)).toEqual(body);

    const r = resolver();
    const viaOtherHost = `http://localhost:9999/ngsi-ld/v1/jsonldContexts/${stored.id}`;
    expect((await r.resolve(stored.url)).expand('height')).toBe('https://example.org/height');
    expect((await r.resolve([viaOtherHost])).expand('height')).toBe('https://example.org/height');

    const [meta] = (await listContexts(store, { details: true, kind: 'Hosted' })) as ContextMetadata[];
    expect(meta).toEqual({
      URL: stored.url,
      localId: stored.id,
      kind: 'Hosted',
      timestamp: stored.createdAt,
      lastUsage: expect.any(String),
      numberOfHits: 2,
    });
    expect(await getContext(store, stored.id, { details: true })).toEqual(meta);
    expect(await listContexts(store, { kind: 'Cached' })).toEqual([]);

    await deleteContext(store, stored.id, { cache: r });
    expect(await listContexts(store, {})).toEqual([]);
    expect((await failure(getContext(store, stored.id))).status).toBe(404);
    // the compiled map was forgotten with it
    expect((await failure(r.resolve(stored.url))).status).toBe(503);
  });

  test.each<[string, unknown]>([
    ['not an object', [1]],
    ['no @context', { context: {} }],
    ['@context a number', { '@context': 5 }],
    ['@context with a relative URL', { '@context': ['ctx.jsonld'] }],
    ['a bad term definition', { '@context': { a: { '@id': 'https://example.org/a', '@type': 5 } } }],
  ])('adding %s is a 400', async (_name, bad) => {
    expect((await failure(addContext(store, bad, BASE))).status).toBe(400);
    expect(await store.list()).toEqual([]);
  });

  test('contexts with URLs are accepted as they are (checked when used)', async () => {
    const stored = await addContext(store, { '@context': ['https://smartdatamodels.org/context.jsonld', { x: 'ex:x' }] }, BASE);
    expect((await resolver().resolve(stored.url)).expand('WeatherObserved')).toBe('https://uri.fiware.org/ns/data-models#WeatherObserved');
  });

  test('cached contexts: listed with their original URL, content not served, reloaded on request', async () => {
    remoteBody = { '@context': { rainfall: 'https://example.org/rain/v1' } };
    const url = `${origin}/rain.jsonld`;
    const r = resolver();
    expect((await r.resolve(url)).expand('rainfall')).toBe('https://example.org/rain/v1');
    expect(await listContexts(store, { kind: 'Cached' })).toEqual([url]);
    const [{ localId }] = (await listContexts(store, { details: true })) as { localId: string }[];

    const err = await failure(getContext(store, localId));
    expect([err.status, err.problemType]).toEqual([422, 'OperationNotSupported']);
    expect(await getContext(store, url, { details: true })).toMatchObject({ URL: url, kind: 'Cached' });

    remoteBody = { '@context': { rainfall: 'https://example.org/rain/v2' } };
    const before = remoteRequests;
    await deleteContext(store, localId, { reload: true, cache: r });
    expect(remoteRequests).toBe(before + 1);
    expect((await r.resolve(url)).expand('rainfall')).toBe('https://example.org/rain/v2');
    expect((await store.get(url))?.id).toBe(localId);

    // by its original URL, without reload: gone
    await deleteContext(store, url, { cache: r });
    expect(await store.list()).toEqual([]);
  });

  test('reloading a hosted context, deleting the core context or an unknown one fail', async () => {
    const stored = await addContext(store, body, BASE);
    expect((await failure(deleteContext(store, stored.id, { reload: true }))).status).toBe(400);
    const core = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld';
    expect((await failure(deleteContext(store, core))).status).toBe(400);
    expect((await failure(deleteContext(store, 'nope'))).status).toBe(404);
    expect(await getContext(store, core)).toMatchObject({ '@context': { '@protected': true } });
    expect((await failure(listContexts(store, { kind: 'Other' }))).status).toBe(400);
  });

  test('a failed re-download is a 504 and keeps the stored copy', async () => {
    const cachedUrl = 'https://not-allowed.example/ctx.jsonld';
    await store.put({ id: 'x1', url: cachedUrl, kind: 'Cached', body, createdAt: new Date().toISOString(), numberOfHits: 0 });
    const err = await failure(deleteContext(store, 'x1', { reload: true, cache: resolver() }));
    expect([err.status, err.problemType]).toEqual([504, 'LdContextNotAvailable']);
    expect(await store.getById('x1')).toBeDefined();
  });
});
