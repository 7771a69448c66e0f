import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Receiver } from '../helpers/receiver';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process';

/**
 * At-least-once across a crash: the real service in a child process (src/server.ts) queues
 * notifications for acknowledged writes, is SIGKILLed while a notification is in flight, and is
 * started again on the same store. Every acknowledged change must reach the receiver (duplicates
 * allowed: the notification in flight at the kill may go out twice), in order per entity.
 * PostgreSQL when DATABASE_URL is set (a schema of its own), else PGlite in a data folder.
 */

const ENTITIES = 40;
const ROUNDS = 8;
const TYPE = 'CrashProbe';

let dir: string;
let storeEnv: Record<string, string>;
let schema: string | undefined;
let service: ServiceProcess | undefined;
let receiver: Receiver;

beforeAll(async () => {
  dir = mkdtempSync(join(os.tmpdir(), 'smartland-crash-'));
  const url = process.env.DATABASE_URL;
  if (url) {
    schema = 'test_crash_' + randomBytes(4).toString('hex');
    storeEnv = { DATABASE_URL: url, DATABASE_SCHEMA: schema };
  } else {
    storeEnv = { DATA_DIR: join(dir, 'data') };
  }
  receiver = await new Receiver().start();
});

afterAll(async () => {
  await service?.kill();
  await receiver?.stop();
  if (schema) {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ ...storeEnv, AUTH: 'off', NOTIFY_ALLOW_PRIVATE: 'true', NOTIFY_LEASE_SECONDS: '2' });

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(service!.url + '/ngsi-ld/v1' + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- service output ---\n${service?.output().slice(-4000)}`);
    await sleep(50);
  }
}

const idOf = (i: number) => `urn:ngsi-ld:${TYPE}:${String(i).padStart(3, '0')}`;

test('the process killed mid-delivery and restarted: every acknowledged change is delivered, in order per entity', async () => {
  service = await startServiceProcess(env());
  const sub = await call('POST', '/subscriptions', {
    id: 'urn:ngsi-ld:Subscription:crash',
    type: 'Subscription',
    entities: [{ type: TYPE }],
    notification: { format: 'keyValues', attributes: ['round'], endpoint: { uri: receiver.url, accept: 'application/json' } },
  });
  expect(sub.status).toBe(201);

  // a slow endpoint: each notification is in flight for a while
  receiver.delayMs = 150;
  for (let round = 0; round < ROUNDS; round++) {
    const batch = Array.from({ length: ENTITIES }, (_, i) => ({ id: idOf(i), type: TYPE, round: { type: 'Property', value: round } }));
    const res = await call('POST', '/entityOperations/upsert?options=update', batch);
    expect([201, 204]).toContain(res.status);
  }
  const expected = ENTITIES * ROUNDS; // every acknowledged change: one notification item each

  // kill while notifications are going out (one has arrived, more are queued)
  await until(() => receiver.got.length >= 1, 30_000, 'the first notification');
  expect(receiver.data.length).toBeLessThan(expected);
  await service.kill();
  const beforeRestart = receiver.data.length;

  receiver.delayMs = 0;
  service = await startServiceProcess(env());
  const seen = () => new Set(receiver.data.map((e) => `${e.id}#${e.round}`)).size;
  await until(() => seen() === expected, 60_000, `all ${expected} changes (had ${beforeRestart} before the restart)`);

  // per entity, the first arrival of each round comes in round order
  const firstSeen = new Map<string, number[]>();
  const counted = new Set<string>();
  for (const e of receiver.data) {
    const key = `${e.id}#${e.round}`;
    if (counted.has(key)) continue;
    counted.add(key);
    firstSeen.set(e.id, [...(firstSeen.get(e.id) ?? []), e.round]);
  }
  for (let i = 0; i < ENTITIES; i++) expect(firstSeen.get(idOf(i))).toEqual(Array.from({ length: ROUNDS }, (_, r) => r));

  const status = (await (await call('GET', '/subscriptions/urn:ngsi-ld:Subscription:crash')).json()) as { notification: { status: string } };
  expect(status.notification.status).toBe('ok');
  // duplicates are at-least-once retries of what was in flight at the kill, never more than a batch
  expect(receiver.data.length - expected).toBeLessThanOrEqual(100);
  await service.stop();
  service = undefined;
});
