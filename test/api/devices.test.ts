import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader } from '../helpers/app';
import { client, json, expectStatus, expectProblem, BASE, entityUrl, type Client } from '../helpers/ngsi';
import { SMARTLAND_CONTEXT_URL } from '../../src/domain/sdm-types';
// progress members (completionPercentage, spending) are our extension terms: read the Project with our context

/**
 * Device provisioning and project progress through the contractor API (/api/v1), read back
 * through the NGSI-LD API with the Smart Data Models subject @contexts.
 */

const SDM = (subject: string) => `https://smart-data-models.github.io/dataModel.${subject}/context.jsonld`;
const SMARTLAND = 'https://smartland.example/contexts/smartland.jsonld';
const API = '/api/v1';
const CHIESA = 'urn:ngsi-ld:PublicOrganization:IT-ISTAT-014019';
const WATER = 'urn:ngsi-ld:ThematicCorridor:ITI-InValmalenco-Water';
const PROJECT = 'urn:ngsi-ld:Project:dev-test-01';

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  expectStatus(await c.post(`${API}/entities/Project`, { id: PROJECT, type: 'Project', name: 'Test project 01', refThematicCorridor: WATER }), 200);
});

afterAll(async () => {
  await app?.close();
});

const point = (lon: number, lat: number) => ({ type: 'Point', coordinates: [lon, lat] });

const REGISTRATIONS = {
  weather: {
    deviceId: 'wx-chiesa-01',
    observedType: 'WeatherObserved',
    name: 'Weather station, Chiesa',
    location: point(9.852, 46.2677),
    municipality: '014019',
    corridor: WATER,
    project: PROJECT,
    attributes: [
      { key: 't', name: 'temperature', unitCode: 'CEL', scale: 0.1 },
      { key: 'h', name: 'relativeHumidity', scale: 0.01, unitCode: 'C62' },
      { key: 'p', name: 'atmosphericPressure' },
    ],
  },
  air: {
    deviceId: 'air-chiesa-01',
    observedType: 'AirQualityObserved',
    location: point(9.849, 46.2672),
    municipality: CHIESA,
    attributes: [
      { key: 'no2', name: 'no2' },
      { key: 'pm10', name: 'pm10', unitCode: 'GQ' },
      { key: 'pm25', name: 'pm25', minimum: 0, maximum: 500 },
    ],
  },
  water: {
    deviceId: 'wq-mallero-01',
    observedType: 'WaterQualityObserved',
    location: point(9.864667, 46.215667),
    municipality: '014062',
    corridor: WATER,
    attributes: [
      { key: 'temp', name: 'temperature' },
      { key: 'ph', name: 'pH' },
      // mS/cm from the probe, S/m stored (1 mS/cm = 0.1 S/m)
      { key: 'ec', name: 'conductivity', unitCode: 'D10', scale: 0.1 },
    ],
  },
  traffic: {
    deviceId: 'tf-sp15-01',
    observedType: 'TrafficFlowObserved',
    location: point(9.85, 46.2627),
    attributes: [
      { key: 'n', name: 'intensity', type: 'integer' },
      // the counter reports m/s
      { key: 'v', name: 'averageVehicleSpeed', scale: 3.6 },
      { key: 'occ', name: 'occupancy', scale: 0.01 },
    ],
    staticAttributes: { laneId: 1, laneDirection: 'forward' },
  },
  parking: {
    deviceId: 'pk-caspoggio-01',
    observedType: 'OffStreetParking',
    location: point(9.869717, 46.268667),
    municipality: '014013',
    attributes: [{ key: 'free', name: 'availableSpotNumber', type: 'integer', minimum: 0, maximum: 40 }],
    staticAttributes: { totalSpotNumber: 40, name: 'Caspoggio car park' },
  },
  energy: {
    deviceId: 'em-townhall-01',
    observedType: 'ThreePhaseAcMeasurement',
    location: point(9.8503, 46.2669),
    municipality: CHIESA,
    project: PROJECT,
    attributes: [
      // kW from the meter, W stored
      { key: 'P', name: 'totalActivePower', scale: 1000 },
      { key: 'E', name: 'totalActiveEnergyImport' },
      { key: 'f', name: 'frequency' },
    ],
  },
  snow: {
    deviceId: 'snow-lanzada-01',
    observedType: 'DeviceMeasurement',
    location: point(9.8712, 46.2684),
    attributes: [{ key: 'd', name: 'snowDepth', unitCode: 'CMT', minimum: 0, maximum: 1000 }],
  },
} as const;

const byType = (type: string, refDevice: string, subject: string, headers: Record<string, string> = {}) =>
  c.get(`${BASE}/entities?type=${type}&q=${encodeURIComponent(`refDevice=="${refDevice}"`)}`, { link: linkHeader(SDM(subject)), ...headers });

describe('device registration', () => {
  test('registers devices of every family: 201, Location, the Device entity with its links', async () => {
    for (const reg of Object.values(REGISTRATIONS)) {
      const res = expectStatus(await c.post(`${API}/devices`, reg), 201);
      expect(res.headers.location).toBe(`${API}/devices/${reg.deviceId}`);
      const body = json(res);
      expect(body).toMatchObject({
        deviceId: reg.deviceId,
        entityId: `urn:ngsi-ld:Device:${reg.deviceId}`,
        observedEntityId: `urn:ngsi-ld:${reg.observedType}:${reg.deviceId}`,
        registration: { observedType: reg.observedType },
      });
    }
    const device = await c.entity('urn:ngsi-ld:Device:wx-chiesa-01', '', { link: linkHeader(SDM('Device')) });
    expect(device.type).toBe('Device');
    expect(device.controlledProperty.value).toEqual(['temperature', 'humidity', 'atmosphericPressure']);
    expect(device.deviceCategory.value).toEqual(['sensor']);
    expect(device.location).toEqual({ type: 'GeoProperty', value: point(9.852, 46.2677) });
    const withLinks = await c.entity('urn:ngsi-ld:Device:wx-chiesa-01', '', { link: linkHeader(SMARTLAND) });
    expect(withLinks.refMunicipality).toEqual({ type: 'Relationship', object: CHIESA });
    expect(withLinks.refThematicCorridor).toEqual({ type: 'Relationship', object: WATER });
    expect(JSON.stringify(withLinks)).toContain(PROJECT);
  });

  test('GET /devices lists them (with count), GET /devices/:id returns one, unknown → 404', async () => {
    const res = expectStatus(await c.get(`${API}/devices?limit=100&count=true`), 200);
    expect(res.headers['ngsild-results-count']).toBe(String(Object.keys(REGISTRATIONS).length));
    expect(json(res).map((d: { deviceId: string }) => d.deviceId)).toEqual(Object.values(REGISTRATIONS).map((r) => r.deviceId).sort());
    const one = json(expectStatus(await c.get(`${API}/devices/air-chiesa-01`), 200));
    expect(one.registration.attributes).toHaveLength(3);
    expect(one.createdAt).toEqual(expect.stringMatching(/Z$/));
    expectProblem(await c.get(`${API}/devices/nope`), 404, 'ResourceNotFound');
  });

  test('invalid registrations: 400 with pointers (wrong unit, unknown type, bad location, duplicate key)', async () => {
    const wrongUnit = { ...REGISTRATIONS.weather, deviceId: 'wx-bad-1', attributes: [{ key: 't', name: 'temperature', unitCode: 'FAH' }] };
    const body = expectProblem(await c.post(`${API}/devices`, wrongUnit), 400, 'BadRequestData');
    expect(body.errors).toEqual([{ pointer: '/attributes/0/unitCode', reason: expect.stringMatching(/wrong unit.*CEL/) }]);

    const cases: [Record<string, unknown>, string][] = [
      [{ ...REGISTRATIONS.weather, deviceId: 'x1', observedType: 'Starship' }, '/observedType'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x2', location: point(200, 46) }, '/location/coordinates/0'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x3', attributes: [{ key: 't', name: 'temperature' }, { key: 't', name: 'dewPoint' }] }, '/attributes/1/key'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x4', attributes: [{ key: 'd', name: 'dateObserved' }] }, '/attributes/0/name'],
      [{ ...REGISTRATIONS.weather, deviceId: 'bad id!' }, '/deviceId'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x5', controlledProperty: ['warpDrive'] }, '/controlledProperty/0'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x6', dateInstalled: '2024-02-30T10:00:00Z' }, '/dateInstalled'],
      [{ ...REGISTRATIONS.traffic, deviceId: 'x7', staticAttributes: { laneId: 0 } }, '/staticAttributes/laneId'],
      [{ ...REGISTRATIONS.weather, deviceId: 'x8', attributes: [{ key: 't', name: 'temperature', scale: '10' }] }, '/attributes/0/scale'],
    ];
    for (const [reg, pointer] of cases) {
      const problem = expectProblem(await c.post(`${API}/devices`, reg), 400, 'BadRequestData');
      expect((problem.errors as { pointer: string }[]).map((e) => e.pointer)).toContain(pointer);
    }
    // nothing of it was stored
    expect(json(await c.get(`${API}/devices?limit=100`)).map((d: { deviceId: string }) => d.deviceId)).not.toContain('wx-bad-1');
    expectStatus(await c.get(entityUrl('urn:ngsi-ld:Device:wx-bad-1')), 404);
  });

  test('415 for bodies that are not JSON', async () => {
    const res = await c.inject({ method: 'POST', url: `${API}/devices`, headers: { 'content-type': 'text/plain' }, payload: 'x' });
    expect(res.statusCode).toBe(415);
  });
});

describe('measurements', () => {
  test('become the observed entities: scaled values, unitCode, observedAt, dateObserved, refDevice, location', async () => {
    const at = '2024-05-01T10:00:00Z';
    const res = expectStatus(await c.post(`${API}/measurements`, [
      { deviceId: 'wx-chiesa-01', observedAt: at, values: { t: 215, h: 62, p: 905.2 } },
      { deviceId: 'air-chiesa-01', observedAt: at, values: { no2: 12, pm10: 9.5, pm25: 5.1 } },
      { deviceId: 'wq-mallero-01', observedAt: at, values: { temp: 7.8, ph: 7.6, ec: 0.21 } },
      { deviceId: 'tf-sp15-01', observedAt: at, values: { n: 84, v: 11.5, occ: 8 } },
      { deviceId: 'pk-caspoggio-01', observedAt: at, values: { free: 17 } },
      { deviceId: 'em-townhall-01', observedAt: at, values: { P: 8.45, E: 18230.5, f: 50.01 } },
      { deviceId: 'snow-lanzada-01', observedAt: at, values: { d: { value: 35, unitCode: 'CMT' } } },
    ]), 200);
    const body = json(res);
    expect(body).toMatchObject({ accepted: 7, rejected: 0 });
    expect(body.items[0]).toEqual({ index: 0, id: 'urn:ngsi-ld:WeatherObserved:wx-chiesa-01', status: 'accepted' });

    const [wx] = json(expectStatus(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'), 200));
    expect(wx.id).toBe('urn:ngsi-ld:WeatherObserved:wx-chiesa-01');
    expect(wx.temperature).toMatchObject({ type: 'Property', value: 21.5, unitCode: 'CEL' });
    expect(wx.relativeHumidity.value).toBe(0.62);
    expect(wx.atmosphericPressure).toMatchObject({ value: 905.2, unitCode: 'A97' });
    expect(wx.refDevice).toMatchObject({ type: 'Relationship', object: 'urn:ngsi-ld:Device:wx-chiesa-01' });
    expect(wx.dateObserved.value).toEqual({ '@type': 'DateTime', '@value': '2024-05-01T10:00:00.000Z' });
    expect(wx.location.value).toEqual(point(9.852, 46.2677));

    const [air] = json(await byType('AirQualityObserved', 'urn:ngsi-ld:Device:air-chiesa-01', 'Environment'));
    expect(air.no2).toMatchObject({ value: 12, unitCode: 'GQ' });
    const [wq] = json(await byType('WaterQualityObserved', 'urn:ngsi-ld:Device:wq-mallero-01', 'WaterQuality'));
    expect(wq.conductivity.value).toBe(0.021);
    expect(wq.pH.value).toBe(7.6);
    const [tf] = json(await byType('TrafficFlowObserved', 'urn:ngsi-ld:Device:tf-sp15-01', 'Transportation'));
    expect(tf.averageVehicleSpeed).toMatchObject({ value: 41.4, unitCode: 'KMH' });
    expect(tf.intensity.value).toBe(84);
    expect(tf.occupancy.value).toBe(0.08);
    expect(tf.laneId.value).toBe(1);
    const [pk] = json(await byType('OffStreetParking', 'urn:ngsi-ld:Device:pk-caspoggio-01', 'Parking'));
    expect(pk.availableSpotNumber.value).toBe(17);
    expect(pk.totalSpotNumber.value).toBe(40);
    const [em] = json(await byType('ThreePhaseAcMeasurement', 'urn:ngsi-ld:Device:em-townhall-01', 'Energy'));
    expect(em.totalActivePower).toMatchObject({ value: 8450, unitCode: 'WTT' });
    expect(em.refDevice.object).toEqual(['urn:ngsi-ld:Device:em-townhall-01']);
    const [snow] = json(await byType('DeviceMeasurement', 'urn:ngsi-ld:Device:snow-lanzada-01', 'Device'));
    expect(snow.numValue.value).toBe(35);
    expect(snow.unit.value).toBe('CMT');
    expect(snow.controlledProperty.value).toBe('snowDepth');
  });

  test('observedAt on every attribute and the unit codes the registration gives (beyond the SDM defaults)', async () => {
    const [wx] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'));
    expect(wx.temperature).toMatchObject({ value: 21.5, unitCode: 'CEL', observedAt: '2024-05-01T10:00:00.000Z' });
    expect(wx.relativeHumidity).toMatchObject({ value: 0.62, unitCode: 'C62', observedAt: '2024-05-01T10:00:00.000Z' });
    const [wq] = json(await byType('WaterQualityObserved', 'urn:ngsi-ld:Device:wq-mallero-01', 'WaterQuality'));
    expect(wq.conductivity).toMatchObject({ value: 0.021, unitCode: 'D10' });
    const [snow] = json(await byType('DeviceMeasurement', 'urn:ngsi-ld:Device:snow-lanzada-01', 'Device'));
    expect(snow.numValue).toMatchObject({ value: 35, unitCode: 'CMT', observedAt: '2024-05-01T10:00:00.000Z' });
  });

  test('one entity per device, updated in place; several measurements of a device: the newest wins', async () => {
    const res = expectStatus(await c.post(`${API}/measurements`, [
      { deviceId: 'pk-caspoggio-01', observedAt: '2024-05-01T12:00:00Z', values: { free: 5 } },
      { deviceId: 'pk-caspoggio-01', observedAt: '2024-05-01T11:00:00+01:00', values: { free: 9 } },
    ]), 200);
    expect(json(res).items.map((i: { id: string }) => i.id)).toEqual([
      'urn:ngsi-ld:OffStreetParking:pk-caspoggio-01', 'urn:ngsi-ld:OffStreetParking:pk-caspoggio-01',
    ]);
    const list = json(await byType('OffStreetParking', 'urn:ngsi-ld:Device:pk-caspoggio-01', 'Parking'));
    expect(list).toHaveLength(1);
    expect(list[0].availableSpotNumber.value).toBe(5);
    expect(list[0].observationDateTime.value['@value']).toBe('2024-05-01T12:00:00.000Z');
    // a partial measurement keeps the other attributes
    expectStatus(await c.post(`${API}/measurements`, { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:10:00Z', values: { t: 220 } }), 200);
    const [wx] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'));
    expect(wx.temperature.value).toBe(22);
    expect(wx.relativeHumidity.value).toBe(0.62);
  });

  test('Idempotency-Key: a retried push is answered from the first, a changed one with the same key is 409', async () => {
    const key = `measurements-retry-${Date.now()}`;
    const m = { deviceId: 'pk-caspoggio-01', observedAt: '2024-05-02T08:00:00Z', values: { free: 17 } };
    const first = expectStatus(await c.post(`${API}/measurements`, [m], { 'Idempotency-Key': key }), 200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // meanwhile a newer measurement: the retry must not write the old one again
    expectStatus(await c.post(`${API}/measurements`, { ...m, observedAt: '2024-05-02T09:00:00Z', values: { free: 3 } }), 200);
    const retry = expectStatus(await c.post(`${API}/measurements`, [m], { 'Idempotency-Key': key }), 200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(json(retry)).toEqual(json(first));
    const [parking] = json(await byType('OffStreetParking', 'urn:ngsi-ld:Device:pk-caspoggio-01', 'Parking'));
    expect(parking.availableSpotNumber.value).toBe(3);
    expectProblem(await c.post(`${API}/measurements`, [{ ...m, values: { free: 18 } }], { 'Idempotency-Key': key }), 409, 'AlreadyExists');
  });

  test('rejected measurements: unknown device, bad dates, out of range, wrong unit, unknown key (207, pointers)', async () => {
    const ok = { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { t: 230 } };
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const res = expectStatus(await c.post(`${API}/measurements`, [
      ok,
      { deviceId: 'ghost-01', observedAt: '2024-05-01T10:20:00Z', values: { t: 1 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-02-30T10:00:00Z', values: { t: 1 } },
      { deviceId: 'wx-chiesa-01', observedAt: '01/05/2024 10:00', values: { t: 1 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:00:00', values: { t: 1 } },
      { deviceId: 'wx-chiesa-01', observedAt: future, values: { t: 1 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { t: 1500 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { h: 150 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { t: { value: 70, unitCode: 'FAH' } } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { wind: 3 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:20:00Z', values: { t: '21' } },
      { deviceId: 'pk-caspoggio-01', observedAt: '2024-05-01T10:20:00Z', values: { free: 41 } },
      { deviceId: 'pk-caspoggio-01', observedAt: '2024-05-01T10:20:00Z', values: { free: 2.5 } },
      { deviceId: 'wx-chiesa-01', values: { t: 1 } },
      'not an object',
    ]), 207);
    const body = json(res);
    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(14);
    const pointers = body.items.map((i: { errors?: { pointer: string }[] }) => i.errors?.map((e) => e.pointer));
    expect(pointers).toEqual([
      undefined,
      ['/deviceId'],
      ['/observedAt'],
      ['/observedAt'],
      ['/observedAt'],
      ['/observedAt'],
      ['/values/t'],
      ['/values/h'],
      ['/values/t/unitCode'],
      ['/values/wind'],
      ['/values/t'],
      ['/values/free'],
      ['/values/free'],
      ['/observedAt'],
      ['/'],
    ]);
    const reasons = body.items.map((i: { errors?: { reason: string }[] }) => i.errors?.[0]?.reason ?? '');
    expect(reasons[1]).toMatch(/unknown device/);
    expect(reasons[2]).toMatch(/not a real date/);
    expect(reasons[4]).toMatch(/time zone/);
    expect(reasons[5]).toMatch(/future/);
    expect(reasons[6]).toMatch(/out of range: 150/);
    expect(reasons[8]).toMatch(/wrong unit.*CEL/);
    expect(reasons[11]).toMatch(/out of range: 41/);
    // only the valid one was written
    const [wx] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'));
    expect(wx.temperature.value).toBe(23);
    expect(wx.relativeHumidity.value).toBe(0.62);
  });

  test('nothing valid → 422; atomic=true with a rejected measurement writes nothing', async () => {
    expectStatus(await c.post(`${API}/measurements`, { deviceId: 'ghost-01', observedAt: '2024-05-01T10:00:00Z', values: { t: 1 } }), 422);
    const res = expectStatus(await c.post(`${API}/measurements?atomic=true`, [
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:30:00Z', values: { t: 100 } },
      { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T10:30:00Z', values: { t: 9999 } },
    ]), 422);
    expect(json(res).items[0].errors[0].reason).toMatch(/not written/);
    const [wx] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'));
    expect(wx.temperature.value).toBe(23);
  });

  test('NDJSON bodies: one measurement per line, bad lines rejected with their line', async () => {
    const ndjson = [
      JSON.stringify({ deviceId: 'air-chiesa-01', observedAt: '2024-05-01T11:00:00Z', values: { pm10: 11 } }),
      '',
      '{not json',
      JSON.stringify({ deviceId: 'air-chiesa-01', observedAt: '2024-05-01T11:00:00Z', values: { pm10: -3 } }),
    ].join('\n');
    const res = await c.inject({ method: 'POST', url: `${API}/measurements`, headers: { 'content-type': 'application/x-ndjson' }, payload: ndjson });
    expectStatus(res, 207);
    const body = json(res);
    expect(body.items.map((i: { status: string; line: number }) => [i.status, i.line])).toEqual([['accepted', 1], ['rejected', 3], ['rejected', 4]]);
    expect(body.items[2].errors[0].pointer).toBe('/values/pm10');
  });

  test('bodies: empty array / not JSON → 400', async () => {
    expectProblem(await c.post(`${API}/measurements`, []), 400, 'BadRequestData');
    expectProblem(await c.post(`${API}/measurements`, '42'), 400, 'BadRequestData');
  });
});

describe('re-registration, deletion, tenants', () => {
  test('POST again → 409; PUT replaces (200): new scale applies, a removed link is gone from the Device', async () => {
    expectProblem(await c.post(`${API}/devices`, REGISTRATIONS.energy), 409, 'AlreadyExists');
    const { project: _dropped, ...rest } = REGISTRATIONS.energy;
    const replaced = { ...rest, attributes: [{ key: 'P', name: 'totalActivePower' }, { key: 'E', name: 'totalActiveEnergyImport' }] };
    const res = expectStatus(await c.put(`${API}/devices/em-townhall-01`, replaced), 200);
    const view = json(res);
    expect(view.registration.attributes).toHaveLength(2);
    expect(Date.parse(view.updatedAt)).toBeGreaterThanOrEqual(Date.parse(view.createdAt));
    const device = await c.entity('urn:ngsi-ld:Device:em-townhall-01', '', { link: linkHeader(SDM('Device')) });
    expect(JSON.stringify(device)).not.toContain(PROJECT);
    expect(device.controlledProperty.value).toEqual(['power', 'electricityConsumption']);

    const m = await c.post(`${API}/measurements`, { deviceId: 'em-townhall-01', observedAt: '2024-05-01T12:00:00Z', values: { P: 9100, f: 50 } });
    expect(json(expectStatus(m, 422)).items[0].errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/values/f']);
    expectStatus(await c.post(`${API}/measurements`, { deviceId: 'em-townhall-01', observedAt: '2024-05-01T12:00:00Z', values: { P: 9100 } }), 200);
    const [em] = json(await byType('ThreePhaseAcMeasurement', 'urn:ngsi-ld:Device:em-townhall-01', 'Energy'));
    expect(em.totalActivePower.value).toBe(9100);
  });

  test('PUT of a new device → 201; a body deviceId other than the URL\'s → 400', async () => {
    const reg = { ...REGISTRATIONS.air, deviceId: undefined, municipality: '014036' };
    expectStatus(await c.put(`${API}/devices/air-lanzada-01`, reg), 201);
    expect(json(await c.get(`${API}/devices/air-lanzada-01`)).registration.deviceId).toBe('air-lanzada-01');
    const body = expectProblem(await c.put(`${API}/devices/air-lanzada-01`, { ...REGISTRATIONS.air }), 400, 'BadRequestData');
    expect(body.errors).toEqual([expect.objectContaining({ pointer: '/deviceId' })]);
  });

  test('DELETE removes the registration and the Device entity (observations stay); 404 after', async () => {
    expectStatus(await c.del(`${API}/devices/air-lanzada-01`), 204);
    expectProblem(await c.get(`${API}/devices/air-lanzada-01`), 404, 'ResourceNotFound');
    expectProblem(await c.del(`${API}/devices/air-lanzada-01`), 404, 'ResourceNotFound');
    expectStatus(await c.get(entityUrl('urn:ngsi-ld:Device:air-lanzada-01')), 404);
    const res = await c.post(`${API}/measurements`, { deviceId: 'air-lanzada-01', observedAt: '2024-05-01T12:00:00Z', values: { no2: 1 } });
    expect(json(expectStatus(res, 422)).items[0].errors[0].pointer).toBe('/deviceId');
  });

  test('tenants are isolated: a device of one tenant is unknown in another', async () => {
    const t = { 'NGSILD-Tenant': 'contractor-b' };
    expectStatus(await c.post(`${API}/devices`, REGISTRATIONS.weather, t), 201);
    expect(json(await c.get(`${API}/devices`, t)).map((d: { deviceId: string }) => d.deviceId)).toEqual(['wx-chiesa-01']);
    expect(json(await c.get(`${API}/devices`, { 'NGSILD-Tenant': 'nobody' }))).toEqual([]);
    const res = await c.post(`${API}/measurements`, { deviceId: 'air-chiesa-01', observedAt: '2024-05-01T12:00:00Z', values: { no2: 1 } }, t);
    expect(json(expectStatus(res, 422)).items[0].errors[0].pointer).toBe('/deviceId');
    expectStatus(await c.post(`${API}/measurements`, { deviceId: 'wx-chiesa-01', observedAt: '2024-05-01T12:00:00Z', values: { t: -50 } }, t), 200);
    const [b] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather', t));
    expect(b.temperature.value).toBe(-5);
    const [a] = json(await byType('WeatherObserved', 'urn:ngsi-ld:Device:wx-chiesa-01', 'Weather'));
    expect(a.temperature.value).toBe(23);
    // deleting in one tenant leaves the other's
    expectStatus(await c.del(`${API}/devices/wx-chiesa-01`, t), 204);
    expectStatus(await c.get(`${API}/devices/wx-chiesa-01`), 200);
  });
});

describe('project progress', () => {
  // refProject is the SDG term (our context maps it to the same IRI); the KPI context lacks it
  const kpisOf = async (project: string) =>
    json(expectStatus(await c.get(`${BASE}/entities?type=KeyPerformanceIndicator&q=${encodeURIComponent(`https://smartdatamodels.org/dataModel.SDG/refProject=="${project}"`)}`,
      { link: linkHeader(SDM('KeyPerformanceIndicator')) }), 200));
  const actionsOf = async (project: string) =>
    json(expectStatus(await c.get(`${BASE}/entities?type=Action&q=${encodeURIComponent(`refProject=="${project}"`)}`,
      { link: linkHeader(SDM('SDG')) }), 200));

  test('updates Project, one KPI per metric and one Action per milestone', async () => {
    const res = expectStatus(await c.patch(`${API}/projects/dev-test-01/progress`, {
      status: 'inProgress',
      completion: 40,
      spending: { amount: 125000.5, currency: 'EUR' },
      milestones: [
        { name: 'Tender awarded', dueDate: '2024-03-31', done: true },
        { name: 'Sensors installed', dueDate: '2024-09-30', done: false },
      ],
      reportedAt: '2024-05-02T08:00:00Z',
    }), 200);
    const body = json(res);
    expect(body).toMatchObject({ projectId: PROJECT, accepted: 6, rejected: 0 });
    expect(body.items.map((i: { id: string }) => i.id)).toEqual([
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-completion',
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-spending',
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-milestones',
      'urn:ngsi-ld:Action:dev-test-01-tender-awarded',
      'urn:ngsi-ld:Action:dev-test-01-sensors-installed',
      PROJECT,
    ]);

    const project = await c.entity(PROJECT, '?options=keyValues', { link: linkHeader(SMARTLAND_CONTEXT_URL) });
    expect(project).toMatchObject({
      name: 'Test project 01',
      status: 'inProgress',
      completionPercentage: 40,
      spending: { amount: 125000.5, currency: 'EUR' },
      dateModified: { '@type': 'DateTime', '@value': '2024-05-02T08:00:00.000Z' },
    });

    const kpis = await kpisOf(PROJECT);
    expect(kpis.map((k: { id: string }) => k.id).sort()).toEqual([
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-completion',
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-milestones',
      'urn:ngsi-ld:KeyPerformanceIndicator:dev-test-01-spending',
    ]);
    const completion = kpis.find((k: { id: string }) => k.id.endsWith('-completion'));
    expect(completion.kpiValue.value).toBe(40);
    expect(completion.name.value).toBe('Completion of Test project 01 (%)');
    expect(completion.updatedAt.value['@value']).toBe('2024-05-02T08:00:00.000Z');
    expect(kpis.find((k: { id: string }) => k.id.endsWith('-spending')).kpiValue.value).toBe(125000.5);
    expect(kpis.find((k: { id: string }) => k.id.endsWith('-milestones')).kpiValue.value).toBe(0.5);

    const actions = await actionsOf(PROJECT);
    const tender = actions.find((a: { id: string }) => a.id.endsWith('tender-awarded'));
    expect(tender).toMatchObject({ name: { value: 'Tender awarded' }, executionPeriod: { value: '2024-03-31' }, compliancePercentage: { value: 1 } });
  });

  test('a later report updates the same entities in place and leaves the rest', async () => {
    expectStatus(await c.patch(`${API}/projects/${encodeURIComponent(PROJECT)}/progress`, {
      completion: 55,
      milestones: [{ name: 'Sensors installed', dueDate: '2024-09-30', done: true }],
    }), 200);
    const project = await c.entity(PROJECT, '?options=keyValues', { link: linkHeader(SMARTLAND_CONTEXT_URL) });
    expect(project).toMatchObject({ status: 'inProgress', completionPercentage: 55, spending: { amount: 125000.5 } });
    expect(await kpisOf(PROJECT)).toHaveLength(3);
    const actions = await actionsOf(PROJECT);
    expect(actions).toHaveLength(2);
    expect(actions.every((a: { compliancePercentage: { value: number } }) => a.compliancePercentage.value === 1)).toBe(true);
  });

  test('404 for a project that does not exist (nothing written); 400 for invalid reports', async () => {
    expectProblem(await c.patch(`${API}/projects/no-such-project/progress`, { completion: 10 }), 404, 'ResourceNotFound');
    expect(await kpisOf('urn:ngsi-ld:Project:no-such-project')).toEqual([]);
    const cases: [unknown, string][] = [
      [{ completion: 120 }, '/completion'],
      [{ status: 'almostDone' }, '/status'],
      [{ spending: { amount: -1, currency: 'EUR' } }, '/spending/amount'],
      [{ spending: { amount: 1, currency: 'euro' } }, '/spending/currency'],
      [{ milestones: [{ name: 'X', dueDate: '2025-02-30', done: false }] }, '/milestones/0/dueDate'],
      [{ milestones: [{ name: 'X', done: 'yes' }] }, '/milestones/0/done'],
      [{ milestones: [{ name: 'Go live', done: false }, { name: 'go-live!', done: true }] }, '/milestones/1/name'],
      [{ reportedAt: '2999-01-01T00:00:00Z', completion: 1 }, '/reportedAt'],
      [{}, '/'],
      [{ completion: 10, budget: 3 }, '/budget'],
    ];
    for (const [body, pointer] of cases) {
      const problem = expectProblem(await c.patch(`${API}/projects/dev-test-01/progress`, body), 400, 'BadRequestData');
      expect((problem.errors as { pointer: string }[]).map((e) => e.pointer)).toContain(pointer);
    }
    expectProblem(await c.patch(`${API}/projects/${encodeURIComponent('urn:ngsi-ld:Building:x')}/progress`, { completion: 1 }), 400, 'BadRequestData');
  });
});
