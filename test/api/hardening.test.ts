import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { ADMIN_KEY, authEnv, bearer, createKey, jwtSigner } from '../helpers/auth';
import { BASE, client, expectStatus, json } from '../helpers/ngsi';

/** Rate limits per principal, security headers, load shedding, timeouts: as the real app answers. */

describe('rate limit per principal', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await openTestApp(authEnv((await jwtSigner()).jwksFile, { RATE_LIMIT_MAX: '4', RATE_LIMIT_WINDOW_MS: '60000' })));
  });
  afterAll(async () => app?.close());

  test('over the limit → 429 problem with Retry-After; other principals keep their own budget', async () => {
    const c = client(app);
    // the admin's own budget: 1 request creates each key
    const one = (await createKey(app, { name: 'busy', roles: ['reader'], tenants: ['*'] })).key;
    const two = (await createKey(app, { name: 'quiet', roles: ['reader'], tenants: ['*'] })).key;
    for (let i = 0; i < 4; i++) expectStatus(await c.get(`${BASE}/jsonldContexts`, bearer(one)), 200);
    const limited = await c.get(`${BASE}/jsonldContexts`, bearer(one));
    expectStatus(limited, 429);
    expect(json(limited)).toEqual(expect.objectContaining({ type: 'urn:smartland:errors:TooManyRequests', status: 429 }));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expectStatus(await c.get(`${BASE}/jsonldContexts`, bearer(two)), 200);
    expectStatus(await c.get(`${BASE}/jsonldContexts`, bearer(ADMIN_KEY)), 200);
  });

  test('without credentials the client address is the key', async () => {
    const c = client(app);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await c.get('/health', { 'x-test': String(i) })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });
});

describe('headers, load shedding and timeouts', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await openTestApp({ MAX_EVENT_LOOP_DELAY_MS: '1', REQUEST_TIMEOUT_MS: '15000' }));
  });
  afterAll(async () => app?.close());

  test('security headers on every answer', async () => {
    const res = await client(app).get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  test('a blocked event loop sheds requests with 503 problem details, then recovers', async () => {
    const c = client(app);
    const busyUntil = Date.now() + 1200;
    while (Date.now() < busyUntil) {
      // block the event loop, as an overloaded process would
    }
    // under-pressure samples the delay once a second: its overdue sample runs first, then the request
    await new Promise((r) => setTimeout(r, 20));
    const shed = await c.get(`${BASE}/types`);
    expectStatus(shed, 503);
    expect(json(shed)).toEqual(expect.objectContaining({ type: 'urn:smartland:errors:ServiceUnavailable', status: 503 }));
    expect(shed.headers['retry-after']).toBe('10');
    let status = 503;
    for (let i = 0; i < 30 && status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await c.get('/health')).statusCode;
    }
    expect(status).toBe(200);
  });

  test('request and connection timeouts are set on the server', () => {
    expect(app.server.requestTimeout).toBe(15000);
    expect(app.initialConfig.connectionTimeout).toBe(15000);
  });
});
