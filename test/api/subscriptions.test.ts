import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader, CORE_V18 } from '../helpers/app';
import { BASE, DEFAULT_VOCAB, WEATHER_CTX, client, expectProblem, expectStatus, json, uid, utype, type Client } from '../helpers/ngsi';

/** Subscription API (spec 5.8.1–5.8.5, 6.10, 6.11): CRUD, validation, status members, tenancy, pagination. */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp({ NOTIFY_WORKER: 'off' }));
  c = client(app);
});
afterAll(async () => app?.close());

const SUBS = `${BASE}/subscriptions`;
const subUrl = (id: string) => `${SUBS}/${encodeURIComponent(id)}`;
const subId = () => uid('Subscription');
const ENDPOINT = 'http://notify.example.com/ngsi';

const minimal = (extra: Record<string, unknown> = {}) => ({
  type: 'Subscription',
  entities: [{ type: 'Sensor' }],
  notification: { endpoint: { uri: ENDPOINT } },
  ...extra,
});

async function create(body: Record<string, unknown>, headers?: Record<string, string>): Promise<string> {
  const res = expectStatus(await c.post(SUBS, body, headers), 201);
  const location = res.headers.location as string;
  expect(location).toMatch(/^\/ngsi-ld\/v1\/subscriptions\//);
  return decodeURIComponent(location.slice(`${SUBS}/`.length));
}

const get = async (id: string, query = '', headers: Record<string, string> = {}) =>
  json(expectStatus(await c.get(subUrl(id) + query, headers), 200));

describe('POST /subscriptions', () => {
  test('201 with Location; GET shows the defaults and the status members', async () => {
    const id = subId();
    expect(await create(minimal({ id }))).toBe(id);
    const s = await get(id);
    expect(s).toEqual({
      id,
      type: 'Subscription',
      entities: [{ type: 'Sensor' }],
      notificationTrigger: ['attributeCreated', 'attributeUpdated'],
      isActive: true,
      status: 'active',
      notification: {
        format: 'normalized',
        showChanges: false,
        sysAttrs: false,
        endpoint: { uri: ENDPOINT, accept: 'application/json' },
        status: 'ok',
        timesSent: 0,
        timesFailed: 0,
      },
      jsonldContext: CORE_V18,
    });
  });

  test('an id is generated when the body has none', async () => {
    const id = await create(minimal());
    expect(id).toMatch(/^urn:ngsi-ld:Subscription:[0-9a-f-]{36}$/);
    await get(id);
  });

  test('every member round-trips', async () => {
    const id = subId();
    const body = {
      id,
      type: 'Subscription',
      subscriptionName: 'lake sensors',
      description: 'temperature of the lake',
      entities: [{ type: 'Sensor', idPattern: '^urn:ngsi-ld:Sensor:lake-' }, { id: 'urn:ngsi-ld:Sensor:x', type: 'Sensor,Device' }],
      watchedAttributes: ['temperature', 'humidity'],
      notificationTrigger: ['entityCreated', 'attributeUpdated', 'entityDeleted'],
      q: 'temperature>20;humidity<80',
      geoQ: { geometry: 'Point', coordinates: [9.85, 46.26], georel: 'near;maxDistance==2000' },
      scopeQ: '/Valmalenco/#',
      lang: 'it',
      expiresAt: '2099-01-01T00:00:00.000Z',
      throttling: 5,
      notification: {
        attributes: ['temperature'],
        format: 'keyValues',
        sysAttrs: true,
        endpoint: {
          uri: 'mqtts://mqtt.example.com:8883/valley/lake',
          accept: 'application/ld+json',
          receiverInfo: [{ key: 'X-Auth', value: 'abc' }],
          notifierInfo: [{ key: 'MQTT-QoS', value: '1' }],
          timeout: 5000,
        },
      },
    };
    await create(body);
    const s = await get(id);
    const { notification, ...rest } = s;
    expect(rest).toEqual({ ...body, notification: undefined, isActive: true, status: 'active', jsonldContext: CORE_V18, geoQ: { ...body.geoQ, geoproperty: 'location' } });
    expect(notification).toEqual({ ...body.notification, showChanges: false, status: 'ok', timesSent: 0, timesFailed: 0 });
  });

  test('a periodic subscription: timeInterval, no notificationTrigger', async () => {
    const id = subId();
    await create(minimal({ id, timeInterval: 60 }));
    const s = await get(id);
    expect(s.timeInterval).toBe(60);
    expect(s.notificationTrigger).toBeUndefined();
  });

  test('409 AlreadyExists on a second create with the same id', async () => {
    const id = subId();
    await create(minimal({ id }));
    expectProblem(await c.post(SUBS, minimal({ id })), 409, 'AlreadyExists');
  });

  test('names are expanded with the Link header context and compacted with the reader\'s', async () => {
    const id = subId();
    await create(minimal({ id, entities: [{ type: 'WeatherObserved' }], watchedAttributes: ['temperature'], notification: { attributes: ['temperature'], endpoint: { uri: ENDPOINT } } }), { link: linkHeader(WEATHER_CTX) });
    const withLink = await get(id, '', { link: linkHeader(WEATHER_CTX) });
    expect(withLink.entities).toEqual([{ type: 'WeatherObserved' }]);
    expect(withLink.watchedAttributes).toEqual(['temperature']);
    expect(withLink.jsonldContext).toBe(WEATHER_CTX);
    const core = await get(id);
    expect(core.watchedAttributes[0]).toMatch(/^https:\/\//);
    expect(core.watchedAttributes[0]).not.toBe(`${DEFAULT_VOCAB}temperature`);
    expect(core.notification.attributes).toEqual(core.watchedAttributes);
  });

  test('the body\'s jsonldContext names the notification context', async () => {
    const id = subId();
    await create(minimal({ id, jsonldContext: WEATHER_CTX }));
    expect((await get(id)).jsonldContext).toBe(WEATHER_CTX);
  });

  test('an unavailable jsonldContext is 503 LdContextNotAvailable', async () => {
    expectProblem(await c.post(SUBS, minimal({ jsonldContext: 'https://contexts.example.org/nowhere.jsonld' })), 503, 'LdContextNotAvailable');
  });

  test('an inline @context (application/ld+json) is hosted and named by its URL', async () => {
    const id = subId();
    const ctx = { Lake: 'https://valley.example.org/Lake', level: 'https://valley.example.org/level' };
    await create({ ...minimal({ id, entities: [{ type: 'Lake' }], watchedAttributes: ['level'] }), '@context': [ctx, CORE_V18] }, { 'content-type': 'application/ld+json' });
    const s = await get(id);
    expect(s.jsonldContext).toMatch(/\/ngsi-ld\/v1\/jsonldContexts\/implicit-/);
    expect(s.entities).toEqual([{ type: 'https://valley.example.org/Lake' }]);
    const hosted = new URL(s.jsonldContext).pathname;
    expect(json(expectStatus(await c.get(hosted), 200))['@context']).toEqual([ctx, CORE_V18]);
    // a reader with that context sees the short names
    expect((await get(id, '', { link: linkHeader(s.jsonldContext) })).watchedAttributes).toEqual(['level']);
  });

  test('application/ld+json response carries the @context', async () => {
    const id = subId();
    await create(minimal({ id }));
    const res = expectStatus(await c.get(subUrl(id), { accept: 'application/ld+json' }), 200);
    expect(res.headers['content-type']).toMatch(/^application\/ld\+json/);
    expect(json(res)['@context']).toBe(CORE_V18);
  });

  test('options=sysAttrs adds createdAt and modifiedAt', async () => {
    const id = subId();
    await create(minimal({ id }));
    const s = await get(id, '?options=sysAttrs');
    expect(Date.parse(s.createdAt)).toBeGreaterThan(0);
    expect(s.modifiedAt).toBe(s.createdAt);
    expect((await get(id)).createdAt).toBeUndefined();
  });
});

describe('validation: 400 BadRequestData with a useful detail', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1], /./],
    ['type missing', { entities: [{ type: 'T' }], notification: { endpoint: { uri: ENDPOINT } } }, /'type'/],
    ['wrong type', minimal({ type: 'Subscriptions' }), /'type'/],
    ['id not a URI', minimal({ id: 'not a uri' }), /'id'/],
    ['notification missing', { type: 'Subscription', entities: [{ type: 'T' }] }, /notification/],
    ['endpoint missing', minimal({ notification: { format: 'normalized' } }), /endpoint/],
    ['uri missing', minimal({ notification: { endpoint: { accept: 'application/json' } } }), /uri/],
    ['unsupported scheme', minimal({ notification: { endpoint: { uri: 'ftp://example.com/x' } } }), /scheme/],
    ['not a URI', minimal({ notification: { endpoint: { uri: 'nowhere' } } }), /absolute URI/],
    ['loopback address', minimal({ notification: { endpoint: { uri: 'http://127.0.0.1:8080/x' } } }), /loopback.*NOTIFY_ALLOW_PRIVATE/],
    ['private address', minimal({ notification: { endpoint: { uri: 'http://10.1.2.3/x' } } }), /private/],
    ['link-local address', minimal({ notification: { endpoint: { uri: 'http://169.254.169.254/latest/meta-data' } } }), /link-local/],
    ['IPv6 loopback', minimal({ notification: { endpoint: { uri: 'http://[::1]:1026/x' } } }), /loopback/],
    ['localhost', minimal({ notification: { endpoint: { uri: 'http://localhost:1026/x' } } }), /localhost/],
    ['MQTT without topic', minimal({ notification: { endpoint: { uri: 'mqtt://mqtt.example.com:1883' } } }), /topic/],
    ['bad accept', minimal({ notification: { endpoint: { uri: ENDPOINT, accept: 'text/plain' } } }), /accept/],
    ['bad receiverInfo', minimal({ notification: { endpoint: { uri: ENDPOINT, receiverInfo: [{ key: 'a' }] } } }), /receiverInfo/],
    ['header injection', minimal({ notification: { endpoint: { uri: ENDPOINT, receiverInfo: [{ key: 'X', value: 'a\r\nB: c' }] } } }), /line breaks/],
    ['bad format', minimal({ notification: { format: 'compact', endpoint: { uri: ENDPOINT } } }), /format/],
    ['showChanges with keyValues', minimal({ notification: { format: 'keyValues', showChanges: true, endpoint: { uri: ENDPOINT } } }), /showChanges/],
    ['unknown member', minimal({ watchedAttribute: ['a'] }), /watchedAttribute/],
    ['unknown notification member', minimal({ notification: { endpoint: { uri: ENDPOINT }, formats: 'x' } }), /formats/],
    ['no entities nor watchedAttributes', { type: 'Subscription', notification: { endpoint: { uri: ENDPOINT } } }, /'entities' or 'watchedAttributes'/],
    ['empty entities', minimal({ entities: [] }), /entities/],
    ['selector without type', minimal({ entities: [{ id: 'urn:a:b' }] }), /entities\[0\].*'type'/],
    ['selector bad idPattern', minimal({ entities: [{ type: 'T', idPattern: '(' }] }), /idPattern/],
    ['selector bad type', minimal({ entities: [{ type: 'A,,B' }] }), /entities\[0\]\.type/],
    ['empty watchedAttributes', minimal({ watchedAttributes: [] }), /watchedAttributes/],
    ['unknown trigger', minimal({ notificationTrigger: ['entityChanged'] }), /entityChanged/],
    ['bad q', minimal({ q: 'temperature>>20' }), /q/],
    ['bad geoQ georel', minimal({ geoQ: { geometry: 'Point', coordinates: [9, 46], georel: 'nearby' } }), /geoQ.*georel/],
    ['incomplete geoQ', minimal({ geoQ: { geometry: 'Point', georel: 'within' } }), /geoQ/],
    ['bad geoQ coordinates', minimal({ geoQ: { geometry: 'Point', coordinates: [200, 46], georel: 'near;maxDistance==10' } }), /longitude/],
    ['bad scopeQ', minimal({ scopeQ: 'Valmalenco' }), /scope/],
    ['expiresAt not a date', minimal({ expiresAt: 'tomorrow' }), /expiresAt/],
    ['expiresAt in the past', minimal({ expiresAt: '2001-01-01T00:00:00Z' }), /expiresAt.*future/],
    ['throttling not positive', minimal({ throttling: 0 }), /throttling/],
    ['timeInterval with watchedAttributes', minimal({ timeInterval: 10, watchedAttributes: ['a'] }), /timeInterval/],
    ['timeInterval with throttling', minimal({ timeInterval: 10, throttling: 5 }), /timeInterval/],
    ['timeInterval without entities', { type: 'Subscription', timeInterval: 10, notification: { endpoint: { uri: ENDPOINT } } }, /entities/],
    ['isActive not boolean', minimal({ isActive: 'yes' }), /isActive/],
    ['jsonldContext not a URI', minimal({ jsonldContext: 'ctx' }), /jsonldContext/],
  ];
  test.each(cases)('%s', async (_name, body, detail) => {
    const problem = expectProblem(await c.post(SUBS, body), 400, 'BadRequestData');
    expect(problem.detail).toMatch(detail);
  });

  test('members this broker does not implement: 501', async () => {
    expectProblem(await c.post(SUBS, minimal({ csf: 'a==b' })), 501, 'OperationNotSupported');
    expectProblem(await c.post(SUBS, minimal({ notification: { endpoint: { uri: ENDPOINT }, pick: ['a'] } })), 501, 'OperationNotSupported');
  });

  test('read-only members echoed from a GET are ignored', async () => {
    const id = subId();
    await create(minimal({ id, status: 'paused', notification: { endpoint: { uri: ENDPOINT }, timesSent: 9, status: 'failed' } }));
    const s = await get(id);
    expect(s.status).toBe('active');
    expect(s.notification.timesSent).toBe(0);
    expect(s.notification.status).toBe('ok');
  });

  test('415 for a body that is not JSON', async () => {
    const res = await c.post(SUBS, JSON.stringify(minimal()), { 'content-type': 'text/plain' });
    expectProblem(res, 415, 'InvalidRequest');
  });

  test('a rejected subscription is not stored', async () => {
    const id = subId();
    expectStatus(await c.post(SUBS, minimal({ id, q: 'a>>' })), 400);
    expectProblem(await c.get(subUrl(id)), 404, 'ResourceNotFound');
  });
});

describe('private endpoints with NOTIFY_ALLOW_PRIVATE=true', () => {
  let priv: FastifyInstance;
  beforeAll(async () => {
    ({ app: priv } = await openTestApp({ NOTIFY_WORKER: 'off', NOTIFY_ALLOW_PRIVATE: 'true' }));
  });
  afterAll(async () => priv?.close());

  test('loopback and localhost are accepted', async () => {
    const p = client(priv);
    expectStatus(await p.post(SUBS, minimal({ notification: { endpoint: { uri: 'http://127.0.0.1:9999/x' } } })), 201);
    expectStatus(await p.post(SUBS, minimal({ notification: { endpoint: { uri: 'http://localhost:9999/x' } } })), 201);
    // the scheme is still checked
    expectStatus(await p.post(SUBS, minimal({ notification: { endpoint: { uri: 'file:///etc/passwd' } } })), 400);
  });
});

describe('GET /subscriptions/{id}, DELETE', () => {
  test('404 ResourceNotFound for an unknown id; 400 for an id that is not a URI', async () => {
    expectProblem(await c.get(subUrl(subId())), 404, 'ResourceNotFound');
    expectProblem(await c.del(subUrl(subId())), 404, 'ResourceNotFound');
    expectProblem(await c.patch(subUrl(subId()), { isActive: false }), 404, 'ResourceNotFound');
    expectProblem(await c.get(subUrl('no uri')), 400, 'BadRequestData');
  });

  test('DELETE 204, then 404', async () => {
    const id = subId();
    await create(minimal({ id }));
    expectStatus(await c.del(subUrl(id)), 204);
    expectProblem(await c.get(subUrl(id)), 404, 'ResourceNotFound');
    expectProblem(await c.del(subUrl(id)), 404, 'ResourceNotFound');
  });

  test('status members come from the store (as the delivery worker writes them)', async () => {
    const id = subId();
    await create(minimal({ id }));
    await app.db.query(
      `UPDATE subscriptions SET times_sent = 7, times_failed = 2, notification_status = 'failed',
          last_notification = '2030-01-01T10:00:00Z', last_success = '2030-01-01T09:00:00Z', last_failure = '2030-01-01T10:00:00Z'
        WHERE tenant = '' AND id = $1`,
      [id],
    );
    expect((await get(id)).notification).toEqual(expect.objectContaining({
      status: 'failed',
      timesSent: 7,
      timesFailed: 2,
      lastNotification: '2030-01-01T10:00:00.000Z',
      lastSuccess: '2030-01-01T09:00:00.000Z',
      lastFailure: '2030-01-01T10:00:00.000Z',
    }));
  });

  test('status expired once expiresAt has passed', async () => {
    const id = subId();
    await create(minimal({ id, expiresAt: new Date(Date.now() + 600).toISOString() }));
    expect((await get(id)).status).toBe('active');
    await new Promise((r) => setTimeout(r, 800));
    expect((await get(id)).status).toBe('expired');
  });
});

describe('PATCH /subscriptions/{id}', () => {
  test('members are replaced, notification members merged, status follows isActive', async () => {
    const id = subId();
    await create(minimal({ id, q: 'a>1', notification: { format: 'keyValues', endpoint: { uri: ENDPOINT } } }));
    expectStatus(await c.patch(subUrl(id), { isActive: false, q: 'a>2', notification: { attributes: ['a'] } }), 204);
    const s = await get(id, '?options=sysAttrs');
    expect(s.isActive).toBe(false);
    expect(s.status).toBe('paused');
    expect(s.q).toBe('a>2');
    expect(s.notification).toEqual(expect.objectContaining({ format: 'keyValues', attributes: ['a'], endpoint: { uri: ENDPOINT, accept: 'application/json' } }));
    expect(s.modifiedAt >= s.createdAt).toBe(true);
    expectStatus(await c.patch(subUrl(id), { isActive: true }), 204);
    expect((await get(id)).status).toBe('active');
  });

  test('null removes an optional member', async () => {
    const id = subId();
    await create(minimal({ id, q: 'a>1', throttling: 10, watchedAttributes: ['a'] }));
    expectStatus(await c.patch(subUrl(id), { q: null, throttling: 'urn:ngsi-ld:null', watchedAttributes: null }), 204);
    const s = await get(id);
    expect(s.q).toBeUndefined();
    expect(s.throttling).toBeUndefined();
    expect(s.watchedAttributes).toBeUndefined();
  });

  test('an invalid fragment is 400 and changes nothing', async () => {
    const id = subId();
    await create(minimal({ id, q: 'a>1' }));
    const before = await get(id);
    for (const body of [
      { q: 'a>>1' },
      { notificationTrigger: ['nope'] },
      { notification: { endpoint: { uri: 'http://192.168.1.1/x' } } },
      { expiresAt: '2001-01-01T00:00:00Z' },
      { id: subId() },
      { entities: null }, // would leave neither entities nor watchedAttributes
      { notification: { format: 'keyValues', showChanges: true } },
      { timeInterval: 5, throttling: 1 },
      {},
    ]) {
      expectProblem(await c.patch(subUrl(id), body), 400, 'BadRequestData');
    }
    expect(await get(id)).toEqual(before);
  });

  test('endpoint replaced whole; watchedAttributes expanded with the request context', async () => {
    const id = subId();
    await create(minimal({ id }));
    expectStatus(await c.patch(subUrl(id), { watchedAttributes: ['temperature'], notification: { endpoint: { uri: 'https://other.example.com/n', accept: 'application/ld+json' } } }, { link: linkHeader(WEATHER_CTX) }), 204);
    const s = await get(id, '', { link: linkHeader(WEATHER_CTX) });
    expect(s.watchedAttributes).toEqual(['temperature']);
    expect(s.notification.endpoint).toEqual({ uri: 'https://other.example.com/n', accept: 'application/ld+json' });
  });
});

describe('tenants and pagination', () => {
  test('a subscription lives in its tenant; an unknown tenant is 404 NonexistentTenant on reads', async () => {
    const tenant = utype('tenant').toLowerCase();
    const id = subId();
    expectProblem(await c.get(SUBS, { 'ngsild-tenant': tenant }), 404, 'NonexistentTenant');
    expectProblem(await c.get(subUrl(id), { 'ngsild-tenant': tenant }), 404, 'NonexistentTenant');
    await create(minimal({ id }), { 'ngsild-tenant': tenant });
    expect((await get(id, '', { 'ngsild-tenant': tenant })).id).toBe(id);
    expectProblem(await c.get(subUrl(id)), 404, 'ResourceNotFound');
    const list = json(expectStatus(await c.get(SUBS, { 'ngsild-tenant': tenant }), 200));
    expect(list.map((s: { id: string }) => s.id)).toEqual([id]);
    expectProblem(await c.del(subUrl(id)), 404, 'ResourceNotFound');
    expectStatus(await c.del(subUrl(id), { 'ngsild-tenant': tenant }), 204);
  });

  test('limit, offset and count; ordered by id', async () => {
    const tenant = utype('pages').toLowerCase();
    const ids = ['urn:ngsi-ld:Subscription:e', 'urn:ngsi-ld:Subscription:a', 'urn:ngsi-ld:Subscription:c', 'urn:ngsi-ld:Subscription:b', 'urn:ngsi-ld:Subscription:d'];
    for (const id of ids) await create(minimal({ id }), { 'ngsild-tenant': tenant });
    const h = { 'ngsild-tenant': tenant };
    const all = json(expectStatus(await c.get(SUBS, h), 200));
    expect(all.map((s: { id: string }) => s.id)).toEqual([...ids].sort());
    const page = expectStatus(await c.get(`${SUBS}?limit=2&offset=2&count=true`, h), 200);
    expect(page.headers['ngsild-results-count']).toBe('5');
    expect(json(page).map((s: { id: string }) => s.id)).toEqual(['urn:ngsi-ld:Subscription:c', 'urn:ngsi-ld:Subscription:d']);
    const countOnly = expectStatus(await c.get(`${SUBS}?limit=0&count=true`, h), 200);
    expect(json(countOnly)).toEqual([]);
    expect(countOnly.headers['ngsild-results-count']).toBe('5');
    expect(json(expectStatus(await c.get(`${SUBS}?offset=10`, h), 200))).toEqual([]);
    expectProblem(await c.get(`${SUBS}?limit=1001`, h), 400, 'BadRequestData');
    expectProblem(await c.get(`${SUBS}?limit=0`, h), 400, 'BadRequestData');
    expectProblem(await c.get(`${SUBS}?limit=-1`, h), 400, 'BadRequestData');
    expectProblem(await c.get(`${SUBS}?options=keyValues`, h), 400, 'BadRequestData');
  });
});
