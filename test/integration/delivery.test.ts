import mqtt from 'mqtt';
import { openTestDb } from '../helpers/db';
import { openPostgres, type Db } from '../../src/store/db';
import { EmbeddedBroker } from '../../src/broker/embedded/engine';
import { ContextResolver } from '../../src/ngsi-ld/context/resolver';
import { SqlContextStore } from '../../src/store/context-store';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/notify/worker';
import type { Entity } from '../../src/ngsi-ld/types';
import { Receiver } from '../helpers/receiver';

/**
 * Notification delivery against real receivers: an HTTP server on 127.0.0.1 and the Mosquitto at
 * MQTT_URL. Subscriptions and outbox rows are written with SQL (the matcher's contract), the
 * worker delivers them.
 */

const MQTT_URL = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883';
const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld';
const VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
const T = VOCAB + 'Sensor';

let db: Db;
let broker: EmbeddedBroker;
let contexts: ContextResolver;
const workers: DeliveryWorker[] = [];
let counter = 0;

const receivers: Receiver[] = [];
async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start();
  receivers.push(r);
  return r;
}

function worker(opts: Partial<DeliveryWorkerOptions> = {}, onDb: Db = db): DeliveryWorker {
  const w = new DeliveryWorker({
    db: onDb,
    broker,
    contexts,
    policy: { allowPrivate: true },
    pollMs: 100,
    backoff: { baseMs: 100, maxMs: 400 },
    timeoutMs: 2000,
    leaseMs: 5000,
    ...opts,
  });
  workers.push(w);
  return w;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 15000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SubOpts {
  uri: string;
  accept?: string;
  format?: string;
  showChanges?: boolean;
  sysAttrs?: boolean;
  attributes?: string[];
  receiverInfo?: { key: string; value: string }[];
  notifierInfo?: { key: string; value: string }[];
  throttling?: number;
  timeInterval?: number;
  isActive?: boolean;
  expiresAt?: string;
  tenant?: string;
  jsonldContext?: unknown;
}

async function subscription(o: SubOpts): Promise<string> {
  const id = `urn:ngsi-ld:Subscription:d${++counter}-${Date.now()}`;
  const now = new Date().toISOString();
  const doc = {
    entities: [{ type: T }],
    notificationTrigger: ['entityCreated', 'entityUpdated', 'entityDeleted', 'attributeCreated', 'attributeUpdated', 'attributeDeleted'],
    isActive: o.isActive ?? true,
    ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
    ...(o.throttling ? { throttling: o.throttling } : {}),
    ...(o.timeInterval ? { timeInterval: o.timeInterval } : {}),
    notification: {
      format: o.format ?? 'normalized',
      showChanges: o.showChanges ?? false,
      sysAttrs: o.sysAttrs ?? false,
      ...(o.attributes ? { attributes: o.attributes } : {}),
      endpoint: { uri: o.uri, accept: o.accept ?? 'application/json', receiverInfo: o.receiverInfo, notifierInfo: o.notifierInfo },
    },
    jsonldContext: o.jsonldContext ?? CORE,
    createdAt: now,
    modifiedAt: now,
  };
  await db.query(
    `INSERT INTO subscriptions (tenant, id, doc, is_active, expires_at, periodic, next_run_at, created_at, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())`,
    [o.tenant ?? '', id, JSON.stringify(doc), o.isActive ?? true, o.expiresAt ?? null, !!o.timeInterval, o.timeInterval ? new Date().toISOString() : null],
  );
  return id;
}

const entity = (id: string, n: number, extra: Record<string, unknown> = {}): Entity => ({
  id,
  type: [T],
  attrs: { [VOCAB + 'n']: [{ type: 'Property', value: n }], ...(extra as Entity['attrs']) },
});

/** Queues rows the way the matcher does: one statement, in order. */
async function queue(subId: string, rows: { trigger?: string; after?: Entity; before?: Entity }[], tenant = ''): Promise<void> {
  await db.query(
    `INSERT INTO notification_outbox (tenant, subscription_id, trigger, entity_id, payload)
     SELECT $1, $2, r->>'trigger', r->>'entityId', r->'payload' FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(r, i) ORDER BY i`,
    [tenant, subId, JSON.stringify(rows.map((r) => ({ trigger: r.trigger ?? 'entityUpdated', entityId: (r.after ?? r.before)!.id, payload: { after: r.after, before: r.before } })))],
  );
}

const nums = (count: number, id = 'urn:ngsi-ld:Sensor:a', from = 0) =>
  Array.from({ length: count }, (_, i) => ({ after: entity(id, from + i) }));

async function status(id: string) {
  const { rows } = await db.query<any>('SELECT times_sent, times_failed, last_success, last_failure, last_notification, notification_status FROM subscriptions WHERE id = $1', [id]);
  return rows[0];
}
async function queued(id: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notification_outbox WHERE subscription_id = $1', [id]);
  return Number(rows[0].n);
}

beforeAll(async () => {
  db = await openTestDb();
  broker = new EmbeddedBroker(db);
  contexts = new ContextResolver({ coreVersion: 'v1.8', allowHosts: [], store: new SqlContextStore(db) });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  await db.query('DELETE FROM notification_outbox');
  await db.query('DELETE FROM subscriptions');
});

afterAll(async () => {
  await db.close();
});

describe('HTTP delivery', () => {
  test('a Notification per batch, in seq order, with the Link header; status ok; queue emptied', async () => {
    const r = await receiver();
    const id = await subscription({ uri: r.url });
    await queue(id, nums(5));
    await worker().start();
    await until(() => r.data.length === 5, 10000, '5 entities');
    expect(r.data.map((e) => e.n.value)).toEqual([0, 1, 2, 3, 4]);
    const first = r.got[0];
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers.link).toBe(`<${CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^urn:ngsi-ld:Notification:[0-9a-f-]{36}$/),
      type: 'Notification',
      subscriptionId: id,
      notifiedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: expect.any(Array),
    });
    expect(first.body.data[0]).toEqual({ id: 'urn:ngsi-ld:Sensor:a', type: 'Sensor', n: { type: 'Property', value: 0 } });
    await until(async () => (await queued(id)) === 0, 5000, 'queue empty');
    const s = await status(id);
    expect(s.notification_status).toBe('ok');
    expect(s.times_sent).toBeGreaterThanOrEqual(1);
    expect(s.times_failed).toBe(0);
    expect(s.last_success).not.toBeNull();
  });

  test('formats, accept, receiverInfo, tenant, every trigger, showChanges', async () => {
    const r = await receiver();
    const ctx = { '@context': { temperature: 'https://example.org/terms/temperature' } };
    const kv = await subscription({ uri: r.url, format: 'keyValues', accept: 'application/ld+json', jsonldContext: ctx['@context'], tenant: 'valley',
      receiverInfo: [{ key: 'X-Token', value: 'abc' }] });
    const concise = await subscription({ uri: r.url, format: 'concise', showChanges: true });
    const geo = await subscription({ uri: r.url, accept: 'application/geo+json' });
    const a = 'urn:ngsi-ld:Sensor:x';
    const withTemp = (n: number, t: number): Entity => entity(a, n, { 'https://example.org/terms/temperature': [{ type: 'Property', value: t }] });
    await queue(kv, [{ trigger: 'entityCreated', after: withTemp(1, 20) }], 'valley');
    await queue(concise, [
      { trigger: 'entityCreated', after: entity(a, 1) },
      { trigger: 'attributeUpdated', after: entity(a, 2), before: entity(a, 1) },
      { trigger: 'attributeDeleted', after: { id: a, type: [T], attrs: {} }, before: entity(a, 2) },
      { trigger: 'entityDeleted', before: entity(a, 2) },
    ]);
    const located: Entity = { id: a, type: [T], attrs: { 'https://uri.etsi.org/ngsi-ld/location': [{ type: 'GeoProperty', value: { type: 'Point', coordinates: [9.8, 46.3] } }] } };
    await queue(geo, [{ trigger: 'attributeCreated', after: located }]);
    await worker().start();
    await until(() => r.got.length >= 3, 10000, '3 notifications');
    const bySub = (id: string) => r.got.filter((g) => g.body.subscriptionId === id);

    const k = bySub(kv)[0];
    expect(k.headers['content-type']).toBe('application/ld+json');
    expect(k.headers.link).toBeUndefined();
    expect(k.headers['x-token']).toBe('abc');
    expect(k.headers['ngsild-tenant']).toBe('valley');
    expect(k.body['@context']).toEqual(ctx['@context']);
    expect(k.body.data).toEqual([{ id: a, type: 'Sensor', n: 1, temperature: 20 }]);

    const c = bySub(concise).flatMap((g) => g.body.data);
    expect(c).toEqual([
      { id: a, type: 'Sensor', n: 1 },
      { id: a, type: 'Sensor', n: { value: 2, previousValue: 1 } },
      { id: a, type: 'Sensor', n: { value: 'urn:ngsi-ld:null', deletedAt: expect.any(String) } },
      { id: a, type: 'Sensor', deletedAt: expect.any(String) },
    ]);

    const g = bySub(geo)[0];
    expect(g.headers['content-type']).toBe('application/geo+json');
    expect(g.body.data).toEqual({
      type: 'FeatureCollection',
      features: [{ id: a, type: 'Feature', geometry: { type: 'Point', coordinates: [9.8, 46.3] }, properties: expect.objectContaining({ type: 'Sensor' }) }],
      '@context': CORE,
    });
  });

  test('order per subscription across many batches, several subscriptions in parallel', async () => {
    const r = await receiver();
    const subs = [await subscription({ uri: r.url }), await subscription({ uri: r.url }), await subscription({ uri: r.url })];
    for (const s of subs) await queue(s, nums(120, s));
    await worker({ batchSize: 25 }).start();
    await until(() => r.data.length === 360, 15000, '360 entities');
    for (const s of subs) expect(r.data.filter((e) => e.id === s).map((e) => e.n.value)).toEqual(Array.from({ length: 120 }, (_, i) => i));
  });

  test('receiver down then up: failed status, backoff, nothing lost, order kept, recovery to ok', async () => {
    const r = await receiver();
    r.behaviour = (n) => (n < 3 ? 503 : 204);
    const id = await subscription({ uri: r.url });
    await queue(id, nums(4));
    const w = worker({ batchSize: 2 });
    await w.start();
    await until(async () => (await status(id)).notification_status === 'failed', 5000, 'failed status');
    const failed = await status(id);
    expect(failed.times_failed).toBeGreaterThanOrEqual(1);
    expect(failed.last_failure).not.toBeNull();
    const { rows } = await db.query<any>('SELECT attempts, last_error FROM notification_outbox WHERE subscription_id = $1 ORDER BY seq LIMIT 1', [id]);
    expect(rows[0].attempts).toBeGreaterThanOrEqual(1);
    expect(rows[0].last_error).toBe('HTTP 503');
    await until(() => r.data.length === 4, 10000, 'delivery after recovery');
    expect(r.data.map((e) => e.n.value)).toEqual([0, 1, 2, 3]);
    const ok = await status(id);
    expect(ok.notification_status).toBe('ok');
    expect(ok.times_failed).toBe(3);
    // backoff: 3 failures at ~100, ~200, ~400 ms (+-10 %) before the success
    expect(r.got[0].at - new Date(failed.last_failure).getTime()).toBeGreaterThan(50);
  });

  test('receiver not listening at all, then listening', async () => {
    const r = await receiver();
    const url = r.url;
    const port = new URL(url).port;
    await r.stop();
    receivers.splice(receivers.indexOf(r), 1);
    const id = await subscription({ uri: url });
    await queue(id, nums(3));
    await worker().start();
    await until(async () => (await status(id)).times_failed >= 2, 5000, 'failures');
    // back on the same port: the subscription's endpoint
    const again = await new Receiver().start(Number(port));
    receivers.push(again);
    await until(() => again.data.length === 3, 10000, 'delivery');
    expect(again.data.map((e) => e.n.value)).toEqual([0, 1, 2]);
  });

  test('throttling: at most one notification per throttling period; rows wait and go out together', async () => {
    const r = await receiver();
    const id = await subscription({ uri: r.url, throttling: 1 });
    await queue(id, nums(1));
    await worker().start();
    await until(() => r.got.length === 1, 5000, 'first');
    await queue(id, nums(3, 'urn:ngsi-ld:Sensor:a', 1));
    await sleep(500);
    expect(r.got.length).toBe(1);
    await until(() => r.got.length === 2, 3000, 'second');
    expect(r.got[1].at - r.got[0].at).toBeGreaterThanOrEqual(990);
    expect(r.got[1].at - r.got[0].at).toBeLessThan(1600);
    expect(r.got[1].body.data.map((e: any) => e.n.value)).toEqual([1, 2, 3]);
  });

  test('timeInterval: periodic notifications with the matching entities, rescheduled by whole intervals', async () => {
    const r = await receiver();
    await broker.createEntity('', entity('urn:ngsi-ld:Sensor:p1', 7));
    await broker.createEntity('', { id: 'urn:ngsi-ld:Other:o1', type: [VOCAB + 'Other'], attrs: {} });
    const id = await subscription({ uri: r.url, timeInterval: 1 });
    const { rows } = await db.query<any>('SELECT next_run_at FROM subscriptions WHERE id = $1', [id]);
    const start = new Date(rows[0].next_run_at).getTime();
    await worker().start();
    await until(() => r.got.length >= 3, 6000, '3 periodic notifications');
    expect(r.got[0].body.data).toEqual([{ id: 'urn:ngsi-ld:Sensor:p1', type: 'Sensor', n: { type: 'Property', value: 7 } }]);
    const gaps = [r.got[1].at - r.got[0].at, r.got[2].at - r.got[1].at];
    for (const gap of gaps) {
      expect(gap).toBeGreaterThan(800);
      expect(gap).toBeLessThan(1300);
    }
    const { rows: after } = await db.query<any>('SELECT next_run_at FROM subscriptions WHERE id = $1', [id]);
    expect((new Date(after[0].next_run_at).getTime() - start) % 1000).toBe(0);
    await broker.deleteEntity('', 'urn:ngsi-ld:Sensor:p1');
    await broker.deleteEntity('', 'urn:ngsi-ld:Other:o1');
  });

  test('expired and paused subscriptions are not delivered; rows are kept; resume delivers them', async () => {
    const r = await receiver();
    const expired = await subscription({ uri: r.url, expiresAt: new Date(Date.now() - 1000).toISOString() });
    const paused = await subscription({ uri: r.url, isActive: false });
    await queue(expired, nums(2));
    await queue(paused, nums(2));
    const w = worker();
    await w.start();
    await sleep(600);
    expect(r.got).toHaveLength(0);
    expect(await queued(expired)).toBe(2);
    expect(await queued(paused)).toBe(2);
    await db.query("UPDATE subscriptions SET is_active = true, doc = jsonb_set(doc, '{isActive}', 'true') WHERE id = $1", [paused]);
    w.wake();
    await until(() => r.data.length === 2, 5000, 'resumed delivery');
    expect(r.got.every((g) => g.body.subscriptionId === paused)).toBe(true);
  });

  test('private endpoints are refused without NOTIFY_ALLOW_PRIVATE: the failure is recorded', async () => {
    const r = await receiver();
    const id = await subscription({ uri: r.url });
    await queue(id, nums(1));
    await worker({ policy: { allowPrivate: false } }).start();
    await until(async () => (await status(id)).notification_status === 'failed', 5000, 'failure');
    const { rows } = await db.query<any>('SELECT last_error FROM notification_outbox WHERE subscription_id = $1', [id]);
    expect(rows[0].last_error).toMatch(/loopback/);
    expect(r.got).toHaveLength(0);
  });

  test('a worker killed mid-delivery: another worker delivers its rows once the claim lapses', async () => {
    const r = await receiver();
    r.behaviour = (n) => (n === 0 ? 'hang' : 204);
    const id = await subscription({ uri: r.url });
    await queue(id, nums(3));
    const a = worker({ leaseMs: 800, timeoutMs: 30000 });
    await a.start();
    await until(async () => {
      const { rows } = await db.query<any>('SELECT delivery_owner FROM subscriptions WHERE id = $1', [id]);
      return rows[0].delivery_owner === a.id;
    }, 5000, 'claim by A');
    await sleep(100);
    await a.kill();
    const b = worker();
    await b.start();
    await until(() => r.data.length === 3, 8000, 'delivery by B');
    expect(r.data.map((e) => e.n.value)).toEqual([0, 1, 2]);
    // rows go once the endpoint's answer is back
    await until(async () => (await queued(id)) === 0, 3000, 'the delivered rows deleted');
  });

  test('two replicas on one database: every row delivered, none twice, order kept', async () => {
    const r = await receiver();
    const subs: string[] = [];
    for (let i = 0; i < 8; i++) subs.push(await subscription({ uri: r.url }));
    for (const s of subs) await queue(s, nums(60, s));
    let second: Db = db;
    if (db.kind === 'postgres' && process.env.DATABASE_URL) {
      const { rows } = await db.query<{ s: string }>('SELECT current_schema() AS s');
      second = await openPostgres({ url: process.env.DATABASE_URL, schema: rows[0].s, poolSize: 4 });
    }
    const a = worker({ batchSize: 10, concurrency: 3, listenUrl: process.env.DATABASE_URL });
    const b = worker({ batchSize: 10, concurrency: 3, listenUrl: process.env.DATABASE_URL }, second);
    await Promise.all([a.start(), b.start()]);
    try {
      await until(() => r.data.length >= 480, 20000, '480 entities');
      await sleep(300);
      expect(r.data.length).toBe(480);
      for (const s of subs) expect(r.data.filter((e) => e.id === s).map((e) => e.n.value)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      if (second !== db) expect(a.stats.rowsDelivered).toBeGreaterThan(0);
      if (second !== db) expect(b.stats.rowsDelivered).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      if (second !== db) await second.close();
    }
  });
});

describe('MQTT delivery', () => {
  const cases: [string, number][] = [
    ['mqtt3.1.1', 0],
    ['mqtt3.1.1', 1],
    ['mqtt5.0', 0],
    ['mqtt5.0', 1],
  ];
  test.each(cases)('%s QoS %d: publishes {metadata, body} to the URI path topic', async (version, qos) => {
    const topic = `smartland/test/${process.pid}/${++counter}`;
    const listener = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    const got: any[] = [];
    listener.on('message', (t, payload) => {
      if (t === topic) got.push(JSON.parse(payload.toString()));
    });
    await listener.subscribeAsync(topic, { qos: 1 });
    try {
      const broker = new URL(MQTT_URL);
      const id = await subscription({
        uri: `mqtt://${broker.host}/${topic}`,
        notifierInfo: [{ key: 'MQTT-Version', value: version }, { key: 'MQTT-QoS', value: String(qos) }],
        receiverInfo: [{ key: 'X-Info', value: 'yes' }],
      });
      await queue(id, nums(3));
      await worker().start();
      await until(() => got.flatMap((m) => m.body.data).length === 3, 8000, 'MQTT messages');
      expect(got[0].metadata).toEqual({
        'Content-Type': 'application/json',
        Link: `<${CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
        'X-Info': 'yes',
      });
      expect(got[0].body).toEqual(expect.objectContaining({ type: 'Notification', subscriptionId: id }));
      expect(got.flatMap((m) => m.body.data).map((e: any) => e.n.value)).toEqual([0, 1, 2]);
      expect((await status(id)).notification_status).toBe('ok');
    } finally {
      await listener.endAsync();
    }
  });

  test('an unreachable MQTT broker fails the delivery and keeps the rows', async () => {
    const id = await subscription({ uri: 'mqtt://127.0.0.1:1/some/topic' });
    await queue(id, nums(1));
    await worker().start();
    await until(async () => (await status(id)).notification_status === 'failed', 5000, 'failure');
    expect(await queued(id)).toBe(1);
  });
});
