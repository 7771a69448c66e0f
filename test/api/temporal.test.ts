import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { openTestDb } from '../helpers/db';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { upsertTemporalEntity } from '../../src/temporal/history-store';
import { BASE, DEFAULT_VOCAB, client, entityUrl, expectProblem, expectStatus, json, utype, type Client } from '../helpers/ngsi';

/**
 * The temporal API (spec 5.6.11-5.6.16, 5.7.3, 5.7.4): history recorded by entity writes, queries
 * with timerel/lastN/attrs/q/geo/scopeQ (on the history in the range), temporalValues,
 * aggregation, temporal writes.
 */

let app: FastifyInstance;
let c: Client;
const T = utype('Sensor');
const id = (n: number) => `urn:ngsi-ld:${T}:${n}`;
const tUrl = (eid: string, rest = '') => `${BASE}/temporal/entities/${encodeURIComponent(eid)}${rest}`;
const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 0, minute)).toISOString();

beforeAll(async () => {
  ({ app } = await openTestApp({ AUTH: 'off' }));
  c = client(app);
  // sensor 1: created, then 5 updates of temperature through the entity API (one observation per minute)
  await c.create({
    id: id(1), type: T,
    temperature: { type: 'Property', value: 0, observedAt: at(0), unitCode: 'CEL' },
    status: { type: 'Property', value: 'ok' },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85, 46.26] } },
  });
  for (let m = 1; m <= 5; m++) {
    expectStatus(await c.patch(`${BASE}/entities/${encodeURIComponent(id(1))}/attrs`, { temperature: { type: 'Property', value: m * 2, observedAt: at(m) } }), 204);
  }
  // sensor 2, far away (Milan), via a batch upsert
  expectStatus(await c.post(`${BASE}/entityOperations/upsert`, [
    { id: id(2), type: T, temperature: { type: 'Property', value: 20, observedAt: at(0) }, location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.19, 45.46] } } },
  ]), 201);
}, 120_000);

afterAll(() => app.close());

describe('history recorded by entity writes', () => {
  test('every instance written is kept, oldest first, with its observedAt and an instanceId', async () => {
    const body = json(expectStatus(await c.get(tUrl(id(1))), 200));
    expect(body.id).toBe(id(1));
    expect(body.type).toBe(T);
    expect(body.temperature.map((i: any) => i.value)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(body.temperature.map((i: any) => i.observedAt)).toEqual([0, 1, 2, 3, 4, 5].map(at));
    for (const i of body.temperature) expect(i.instanceId).toMatch(/^urn:ngsi-ld:attribute:instance:\d+$/);
    expect(new Set(body.temperature.map((i: any) => i.instanceId)).size).toBe(6);
    // written once at creation, not touched by the updates
    expect(body.status).toHaveLength(1);
  });

  test('timerel before/after/between, lastN, attrs', async () => {
    const between = json(expectStatus(await c.get(tUrl(id(1), `?timerel=between&timeAt=${at(1)}&endTimeAt=${at(4)}&attrs=temperature`)), 200));
    expect(between.temperature.map((i: any) => i.value)).toEqual([2, 4, 6]);
    expect(between.status).toBeUndefined();
    const before = json(expectStatus(await c.get(tUrl(id(1), `?timerel=before&timeAt=${at(2)}&attrs=temperature`)), 200));
    expect(before.temperature.map((i: any) => i.value)).toEqual([0, 2]);
    const after = json(expectStatus(await c.get(tUrl(id(1), `?timerel=after&timeAt=${at(4)}&attrs=temperature`)), 200));
    expect(after.temperature.map((i: any) => i.value)).toEqual([8, 10]);
    const last = json(expectStatus(await c.get(tUrl(id(1), '?lastN=2&attrs=temperature')), 200));
    expect(last.temperature.map((i: any) => i.value)).toEqual([8, 10]);
  });

  test('timeproperty=modifiedAt ranges over the write times', async () => {
    const body = json(expectStatus(await c.get(tUrl(id(1), `?timeproperty=modifiedAt&timerel=after&timeAt=2000-01-01T00:00:00Z&attrs=temperature&options=sysAttrs`)), 200));
    expect(body.temperature).toHaveLength(6);
    for (const i of body.temperature) expect(Date.parse(i.modifiedAt)).toBeGreaterThan(Date.parse('2026-01-01'));
  });

  test('options=temporalValues: [value, time] pairs', async () => {
    const body = json(expectStatus(await c.get(tUrl(id(1), '?options=temporalValues&attrs=temperature,status')), 200));
    expect(body.temperature).toEqual({ type: 'Property', values: [0, 2, 4, 6, 8, 10].map((v, i) => [v, at(i)]) });
    expect(body.status.type).toBe('Property');
    expect(body.status.values[0][0]).toBe('ok');
  });

  test('history stays after the entity is deleted, which adds a deletion instance (deletedAt, NGSI-LD Null)', async () => {
    const gone = `urn:ngsi-ld:${T}:gone`;
    // another type: the deletion instances are recent and would show in other tests' time ranges
    await c.create({ id: gone, type: `${T}Gone`, temperature: { type: 'Property', value: 1, observedAt: at(0) }, owner: { type: 'Relationship', object: 'urn:ngsi-ld:Person:x' } });
    const t0 = new Date().toISOString();
    expectStatus(await c.del(`${BASE}/entities/${encodeURIComponent(gone)}`), 204);
    const body = json(expectStatus(await c.get(tUrl(gone)), 200));
    expect(body.temperature).toHaveLength(2);
    expect(body.temperature[0].value).toBe(1);
    expect(body.temperature[1]).toEqual({ type: 'Property', value: 'urn:ngsi-ld:null', deletedAt: expect.any(String), instanceId: expect.any(String) });
    expect(body.temperature[1].deletedAt >= t0).toBe(true);
    expect(body.owner[body.owner.length - 1]).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:null', deletedAt: expect.any(String), instanceId: expect.any(String) });
  });

  test('a deleted attribute (one datasetId of it) is a deletion instance; timeproperty=deletedAt selects deletions; aggregations skip them', async () => {
    const e = `urn:ngsi-ld:${T}:deletions`;
    await c.create({
      id: e, type: `${T}Gone`,
      temperature: [
        { type: 'Property', value: 4, observedAt: at(0) },
        { type: 'Property', value: 6, observedAt: at(1), datasetId: 'urn:ngsi-ld:Dataset:b' },
      ],
      status: { type: 'Property', value: 'ok' },
    });
    const t0 = new Date().toISOString();
    expectStatus(await c.del(`${BASE}/entities/${encodeURIComponent(e)}/attrs/temperature?datasetId=urn:ngsi-ld:Dataset:b`), 204);
    expectStatus(await c.del(`${BASE}/entities/${encodeURIComponent(e)}/attrs/status`), 204);
    const deletions = json(expectStatus(await c.get(tUrl(e, `?timeproperty=deletedAt&timerel=after&timeAt=${encodeURIComponent(t0)}`)), 200));
    expect(deletions.temperature).toEqual([{ type: 'Property', value: 'urn:ngsi-ld:null', datasetId: 'urn:ngsi-ld:Dataset:b', deletedAt: expect.any(String), instanceId: expect.any(String) }]);
    expect(deletions.status).toEqual([{ type: 'Property', value: 'urn:ngsi-ld:null', deletedAt: expect.any(String), instanceId: expect.any(String) }]);
    const agg = json(expectStatus(await c.get(tUrl(e, `?format=aggregatedValues&aggrMethods=totalCount,sum&aggrPeriodDuration=P1Y&timeproperty=modifiedAt&timerel=after&timeAt=2000-01-01T00:00:00Z&attrs=temperature`)), 200));
    expect(agg.temperature.totalCount[0][0]).toBe(2);
    expect(agg.temperature.sum[0][0]).toBe(10);
  });
});

describe('GET /temporal/entities', () => {
  test('type selects entities, q and geo-queries filter on the history, count', async () => {
    const all = expectStatus(await c.get(`${BASE}/temporal/entities?type=${T}&attrs=temperature&count=true`), 200);
    const ids = json<any[]>(all).map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining([id(1), id(2)]));
    expect(Number(all.headers['ngsild-results-count'])).toBe(ids.length);
    const warm = json<any[]>(expectStatus(await c.get(`${BASE}/temporal/entities?type=${T}&q=temperature>15`), 200));
    expect(warm.map((e) => e.id)).toEqual([id(2)]);
    const near = json<any[]>(expectStatus(await c.get(
      `${BASE}/temporal/entities?type=${T}&georel=near;maxDistance==5000&geometry=Point&coordinates=[9.85,46.26]`,
    ), 200));
    expect(near.map((e) => e.id)).toEqual([id(1)]);
  });

  test('a time range only returns entities with instances in it; pagination by limit/offset', async () => {
    // (sensor 2's location has no observedAt: its time is the write's, after timeAt too)
    const late = json<any[]>(expectStatus(await c.get(`${BASE}/temporal/entities?type=${T}&timerel=after&timeAt=${at(3)}&attrs=temperature`), 200));
    expect(late.map((e) => e.id)).toEqual([id(1)]);
    const page = json<any[]>(expectStatus(await c.get(`${BASE}/temporal/entities?type=${T}&limit=1&offset=1`), 200));
    expect(page).toHaveLength(1);
  });

  test('POST /temporal/entityOperations/query with temporalQ', async () => {
    const res = expectStatus(await c.post(`${BASE}/temporal/entityOperations/query`, {
      type: 'Query', entities: [{ type: T, id: id(1) }], attrs: ['temperature'],
      temporalQ: { timerel: 'between', timeAt: at(2), endTimeAt: at(3) },
    }), 200);
    const [e] = json<any[]>(res);
    expect(e.temperature.map((i: any) => i.value)).toEqual([4]);
  });

  test('aggregation per period: avg, max, totalCount, sum, sumsq, stddev', async () => {
    const res = expectStatus(await c.get(tUrl(id(1),
      `?format=aggregatedValues&aggrMethods=avg,max,totalCount,sum,sumsq,stddev,distinctCount,min&aggrPeriodDuration=PT3M&timerel=between&timeAt=${at(0)}&endTimeAt=${at(6)}&attrs=temperature`)), 200);
    const t = json(res).temperature;
    // periods [0,3) = 0,2,4 and [3,6) = 6,8,10
    expect(t.type).toBe('Property');
    expect(t.avg).toEqual([[2, at(0), at(3)], [8, at(3), at(6)]]);
    expect(t.max).toEqual([[4, at(0), at(3)], [10, at(3), at(6)]]);
    expect(t.min).toEqual([[0, at(0), at(3)], [6, at(3), at(6)]]);
    expect(t.totalCount.map((p: any) => p[0])).toEqual([3, 3]);
    expect(t.distinctCount.map((p: any) => p[0])).toEqual([3, 3]);
    expect(t.sum.map((p: any) => p[0])).toEqual([6, 24]);
    expect(t.sumsq.map((p: any) => p[0])).toEqual([20, 200]);
    expect(t.stddev[0][0]).toBeCloseTo(2, 10);
  });

  test('min and max also order text, strings and date-times; numbers first where a period has any; deletions are no values', async () => {
    const e = `urn:ngsi-ld:${T}Text:1`;
    const dateTime = (value: string, minute: number) => ({ type: 'Property', value: { '@type': 'DateTime', '@value': value }, observedAt: at(minute) });
    await c.create({
      id: e, type: `${T}Text`,
      state: { type: 'Property', value: 'b', observedAt: at(0) },
      seen: dateTime('2026-11-01T10:00:00Z', 0),
      mixed: { type: 'Property', value: 'zzz', observedAt: at(0) },
    });
    expectStatus(await c.patch(entityUrl(e, '/attrs'), {
      state: { type: 'Property', value: 'a', observedAt: at(1) }, seen: dateTime('2026-10-31T23:00:00Z', 1), mixed: { type: 'Property', value: 5, observedAt: at(1) },
    }), 204);
    expectStatus(await c.patch(entityUrl(e, '/attrs'), { state: { type: 'Property', value: 'c', observedAt: at(2) }, seen: dateTime('2026-11-02T00:00:00Z', 2) }), 204);
    // a deletion instance (urn:ngsi-ld:null, which sorts after 'c') in the range
    expectStatus(await c.del(entityUrl(e, '/attrs/state')), 204);
    const agg = json(expectStatus(await c.get(tUrl(e, '?format=aggregatedValues&aggrMethods=min,max,avg&timerel=after&timeAt=2000-01-01T00:00:00Z')), 200));
    const first = (attr: string, method: string) => agg[attr][method][0][0];
    expect([first('state', 'min'), first('state', 'max'), first('state', 'avg')]).toEqual(['a', 'c', null]);
    expect([first('seen', 'min'), first('seen', 'max')]).toEqual(['2026-10-31T23:00:00Z', '2026-11-02T00:00:00Z']);
    expect([first('mixed', 'min'), first('mixed', 'max')]).toEqual([5, 5]);
  });

  test('errors: unknown timerel, missing timeAt, bad duration, unknown method, too broad', async () => {
    expectProblem(await c.get(tUrl(id(1), '?timerel=during&timeAt=2026-01-01T00:00:00Z')), 400, 'BadRequestData');
    expectProblem(await c.get(tUrl(id(1), '?timerel=before')), 400, 'BadRequestData');
    expectProblem(await c.get(tUrl(id(1), `?timerel=between&timeAt=${at(3)}&endTimeAt=${at(1)}`)), 400, 'BadRequestData');
    expectProblem(await c.get(tUrl(id(1), '?format=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=1H')), 400, 'BadRequestData');
    expectProblem(await c.get(tUrl(id(1), '?format=aggregatedValues&aggrMethods=median')), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/temporal/entities`), 400, 'BadRequestData');
    expectProblem(await c.get(tUrl('urn:ngsi-ld:Nothing:here')), 404, 'ResourceNotFound');
    expectProblem(await c.get(tUrl(id(1)), { 'NGSILD-Tenant': 'nobody-here' }), 404, 'NonexistentTenant');
  });
});

describe('GET /temporal/entities/{id} with attrs (5.7.3: attrs selects the entity as a q would)', () => {
  test('404 ResourceNotFound when none of its selected instances is of the attributes asked for', async () => {
    expectProblem(await c.get(tUrl(id(1), '?attrs=humidity')), 404, 'ResourceNotFound');
    expectProblem(await c.get(tUrl(id(1), '?attrs=temperature&timerel=before&timeAt=2000-01-01T00:00:00Z')), 404, 'ResourceNotFound');
    expectProblem(await c.get(tUrl(id(1), '?attrs=humidity&format=aggregatedValues&aggrMethods=avg')), 404, 'ResourceNotFound');
    // one of them is enough; without attrs the entity is answered with what the range holds
    expect(Object.keys(json(expectStatus(await c.get(tUrl(id(1), '?attrs=humidity,status')), 200))).sort()).toEqual(['id', 'status', 'type']);
    expect(json(expectStatus(await c.get(tUrl(id(1), '?timerel=before&timeAt=2000-01-01T00:00:00Z')), 200))).toEqual({ id: id(1), type: T });
  });
});

describe('q, scopeQ and geo-queries select by the history in the time range', () => {
  const Q = utype('Probe');
  const qid = (name: string) => `urn:ngsi-ld:${Q}:${name}`;
  const prop = (value: unknown, minute: number) => ({ type: 'Property', value, observedAt: at(minute) });
  const between = (from: number, to: number) => `timerel=between&timeAt=${at(from)}&endTimeAt=${at(to)}`;
  const ids = async (type: string, query: string) =>
    json<any[]>(expectStatus(await c.get(`${BASE}/temporal/entities?type=${type}&${query}`), 200)).map((e) => e.id).sort();
  const q = (text: string, range = '') => ids(Q, `q=${encodeURIComponent(text)}${range && '&' + range}`);

  beforeAll(async () => {
    // hot: 35 and an alarm early on, 20 and ok later (its current state); cool: 20 and an alarm; listy: a list value
    await c.create({ id: qid('hot'), type: Q, temperature: prop(35, 1), status: prop('alarm', 2) });
    expectStatus(await c.patch(entityUrl(qid('hot'), '/attrs'), { temperature: prop(20, 20), status: prop('ok', 21) }), 204);
    await c.create({ id: qid('cool'), type: Q, temperature: prop(20, 1), status: prop('alarm', 2) });
    await c.create({ id: qid('listy'), type: Q, temperature: prop([10, 40], 3) });
  });

  test('a term holds when some instance in the range satisfies it, whatever the current value', async () => {
    expect(await q('temperature>30', between(0, 10))).toEqual([qid('hot'), qid('listy')]);
    expect(await q('temperature>30', between(15, 30))).toEqual([]);
    expect(await q('temperature>30')).toEqual([qid('hot'), qid('listy')]);
    expect(await q('temperature==20', between(0, 10))).toEqual([qid('cool')]);
    expect(await q('temperature!=20', between(0, 10))).toEqual([qid('hot'), qid('listy')]);
    expect(await q('status=="alarm"', between(15, 30))).toEqual([]);
    expect(await q('status~=al.rm')).toEqual([qid('cool'), qid('hot')]);
  });

  test('; needs each term satisfied by some instance in the range (not at the same time), | either; !attr: none in the range', async () => {
    expect(await q('temperature>30;status=="alarm"', between(0, 10))).toEqual([qid('hot')]);
    expect(await q('temperature>30|status=="alarm"', between(0, 10))).toEqual([qid('cool'), qid('hot'), qid('listy')]);
    expect(await q('temperature<30;status=="ok"', between(0, 30))).toEqual([qid('hot')]);
    expect(await q('!status', between(0, 10))).toEqual([qid('listy')]);
    // cool and listy have no instance at all there, and a time range lists entities with instances in it
    expect(await q('!status', between(15, 30))).toEqual([]);
  });

  test('a selected entity brings all its instances in the range, and attrs still picks attributes', async () => {
    const [hot] = json<any[]>(expectStatus(await c.get(`${BASE}/temporal/entities?type=${Q}&q=temperature>30;status==%22ok%22&attrs=temperature`), 200))
      .filter((e) => e.id === qid('hot'));
    expect(hot.temperature.map((i: any) => i.value)).toEqual([35, 20]);
    expect(hot.status).toBeUndefined();
  });

  test('a geo-query holds when some instance of the geoproperty in the range stands in the relation; deleted entities are found', async () => {
    const G = utype('Walker');
    const walker = `urn:ngsi-ld:${G}:w`;
    const point = (coordinates: number[], minute: number) => ({ type: 'GeoProperty', value: { type: 'Point', coordinates }, observedAt: at(minute) });
    await c.create({ id: walker, type: G, location: point([9.85, 46.26], 1) });
    expectStatus(await c.patch(entityUrl(walker, '/attrs'), { location: point([9.19, 45.46], 30) }), 204);
    const near = (lon: number, lat: number) => `georel=near;maxDistance==5000&geometry=Point&coordinates=[${lon},${lat}]`;
    expect(await ids(G, `${near(9.85, 46.26)}&${between(0, 10)}`)).toEqual([walker]);
    expect(await ids(G, `${near(9.85, 46.26)}&${between(20, 40)}`)).toEqual([]);
    // where it is now, not where it was then
    expect(await ids(G, `${near(9.19, 45.46)}&${between(0, 10)}`)).toEqual([]);
    const valmalenco = '[[[9.7,46.2],[10.0,46.2],[10.0,46.4],[9.7,46.4],[9.7,46.2]]]';
    expect(await ids(G, `georel=within&geometry=Polygon&coordinates=${valmalenco}&${between(20, 40)}`)).toEqual([]);
    expectStatus(await c.del(entityUrl(walker)), 204);
    expect(await ids(G, `georel=within&geometry=Polygon&coordinates=${valmalenco}`)).toEqual([walker]);
  });

  test('scopeQ tests the last known scopes: of deleted entities and of those written through the temporal API too', async () => {
    const S = utype('Scoped');
    const water = `urn:ngsi-ld:${S}:water`;
    const energy = `urn:ngsi-ld:${S}:energy`;
    await c.create({ id: water, type: S, scope: '/Valmalenco/Water', level: prop(1, 1) });
    expectStatus(await c.post(`${BASE}/temporal/entities`, { id: energy, type: S, scope: ['/Valmalenco/Energy'], load: prop(2, 1) }), 201);
    expectStatus(await c.del(entityUrl(water)), 204);
    expect(await ids(S, 'scopeQ=/Valmalenco/Water')).toEqual([water]);
    expect(await ids(S, 'scopeQ=/Valmalenco/%23')).toEqual([energy, water]);
    expect(await ids(S, 'scopeQ=/Lanzada')).toEqual([]);
  });

  test('deleted entities are found by their history; deletion instances are no values', async () => {
    await c.create({ id: qid('gone'), type: Q, temperature: prop(50, 5) });
    expectStatus(await c.del(entityUrl(qid('gone'))), 204);
    expect(await q('temperature>45', between(0, 10))).toEqual([qid('gone')]);
    expect(await q('temperature=="urn:ngsi-ld:null"')).toEqual([]);
    // its deletion instance (urn:ngsi-ld:null) would satisfy != 50 were it a value
    expect(await ids(Q, `id=${qid('gone')}&q=${encodeURIComponent('temperature!=50')}`)).toEqual([]);
  });
});

describe('temporal writes', () => {
  const sid = `urn:ngsi-ld:${T}:temporal-only`;

  test('POST /temporal/entities creates (201) then adds (204); instances need no datasetIds', async () => {
    const res = await c.post(`${BASE}/temporal/entities`, {
      id: sid, type: T,
      speed: [
        { type: 'Property', value: 120, observedAt: at(0) },
        { type: 'Property', value: 80, observedAt: at(1) },
      ],
    });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(tUrl(sid));
    expectStatus(await c.post(`${BASE}/temporal/entities`, { id: sid, type: T, speed: { type: 'Property', value: 100, observedAt: at(2) } }), 204);
    expectStatus(await c.post(tUrl(sid, '/attrs'), { speed: [{ type: 'Property', value: 90, observedAt: at(3) }] }), 204);
    const body = json(expectStatus(await c.get(tUrl(sid)), 200));
    expect(body.speed.map((i: any) => i.value)).toEqual([120, 80, 100, 90]);
    // only the temporal representation: no current entity was created
    expectProblem(await c.get(`${BASE}/entities/${encodeURIComponent(sid)}`), 404, 'ResourceNotFound');
  });

  test('PATCH and DELETE one instance by instanceId', async () => {
    const before = json(await c.get(tUrl(sid)));
    const [first, second] = before.speed;
    expectStatus(await c.patch(tUrl(sid, `/attrs/speed/${encodeURIComponent(first.instanceId)}`), { speed: { type: 'Property', value: 121, observedAt: at(0) } }), 204);
    expectStatus(await c.del(tUrl(sid, `/attrs/speed/${encodeURIComponent(second.instanceId)}`)), 204);
    const after = json(await c.get(tUrl(sid)));
    expect(after.speed.map((i: any) => i.value)).toEqual([121, 100, 90]);
    expect(after.speed[0].instanceId).toBe(first.instanceId);
    expectProblem(await c.del(tUrl(sid, `/attrs/speed/${encodeURIComponent(second.instanceId)}`)), 404, 'ResourceNotFound');
    expectProblem(await c.del(tUrl(sid, '/attrs/speed/not-an-instance')), 404, 'ResourceNotFound');
  });

  test('DELETE an attribute history, then the entity history', async () => {
    expectStatus(await c.post(tUrl(sid, '/attrs'), { load: { type: 'Property', value: 1, observedAt: at(0) } }), 204);
    expectStatus(await c.del(tUrl(sid, '/attrs/speed')), 204);
    const body = json(await c.get(tUrl(sid)));
    expect(body.speed).toBeUndefined();
    expect(body.load).toHaveLength(1);
    expectStatus(await c.del(tUrl(sid)), 204);
    expectProblem(await c.get(tUrl(sid)), 404, 'ResourceNotFound');
    expectProblem(await c.post(tUrl(sid, '/attrs'), { load: { type: 'Property', value: 1 } }), 404, 'ResourceNotFound');
  });

  test('datasetIds: filter by datasetId (@none = the default instance), delete one dataset', async () => {
    const did = `urn:ngsi-ld:${T}:datasets`;
    expectStatus(await c.post(`${BASE}/temporal/entities`, {
      id: did, type: T,
      level: [
        { type: 'Property', value: 1, observedAt: at(0) },
        { type: 'Property', value: 2, observedAt: at(1), datasetId: 'urn:ngsi-ld:Dataset:radar' },
        { type: 'Property', value: 3, observedAt: at(2), datasetId: 'urn:ngsi-ld:Dataset:radar' },
      ],
    }), 201);
    const radar = json(await c.get(tUrl(did, '?datasetId=urn:ngsi-ld:Dataset:radar')));
    expect(radar.level.map((i: any) => i.value)).toEqual([2, 3]);
    const plain = json(await c.get(tUrl(did, '?datasetId=@none')));
    expect(plain.level.map((i: any) => i.value)).toEqual([1]);
    const created = json(await c.get(tUrl(did, `?timeproperty=createdAt&timerel=before&timeAt=2000-01-01T00:00:00Z`)));
    expect(created.level).toBeUndefined();
    expectStatus(await c.del(tUrl(did, '/attrs/level?datasetId=urn:ngsi-ld:Dataset:radar')), 204);
    expect(json(await c.get(tUrl(did))).level.map((i: any) => i.value)).toEqual([1]);
    expectProblem(await c.del(tUrl(did, '/attrs/level?datasetId=urn:ngsi-ld:Dataset:radar')), 404, 'ResourceNotFound');
  });

  test('invalid bodies are 400', async () => {
    expectProblem(await c.post(`${BASE}/temporal/entities`, { type: T, speed: 1 }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/temporal/entities`, { id: 'not a uri', type: T }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/temporal/entities`, { id: sid, type: T, speed: { type: 'Property' } }), 400, 'BadRequestData');
    expectProblem(await c.post(`${BASE}/temporal/entities`, { id: sid, type: T, scope: 'Valmalenco' }), 400, 'BadRequestData');
  });

  test('compact names follow the request context (default vocab here)', async () => {
    const body = json(await c.get(tUrl(id(1), '?attrs=temperature&lastN=1')));
    expect(Object.keys(body)).toContain('temperature');
    expect(JSON.stringify(body)).not.toContain(DEFAULT_VOCAB);
  });
});

describe('retention (TEMPORAL_RETENTION_DAYS)', () => {
  test('instances older than the retention are pruned when the service starts', async () => {
    const db = await openTestDb();
    const rid = 'urn:ngsi-ld:Probe:retention';
    const v = 'https://uri.etsi.org/ngsi-ld/default-context/v';
    await db.transaction((tx) => upsertTemporalEntity(tx, '', rid, ['https://uri.etsi.org/ngsi-ld/default-context/Probe'], {
      [v]: [{ type: 'Property', value: 1, observedAt: '2001-01-01T00:00:00.000Z' }, { type: 'Property', value: 2, observedAt: new Date().toISOString() }],
    }, new Date().toISOString()));
    const pruning = await buildApp(loadConfig({ LOG_LEVEL: 'silent', AUTH: 'off', TEMPORAL_RETENTION_DAYS: '30' }), { db });
    await pruning.ready();
    try {
      // pruning runs in the background once the service is ready
      let values: number[] = [];
      for (let i = 0; i < 50 && values.length !== 1; i++) {
        if (i) await new Promise((res) => setTimeout(res, 100));
        values = json(await client(pruning).get(tUrl(rid))).v.map((x: any) => x.value);
      }
      expect(values).toEqual([2]);
    } finally {
      await pruning.close();
    }
  });
});
