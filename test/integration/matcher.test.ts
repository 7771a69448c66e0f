import { randomBytes } from 'node:crypto';
import { openTestDb } from '../helpers/db';
import { failure } from '../helpers/errors';
import type { Db } from '../../src/store/db';
import { EmbeddedBroker } from '../../src/broker/embedded/engine';
import { ContextResolver } from '../../src/ngsi-ld/context/resolver';
import { SqlContextStore } from '../../src/store/context-store';
import type { TermMap } from '../../src/ngsi-ld/context/types';
import { parseEntity } from '../../src/ngsi-ld/entity/parse';
import { parseSubscription } from '../../src/notify/subscription-parse';
import { matchSubscriptions } from '../../src/notify/matcher';
import type { Entity } from '../../src/ngsi-ld/types';

/**
 * In-transaction subscription matching on the real store (PGlite, or PostgreSQL with
 * DATABASE_URL): triggers, watchedAttributes, selectors, q / geoQ / scopeQ, paused / expired /
 * periodic subscriptions, one outbox row per (subscription, entity change), atomicity.
 */

let db: Db;
let broker: EmbeddedBroker;
let tm: TermMap;

beforeAll(async () => {
  db = await openTestDb();
  broker = new EmbeddedBroker(db);
  tm = await new ContextResolver({ coreVersion: 'v1.8', allowHosts: [], store: new SqlContextStore(db) }).resolve(undefined);
});
afterAll(async () => db?.close());

const V = 'https://uri.etsi.org/ngsi-ld/default-context/';
let n = 0;
/** each test works in a tenant of its own */
const newTenant = () => `m${randomBytes(4).toString('hex')}${++n}`;
const eid = (local: string) => `urn:ngsi-ld:Sensor:${local}`;

async function subscribe(tenant: string, body: Record<string, unknown>): Promise<string> {
  const sub = parseSubscription(
    { type: 'Subscription', notification: { endpoint: { uri: 'http://notify.example.com/n' } }, ...body },
    tm,
    { tenant, now: new Date().toISOString(), requestContext: tm.context, policy: { allowPrivate: false } },
  );
  await broker.createSubscription(tenant, sub);
  return sub.id;
}

const entity = (body: Record<string, unknown>): Entity => parseEntity({ type: 'Sensor', ...body }, tm);
const attrs = (body: Record<string, unknown>) => parseEntity({ id: 'urn:ngsi-ld:Sensor:_', type: 'Sensor', ...body }, tm).attrs;

interface OutboxRow {
  subscription_id: string;
  trigger: string;
  entity_id: string;
  payload: { after?: Entity; before?: Entity; at: string };
  attempts: number;
}

async function outbox(tenant: string): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    'SELECT subscription_id, trigger, entity_id, payload, attempts FROM notification_outbox WHERE tenant = $1 ORDER BY seq',
    [tenant],
  );
  return rows;
}
const triggers = async (tenant: string) => (await outbox(tenant)).map((r) => `${r.trigger}:${r.entity_id}`);
const clear = (tenant: string) => db.query('DELETE FROM notification_outbox WHERE tenant = $1', [tenant]);

describe('triggers', () => {
  test('default triggers (attributeCreated, attributeUpdated): creation and updates notify, deletions do not', async () => {
    const t = newTenant();
    const sid = await subscribe(t, { entities: [{ type: 'Sensor' }] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 20 }));
    const [created] = await outbox(t);
    expect(created).toEqual(expect.objectContaining({ subscription_id: sid, trigger: 'attributeCreated', entity_id: eid('a'), attempts: 0 }));
    expect(created.payload.after?.attrs[`${V}temperature`][0].value).toBe(20);
    expect(created.payload.before).toBeUndefined();
    expect(Date.parse(created.payload.at)).toBeGreaterThan(0);
    await clear(t);
    await broker.updateAttributes(t, eid('a'), attrs({ temperature: 21 }));
    expect(await triggers(t)).toEqual([`attributeUpdated:${eid('a')}`]);
    await clear(t);
    await broker.deleteAttribute(t, eid('a'), `${V}temperature`, {});
    await broker.deleteEntity(t, eid('a'));
    expect(await triggers(t)).toEqual([]);
  });

  test('entityCreated, entityUpdated, entityDeleted', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityCreated'] });
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityUpdated'] });
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityDeleted'] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 20, humidity: 50 }));
    expect(await triggers(t)).toEqual([`entityCreated:${eid('a')}`]);
    await clear(t);
    await broker.appendAttributes(t, eid('a'), attrs({ pressure: 1000 }), { noOverwrite: false });
    await broker.updateAttributes(t, eid('a'), attrs({ temperature: 22 }));
    await broker.deleteAttribute(t, eid('a'), `${V}humidity`, {});
    // an entityUpdated subscription gets the attribute-level trigger of what happened
    expect(await triggers(t)).toEqual([`attributeCreated:${eid('a')}`, `attributeUpdated:${eid('a')}`, `attributeDeleted:${eid('a')}`]);
    await clear(t);
    await broker.mergeEntity(t, eid('a'), {}, { scope: ['/Valmalenco'] });
    expect(await triggers(t)).toEqual([`entityUpdated:${eid('a')}`]);
    await clear(t);
    await broker.deleteEntity(t, eid('a'));
    const rows = await outbox(t);
    expect(rows.map((r) => r.trigger)).toEqual(['entityDeleted']);
    expect(rows[0].payload.after).toBeUndefined();
    expect(rows[0].payload.before?.attrs[`${V}temperature`][0].value).toBe(22);
  });

  test('attributeCreated, attributeUpdated, attributeDeleted each alone', async () => {
    const t = newTenant();
    const c = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['attributeCreated'] });
    const u = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['attributeUpdated'] });
    const d = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['attributeDeleted'] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 20 }));
    await broker.appendAttributes(t, eid('a'), attrs({ humidity: 40 }), { noOverwrite: false });
    await broker.partialUpdateAttribute(t, eid('a'), `${V}temperature`, [{ type: 'Property', value: 25 }]);
    await broker.deleteAttribute(t, eid('a'), `${V}humidity`, {});
    const rows = await outbox(t);
    expect(rows.map((r) => [r.subscription_id, r.trigger])).toEqual([
      [c, 'attributeCreated'],
      [c, 'attributeCreated'],
      [u, 'attributeUpdated'],
      [d, 'attributeDeleted'],
    ]);
    // attributeDeleted carries the state before, for the deleted attribute's rendering
    expect(rows[3].payload.before?.attrs[`${V}humidity`]).toBeDefined();
    expect(rows[3].payload.after?.attrs[`${V}humidity`]).toBeUndefined();
  });

  test('one write that creates and updates attributes is one row per subscription; showChanges keeps before', async () => {
    const t = newTenant();
    const plain = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['attributeCreated', 'attributeUpdated'] });
    const changes = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['attributeUpdated'], notification: { showChanges: true, endpoint: { uri: 'http://notify.example.com/n' } } });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 20 }));
    await clear(t);
    await broker.appendAttributes(t, eid('a'), attrs({ temperature: 21, humidity: 40 }), { noOverwrite: false });
    const rows = await outbox(t);
    expect(rows.map((r) => [r.subscription_id, r.trigger])).toEqual([[plain, 'attributeCreated'], [changes, 'attributeUpdated']]);
    expect(rows[0].payload.before).toBeUndefined();
    expect(rows[1].payload.before?.attrs[`${V}temperature`][0].value).toBe(20);
    expect(rows[1].payload.after?.attrs[`${V}temperature`][0].value).toBe(21);
  });

  test('a write that changes nothing notifies nothing', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityUpdated', 'attributeCreated'] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 20 }));
    await clear(t);
    await broker.appendAttributes(t, eid('a'), attrs({ temperature: 99 }), { noOverwrite: true });
    expect(await triggers(t)).toEqual([]);
  });
});

describe('watchedAttributes', () => {
  test('only changes of watched attributes trigger', async () => {
    const t = newTenant();
    await subscribe(t, { watchedAttributes: ['temperature'], notificationTrigger: ['entityCreated', 'attributeCreated', 'attributeUpdated', 'entityDeleted'] });
    await broker.createEntity(t, entity({ id: eid('a'), humidity: 1 }));
    expect(await triggers(t)).toEqual([]);
    await broker.updateAttributes(t, eid('a'), attrs({ humidity: 2 }));
    expect(await triggers(t)).toEqual([]);
    await broker.appendAttributes(t, eid('a'), attrs({ temperature: 5 }), { noOverwrite: false });
    expect(await triggers(t)).toEqual([`attributeCreated:${eid('a')}`]);
    await clear(t);
    await broker.appendAttributes(t, eid('a'), attrs({ temperature: 6, humidity: 3 }), { noOverwrite: false });
    expect(await triggers(t)).toEqual([`attributeUpdated:${eid('a')}`]);
    await clear(t);
    await broker.createEntity(t, entity({ id: eid('b'), temperature: 1 }));
    expect(await triggers(t)).toEqual([`entityCreated:${eid('b')}`]);
    await clear(t);
    await broker.batchDelete(t, [eid('a'), eid('b')]);
    expect((await triggers(t)).sort()).toEqual([`entityDeleted:${eid('a')}`, `entityDeleted:${eid('b')}`]);
  });
});

describe('entity selectors', () => {
  test('type, type selection, id, idPattern', async () => {
    const t = newTenant();
    const byType = await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityCreated'] });
    const byAll = await subscribe(t, { entities: [{ type: 'Sensor;Device' }], notificationTrigger: ['entityCreated'] });
    const byId = await subscribe(t, { entities: [{ type: 'Sensor,Device', id: eid('one') }], notificationTrigger: ['entityCreated'] });
    const byPattern = await subscribe(t, { entities: [{ type: 'Device', idPattern: ':lake-' }], notificationTrigger: ['entityCreated'] });
    await broker.batchCreate(t, [
      entity({ id: eid('one') }),
      entity({ id: eid('two'), type: ['Sensor', 'Device'] }),
      entity({ id: eid('lake-1'), type: 'Device' }),
      entity({ id: eid('three'), type: 'Other' }),
    ]);
    const rows = (await outbox(t)).map((r) => `${r.subscription_id}|${r.entity_id}`).sort();
    expect(rows).toEqual([
      `${byType}|${eid('one')}`,
      `${byType}|${eid('two')}`,
      `${byAll}|${eid('two')}`,
      `${byId}|${eid('one')}`,
      `${byPattern}|${eid('lake-1')}`,
    ].sort());
  });
});

describe('q, geoQ, scopeQ (evaluated in SQL)', () => {
  test('q on the state after the write', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], q: 'temperature>20;status=="ok"' });
    await broker.batchUpsert(t, [
      entity({ id: eid('hot'), temperature: 25, status: 'ok' }),
      entity({ id: eid('cold'), temperature: 15, status: 'ok' }),
      entity({ id: eid('broken'), temperature: 30, status: 'ko' }),
    ], 'replace');
    expect(await triggers(t)).toEqual([`attributeCreated:${eid('hot')}`]);
    await clear(t);
    await broker.batchUpdate(t, [entity({ id: eid('cold'), temperature: 21 }), entity({ id: eid('hot'), temperature: 10 })], { noOverwrite: false });
    expect(await triggers(t)).toEqual([`attributeUpdated:${eid('cold')}`]);
  });

  test('q names are expanded with the subscription\'s context, fixed at creation', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], q: `${V}temperature>20` });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 25 }));
    expect(await triggers(t)).toHaveLength(1);
  });

  test('geoQ near / within on the location, and on another GeoProperty', async () => {
    const t = newTenant();
    const near = await subscribe(t, { entities: [{ type: 'Sensor' }], geoQ: { geometry: 'Point', coordinates: [9.85, 46.26], georel: 'near;maxDistance==1000' } });
    const within = await subscribe(t, {
      entities: [{ type: 'Sensor' }],
      geoQ: { geometry: 'Polygon', coordinates: [[[9.8, 46.2], [9.9, 46.2], [9.9, 46.3], [9.8, 46.3], [9.8, 46.2]]], georel: 'within', geoproperty: 'area' },
    });
    await broker.batchCreate(t, [
      entity({ id: eid('close'), location: { type: 'Point', coordinates: [9.851, 46.261] } }),
      entity({ id: eid('far'), location: { type: 'Point', coordinates: [10.5, 46.9] } }),
      entity({ id: eid('area'), area: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85, 46.25] } } }),
    ]);
    const rows = (await outbox(t)).map((r) => `${r.subscription_id}|${r.entity_id}`).sort();
    expect(rows).toEqual([`${near}|${eid('close')}`, `${within}|${eid('area')}`].sort());
  });

  test('scopeQ', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], scopeQ: '/Valmalenco/#' });
    await broker.batchCreate(t, [
      entity({ id: eid('in'), scope: '/Valmalenco/Lanzada' }),
      entity({ id: eid('out'), scope: '/Elsewhere' }),
      entity({ id: eid('none') }),
    ]);
    // entities without attributes create no attribute (default triggers): nothing
    expect(await triggers(t)).toEqual([]);
    const t2 = newTenant();
    await subscribe(t2, { entities: [{ type: 'Sensor' }], scopeQ: '/Valmalenco/#', notificationTrigger: ['entityCreated'] });
    await broker.batchCreate(t2, [
      entity({ id: eid('in'), scope: '/Valmalenco/Lanzada' }),
      entity({ id: eid('out'), scope: '/Elsewhere' }),
      entity({ id: eid('none') }),
    ]);
    expect(await triggers(t2)).toEqual([`entityCreated:${eid('in')}`]);
  });

  test('deleted entities are evaluated in their state before the deletion', async () => {
    const t = newTenant();
    await subscribe(t, {
      entities: [{ type: 'Sensor' }],
      notificationTrigger: ['entityDeleted'],
      q: 'temperature>20',
      scopeQ: '/Valmalenco/#',
      geoQ: { geometry: 'Point', coordinates: [9.85, 46.26], georel: 'near;maxDistance==1000' },
    });
    const at = { type: 'Point', coordinates: [9.851, 46.261] };
    await broker.batchCreate(t, [
      entity({ id: eid('hot'), temperature: 25, scope: '/Valmalenco', location: at }),
      entity({ id: eid('cold'), temperature: 15, scope: '/Valmalenco', location: at }),
      entity({ id: eid('away'), temperature: 25, scope: '/Valmalenco', location: { type: 'Point', coordinates: [11, 45] } }),
    ]);
    await broker.batchDelete(t, [eid('hot'), eid('cold'), eid('away')]);
    expect(await triggers(t)).toEqual([`entityDeleted:${eid('hot')}`]);
  });
});

describe('which subscriptions take part', () => {
  test('paused, expired and periodic subscriptions are not matched; other tenants neither', async () => {
    const t = newTenant();
    const paused = await subscribe(t, { entities: [{ type: 'Sensor' }], isActive: false });
    const expired = await subscribe(t, { entities: [{ type: 'Sensor' }], expiresAt: '2099-01-01T00:00:00Z' });
    await db.query(`UPDATE subscriptions SET expires_at = now() - interval '1 second' WHERE tenant = $1 AND id = $2`, [t, expired]);
    await subscribe(t, { entities: [{ type: 'Sensor' }], timeInterval: 60 });
    const other = newTenant();
    await subscribe(other, { entities: [{ type: 'Sensor' }] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 1 }));
    expect(await outbox(t)).toEqual([]);
    expect(await outbox(other)).toEqual([]);
    await broker.updateSubscription(t, paused, { isActive: true });
    await broker.updateAttributes(t, eid('a'), attrs({ temperature: 2 }));
    expect((await outbox(t)).map((r) => r.subscription_id)).toEqual([paused]);
  });

  test('one row per (subscription, entity change) across a batch', async () => {
    const t = newTenant();
    const a = await subscribe(t, { entities: [{ type: 'Sensor' }] });
    const b = await subscribe(t, { watchedAttributes: ['temperature'] });
    await broker.batchUpsert(t, [entity({ id: eid('1'), temperature: 1, humidity: 1 }), entity({ id: eid('2'), temperature: 1 }), entity({ id: eid('3'), humidity: 1 })], 'update');
    const rows = (await outbox(t)).map((r) => `${r.subscription_id}|${r.entity_id}`).sort();
    expect(rows).toEqual([`${a}|${eid('1')}`, `${a}|${eid('2')}`, `${a}|${eid('3')}`, `${b}|${eid('1')}`, `${b}|${eid('2')}`].sort());
  });

  test('deleting a subscription drops its pending rows', async () => {
    const t = newTenant();
    const a = await subscribe(t, { entities: [{ type: 'Sensor' }] });
    const b = await subscribe(t, { entities: [{ type: 'Sensor' }] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 1 }));
    await broker.deleteSubscription(t, a);
    expect((await outbox(t)).map((r) => r.subscription_id)).toEqual([b]);
  });

  test('a tenant without subscriptions gets no rows', async () => {
    const t = newTenant();
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 1 }));
    expect(await outbox(t)).toEqual([]);
  });
});

describe('atomicity', () => {
  test('a write that fails leaves no outbox row', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityCreated', 'attributeUpdated'] });
    await broker.createEntity(t, entity({ id: eid('a'), temperature: 1 }));
    await clear(t);
    await failure(broker.createEntity(t, entity({ id: eid('a'), temperature: 2 })));
    await failure(broker.partialUpdateAttribute(t, eid('a'), `${V}missing`, [{ type: 'Property', value: 1 }]));
    expect(await outbox(t)).toEqual([]);
  });

  test('outbox rows roll back with the transaction they were matched in', async () => {
    const t = newTenant();
    await subscribe(t, { entities: [{ type: 'Sensor' }], notificationTrigger: ['entityCreated'] });
    const e = { ...entity({ id: eid('x'), temperature: 1 }), createdAt: new Date().toISOString(), modifiedAt: new Date().toISOString() };
    await expect(
      db.transaction(async (tx) => {
        const inserted = await matchSubscriptions(tx, t, [{ after: e }], new Date().toISOString());
        expect(inserted).toBe(1);
        throw new Error('the entity write failed after matching');
      }),
    ).rejects.toThrow('after matching');
    expect(await outbox(t)).toEqual([]);
  });

  test('a q the server cannot evaluate is refused at creation, so it never breaks writes', async () => {
    const t = newTenant();
    const err = await failure(subscribe(t, { entities: [{ type: 'Sensor' }], q: 'name~="(?<x"' }));
    expect(err.status).toBe(400);
    await broker.createEntity(t, entity({ id: eid('a'), name: 'x' }));
  });
});
