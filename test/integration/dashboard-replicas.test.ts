import http from 'node:http';
import type { Db } from '../../src/store/db';
import { openTestDb } from '../helpers/db';
import { call, keptOpen, startInstance, type Instance } from '../helpers/instances';

/**
 * Two replicas on one PostgreSQL: a write through B reaches the dashboards listening on A
 * (NOTIFY smartland_changes, LISTEN in every replica). PostgreSQL only: PGlite is one process and
 * one store, there is no second replica to tell (its single-process path: test/api/dashboard.test.ts).
 */
const url = process.env.DATABASE_URL;
const withPostgres = url ? test : test.skip;

let db: Db;
let a: Instance | undefined;
let b: Instance | undefined;

beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await b?.app.close();
  await a?.app.close();
  await db?.close();
});

withPostgres('a write through one replica sends a change event to the dashboards of the other', async () => {
  a = await startInstance(keptOpen(db), { DATABASE_URL: url!, NOTIFY_WORKER: 'off' });
  b = await startInstance(keptOpen(db), { DATABASE_URL: url!, NOTIFY_WORKER: 'off' });
  const chunks: string[] = [];
  const res = await new Promise<http.IncomingMessage>((resolve) => {
    http.get(`${a!.url}/dashboard/events?tenant=replicas`, (r) => {
      r.setEncoding('utf8');
      r.on('data', (d: string) => chunks.push(d));
      resolve(r);
    });
  });
  const write = await call(b.url, 'POST', '/ngsi-ld/v1/entities', { id: 'urn:ngsi-ld:T:replica', type: 'T', n: { type: 'Property', value: 1 } }, { 'ngsild-tenant': 'replicas' });
  expect(write.status).toBe(201);
  const end = Date.now() + 5000;
  const events = () => chunks.join('').split('\n\n').filter((e) => e.startsWith('event: change'));
  while (events().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(events()).toHaveLength(1);
  expect(JSON.parse(events()[0].split('data: ')[1]).tenant).toBe('replicas');
  res.destroy();
});
