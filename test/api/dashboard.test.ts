import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { BASE, client, expectStatus, type Client } from '../helpers/ngsi';

/**
 * The dashboard plugin: redirect, page, bundle files with their media types, live change events.
 * (jest's globalSetup builds the bundle.)
 */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp({ AUTH: 'off', DASHBOARD_TILE_URL: 'https://tiles.example.org/{z}/{x}/{y}.png' }));
  c = client(app);
}, 120_000);
afterAll(() => app.close());

test('/ redirects to /dashboard, keeping the query', async () => {
  const res = await c.get('/?tenant=valmalenco');
  expect(res.statusCode).toBe(302);
  expect(res.headers.location).toBe('/dashboard?tenant=valmalenco');
});

test('the page: HTML with the bundle, the tile URL and a CSP that allows only those tiles', async () => {
  const res = expectStatus(await c.get('/dashboard'), 200);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.body).toContain('<script src="/dashboard/app.js"></script>');
  expect(res.body).toContain('data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"');
  expect(res.headers['content-security-policy']).toContain("img-src 'self' data: https://tiles.example.org;");
  expect(res.headers['content-security-policy']).toContain("script-src 'self'");
});

test.each([
  ['app.js', 'text/javascript; charset=utf-8'],
  ['app.css', 'text/css; charset=utf-8'],
  ['app.js.map', 'application/json; charset=utf-8'],
])('/dashboard/%s is served as %s', async (file, type) => {
  const res = expectStatus(await c.get(`/dashboard/${file}`), 200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.body.length).toBeGreaterThan(100);
});

test('nothing else is served from the bundle folder', async () => {
  for (const file of ['index.html', '..%2Fpackage.json', 'app.ts']) expect((await c.get(`/dashboard/${file}`)).statusCode).toBe(404);
});

test('a write sends one coalesced change event to the dashboards of its tenant only', async () => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const listen = (tenant: string) => new Promise<{ chunks: string[]; res: http.IncomingMessage }>((resolve) => {
    http.get(`http://127.0.0.1:${port}/dashboard/events?tenant=${tenant}`, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (d: string) => chunks.push(d));
      resolve({ chunks, res });
    });
  });
  const mine = await listen('dash');
  const other = await listen('elsewhere');
  expect(mine.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  for (let i = 0; i < 3; i++) {
    expectStatus(await c.post(`${BASE}/entityOperations/upsert`, [{ id: 'urn:ngsi-ld:T:dash', type: 'T', n: i }], { 'NGSILD-Tenant': 'dash' }), i === 0 ? 201 : 204);
  }
  await new Promise((r) => setTimeout(r, 600));
  const events = (chunks: string[]) => chunks.join('').split('\n\n').filter((e) => e.startsWith('event: change'));
  expect(events(mine.chunks)).toHaveLength(1);
  expect(JSON.parse(events(mine.chunks)[0].split('data: ')[1]).tenant).toBe('dash');
  expect(events(other.chunks)).toHaveLength(0);
  mine.res.destroy();
  other.res.destroy();
});
