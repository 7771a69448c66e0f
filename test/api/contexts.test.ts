import type { FastifyInstance } from 'fastify';
import { openTestApp, CORE_V18, linkHeader } from '../helpers/app';
import { BASE, DEFAULT_VOCAB, WEATHER_CTX, client, entityUrl, expectProblem, expectStatus, json, uid, type Client } from '../helpers/ngsi';

/** @context handling (spec 6.3.5, 5.5.7) and the /jsonldContexts API (5.13). */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
});
afterAll(async () => app?.close());

const WEATHER = 'https://smartdatamodels.org/dataModel.Weather/';
const weatherLink = { link: linkHeader(WEATHER_CTX) };

const weather = (id: string) => ({
  id,
  type: 'WeatherObserved',
  temperature: { type: 'Property', value: 12.5 },
  relativeHumidity: { type: 'Property', value: 0.6 },
});

describe('Link header with a bundled Smart Data Models context', () => {
  test('terms are expanded on write and compacted on read with the same Link', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    const res = expectStatus(await c.get(entityUrl(id), weatherLink), 200);
    expect(json(res)).toEqual(weather(id));
    // the response names the context it was compacted with
    expect(res.headers.link).toContain(WEATHER_CTX);
  });

  test('without the Link header the names come back as full IRIs', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    const e = await c.entity(id);
    expect(e.type).toBe(`${WEATHER}WeatherObserved`);
    expect(e[`${WEATHER}temperature`]).toEqual({ type: 'Property', value: 12.5 });
    expect(e.temperature).toBeUndefined();
  });

  test('an entity written with the core context only is stored in the default vocabulary', async () => {
    const id = uid();
    await c.create({ id, type: 'WeatherObserved', temperature: 1 });
    const raw = await c.entity(id);
    expect(raw.type).toBe('WeatherObserved');
    const e = await c.entity(id, '', weatherLink);
    // not the Weather term: the default-vocabulary IRI compacts to a compact IRI (ngsi-ld: prefix)
    expect(e.type).toBe('ngsi-ld:default-context/WeatherObserved');
    expect(e['ngsi-ld:default-context/temperature']).toBeDefined();
    expect(json(expectStatus(await c.get(`${BASE}/entities?id=${id}&type=${encodeURIComponent(DEFAULT_VOCAB + 'WeatherObserved')}`), 200))).toHaveLength(1);
  });

  test('type, q and attrs in queries are expanded with the Link context', async () => {
    const id = uid('WeatherObserved');
    await c.create({ ...weather(id), temperature: { type: 'Property', value: 99 } }, weatherLink);
    const res = expectStatus(await c.get(`${BASE}/entities?type=WeatherObserved&q=temperature==99&attrs=temperature`, weatherLink), 200);
    expect(json(res)).toEqual([{ id, type: 'WeatherObserved', temperature: { type: 'Property', value: 99 } }]);
    // without the context, the same query names other IRIs
    expect(json(expectStatus(await c.get(`${BASE}/entities?type=WeatherObserved&q=temperature==99`), 200))).toEqual([]);
  });

  test('PATCH/DELETE of an attribute by its compact name', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    expectStatus(await c.patch(entityUrl(id, '/attrs/temperature'), { value: 13 }, weatherLink), 204);
    expect((await c.entity(id, '', weatherLink)).temperature.value).toBe(13);
    expectStatus(await c.del(entityUrl(id, '/attrs/relativeHumidity'), weatherLink), 204);
    expect((await c.entity(id, '', weatherLink)).relativeHumidity).toBeUndefined();
  });

  test('ld+json response carries the Weather @context', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    const res = expectStatus(await c.get(entityUrl(id), { ...weatherLink, accept: 'application/ld+json' }), 200);
    const body = json(res);
    expect(body.temperature).toBeDefined();
    expect(JSON.stringify(body['@context'])).toContain(WEATHER_CTX);
    expect(res.headers.link).toBeUndefined();
  });
});

describe('@context in the body', () => {
  test('application/ld+json with @context is used for expansion', async () => {
    const id = uid('WeatherObserved');
    const res = await c.post(`${BASE}/entities`, { ...weather(id), '@context': [WEATHER_CTX, CORE_V18] }, { 'content-type': 'application/ld+json' });
    expectStatus(res, 201);
    expect((await c.entity(id, '', weatherLink)).temperature.value).toBe(12.5);
  });

  test('inline context objects work', async () => {
    const id = uid();
    const ctx = { speed: 'https://example.org/vocab#speed' };
    expectStatus(await c.post(`${BASE}/entities`, { id, type: 'Car', speed: 3, '@context': ctx }, { 'content-type': 'application/ld+json' }), 201);
    expect((await c.entity(id))['https://example.org/vocab#speed'].value).toBe(3);
  });

  test('application/ld+json without @context → 400', async () => {
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T' }, { 'content-type': 'application/ld+json' }), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test('Link header together with application/ld+json → 400', async () => {
    const id = uid();
    const res = await c.post(`${BASE}/entities`, { ...weather(id), '@context': WEATHER_CTX }, { 'content-type': 'application/ld+json', ...weatherLink });
    expectProblem(res, 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
  });

  test('@context in an application/json body → 400', async () => {
    const id = uid();
    expectProblem(await c.post(`${BASE}/entities`, { ...weather(id), '@context': WEATHER_CTX }), 400, 'BadRequestData');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    const existing = uid();
    await c.create({ id: existing, type: 'T', a: 1 });
    expectProblem(await c.patch(entityUrl(existing, '/attrs'), { a: 2, '@context': WEATHER_CTX }), 400, 'BadRequestData');
    expectProblem(await c.post(entityUrl(existing, '/attrs'), { b: 2, '@context': WEATHER_CTX }), 400, 'BadRequestData');
    expectProblem(await c.patch(entityUrl(existing), { a: 3, '@context': WEATHER_CTX }), 400, 'BadRequestData');
    expect((await c.entity(existing)).a.value).toBe(1);
  });

  test('POST /entityOperations/query with ld+json body @context', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    const res = await c.post(
      `${BASE}/entityOperations/query`,
      { type: 'Query', entities: [{ id, type: 'WeatherObserved' }], '@context': WEATHER_CTX },
      { 'content-type': 'application/ld+json' },
    );
    expect(json(expectStatus(res, 200))).toEqual([weather(id)]);
  });
});

describe('unavailable or invalid contexts', () => {
  test('unknown remote context URL → 503 LdContextNotAvailable, nothing written', async () => {
    const id = uid();
    const link = { link: linkHeader('https://contexts.example.com/unknown.jsonld') };
    expectProblem(await c.post(`${BASE}/entities`, { id, type: 'T' }, link), 503, 'LdContextNotAvailable');
    expectProblem(await c.get(entityUrl(id)), 404, 'ResourceNotFound');
    expectProblem(await c.get(`${BASE}/entities?type=T`, link), 503, 'LdContextNotAvailable');
  });

  test('malformed Link header → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?type=T`, { link: 'not a link' }), 400, 'BadRequestData');
  });

  test('a Link header with another rel is ignored', async () => {
    const res = await c.get(`${BASE}/entities?type=T`, { link: '<https://example.com/x>; rel="next"' });
    expectStatus(res, 200);
  });
});

describe('/jsonldContexts', () => {
  const ctxDoc = { '@context': { myTerm: 'https://example.org/ns#myTerm', MyType: 'https://example.org/ns#MyType' } };

  async function register(): Promise<{ url: string; localId: string }> {
    const res = expectStatus(await c.post(`${BASE}/jsonldContexts`, ctxDoc), 201);
    const url = res.headers.location as string;
    expect(url).toMatch(/^https?:\/\/[^/]+\/ngsi-ld\/v1\/jsonldContexts\/[^/]+$/);
    return { url, localId: decodeURIComponent(url.split('/').pop()!) };
  }

  test('POST → 201 + Location; GET one → the document; list → contains it', async () => {
    const { url, localId } = await register();
    const doc = expectStatus(await c.get(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}`), 200);
    expect(doc.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(json(doc)).toEqual(ctxDoc);
    const list = json(expectStatus(await c.get(`${BASE}/jsonldContexts`), 200));
    expect(list).toContain(url);
    const hosted = json(expectStatus(await c.get(`${BASE}/jsonldContexts?kind=Hosted`), 200));
    expect(hosted).toContain(url);
    expect(json(expectStatus(await c.get(`${BASE}/jsonldContexts?kind=Cached`), 200))).not.toContain(url);
  });

  test('details: list and one', async () => {
    const { url, localId } = await register();
    const list = json(expectStatus(await c.get(`${BASE}/jsonldContexts?details=true`), 200));
    const mine = list.find((m: any) => m.localId === localId);
    expect(mine).toEqual(expect.objectContaining({ URL: url, localId, kind: 'Hosted', timestamp: expect.any(String), numberOfHits: expect.any(Number) }));
    const one = json(expectStatus(await c.get(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}?details=true`), 200));
    expect(one).toEqual(expect.objectContaining({ URL: url, localId, kind: 'Hosted' }));
  });

  test('a hosted context is usable through its URL in a Link header', async () => {
    const { url, localId } = await register();
    const id = uid('MyType');
    const link = { link: linkHeader(url) };
    await c.create({ id, type: 'MyType', myTerm: 'v' }, link);
    const raw = await c.entity(id);
    expect(raw.type).toBe('https://example.org/ns#MyType');
    expect(raw['https://example.org/ns#myTerm'].value).toBe('v');
    const res = expectStatus(await c.get(entityUrl(id), link), 200);
    expect(json(res)).toEqual({ id, type: 'MyType', myTerm: { type: 'Property', value: 'v' } });
    expect(res.headers.link).toContain(url);
    const details = json(await c.get(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}?details=true`));
    expect(details.numberOfHits).toBeGreaterThan(0);
  });

  test('DELETE → 204, then 404; deleting again → 404', async () => {
    const { url, localId } = await register();
    expectStatus(await c.del(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}`), 204);
    expectProblem(await c.get(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}`), 404, 'ResourceNotFound');
    expectProblem(await c.del(`${BASE}/jsonldContexts/${encodeURIComponent(localId)}`), 404, 'ResourceNotFound');
    expect(json(await c.get(`${BASE}/jsonldContexts`))).not.toContain(url);
    // a deleted hosted context can no longer be used
    const res = await c.post(`${BASE}/entities`, { id: uid(), type: 'MyType' }, { link: linkHeader(url) });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(json(res).type).toMatch(/^https:\/\/uri\.etsi\.org\/ngsi-ld\/errors\//);
  });

  test('the core context is served and cannot be deleted', async () => {
    const res = expectStatus(await c.get(`${BASE}/jsonldContexts/${encodeURIComponent(CORE_V18)}`), 200);
    expect(json(res)['@context']).toBeDefined();
    expectProblem(await c.del(`${BASE}/jsonldContexts/${encodeURIComponent(CORE_V18)}`), 400, 'BadRequestData');
  });

  test('invalid registrations → 400; unknown id → 404; bad kind → 400', async () => {
    expectProblem(await c.post(`${BASE}/jsonldContexts`, { notContext: 1 }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/jsonldContexts`, { '@context': 42 }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/jsonldContexts`, { '@context': 'ftp://x/y' }), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/jsonldContexts/nope`), 404, 'ResourceNotFound');
    expectProblem(await c.get(`${BASE}/jsonldContexts?kind=Bogus`), 400, 'BadRequestData');
  });
});

describe('implicitly created contexts (spec 5.13)', () => {
  test('an inline @context used for an application/json answer is hosted and linked', async () => {
    const id = uid('WeatherObserved');
    await c.create(weather(id), weatherLink);
    const inline = [{ temp: 'https://smartdatamodels.org/dataModel.Weather/temperature' }];
    const query = () =>
      app.inject({
        method: 'POST',
        url: `${BASE}/entityOperations/query`,
        headers: { 'content-type': 'application/ld+json', accept: 'application/json', host: 'valley.example:1026' },
        payload: { type: 'Query', entities: [{ id, type: `${WEATHER}WeatherObserved` }], '@context': inline },
      });
    const res = expectStatus(await query(), 200);
    expect(json(res)[0].temp).toEqual({ type: 'Property', value: 12.5 });
    const link = /^<([^>]+)>/.exec(String(res.headers.link))![1];
    expect(link).toMatch(/^http:\/\/valley\.example:1026\/ngsi-ld\/v1\/jsonldContexts\/implicit-[0-9a-f]{32}$/);
    // the same context gets the same URL, and the service serves it
    expect(String(expectStatus(await query(), 200).headers.link)).toContain(link);
    const served = expectStatus(await app.inject({ method: 'GET', url: new URL(link).pathname }), 200);
    expect(json(served)).toEqual({ '@context': inline });
    const listed = json<{ URL: string; kind: string }[]>(
      expectStatus(await app.inject({ method: 'GET', url: `${BASE}/jsonldContexts?details=true&kind=ImplicitlyCreated` }), 200),
    );
    expect(listed.map((m) => m.URL)).toContain(link);
  });
});
