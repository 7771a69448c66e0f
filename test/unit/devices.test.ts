import {
  checkObservedAt, checkRegistration, controlledProperties, mapMeasurement, municipalityId, observedEntityId,
  registrationToDevice, MAX_FUTURE_SKEW_MS, type DeviceRegistration,
} from '../../src/ingest/devices';
import { checkProgress, checkProgressItems, milestoneSlug, progressToItems, projectIds } from '../../src/ingest/progress';
import { toNormalized } from '../../src/domain/keyvalues-to-normalized';

const NOW = Date.parse('2024-06-01T00:00:00Z');

const weather: DeviceRegistration = {
  deviceId: 'wx-1',
  observedType: 'WeatherObserved',
  location: { type: 'Point', coordinates: [9.85, 46.27] },
  municipality: '014019',
  corridor: 'urn:ngsi-ld:ThematicCorridor:ITI-InValmalenco-QualityOfLife',
  project: 'urn:ngsi-ld:Project:p-1',
  attributes: [
    { key: 't', name: 'temperature', scale: 0.1 },
    { key: 'tf', name: 'dewPoint', scale: 5 / 9, offset: -160 / 9 },
    { key: 'h', name: 'relativeHumidity', scale: 0.01, unitCode: 'C62' },
  ],
};

const ok = <T>(r: { ok: true; value: T } | { ok: false; errors: unknown }): T => {
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const pointers = (r: { ok: boolean; errors?: { pointer: string }[] }) => (r.ok ? [] : r.errors!.map((e) => e.pointer));

describe('registration', () => {
  test('a valid registration passes and keeps its members', () => {
    expect(ok(checkRegistration(weather))).toEqual(weather);
  });

  test('Device item: category, controlledProperty derived from the attributes, links', () => {
    expect(registrationToDevice(weather)).toEqual({
      id: 'urn:ngsi-ld:Device:wx-1',
      type: 'Device',
      deviceCategory: ['sensor'],
      controlledProperty: ['temperature', 'humidity'],
      location: weather.location,
      refMunicipality: 'urn:ngsi-ld:PublicOrganization:IT-ISTAT-014019',
      refThematicCorridor: 'urn:ngsi-ld:ThematicCorridor:ITI-InValmalenco-QualityOfLife',
      refProject: 'urn:ngsi-ld:Project:p-1',
    });
    // normalized: Relationships, and the smartland @context for the extension links
    const n = toNormalized('Device', registrationToDevice(weather));
    expect(n.refMunicipality).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:PublicOrganization:IT-ISTAT-014019' });
    expect(n['@context']).toContain('https://smartland.example/contexts/smartland.jsonld');
  });

  test('controlledProperty: given, derived, or the observed type default', () => {
    expect(controlledProperties({ ...weather, controlledProperty: ['weatherConditions'] })).toEqual(['weatherConditions']);
    expect(controlledProperties({ ...weather, attributes: [{ key: 'x', name: 'visibility', type: 'string' }] })).toEqual(['weatherConditions']);
  });

  test('ids: municipality by ISTAT code or id; one observed entity per device', () => {
    expect(municipalityId('014036')).toBe('urn:ngsi-ld:PublicOrganization:IT-ISTAT-014036');
    expect(municipalityId('urn:ngsi-ld:PublicOrganization:X')).toBe('urn:ngsi-ld:PublicOrganization:X');
    expect(observedEntityId('WeatherObserved', 'wx-1')).toBe('urn:ngsi-ld:WeatherObserved:wx-1');
  });

  test.each([
    [{ ...weather, attributes: [{ key: 't', name: 'temperature', unitCode: 'FAH' }] }, '/attributes/0/unitCode'],
    [{ ...weather, attributes: [{ key: 't', name: 'temperature', unitCode: 'celsius' }] }, '/attributes/0/unitCode'],
    [{ ...weather, attributes: [{ key: 't', name: 'temperature', scale: 0 }] }, '/attributes/0/scale'],
    [{ ...weather, attributes: [{ key: 't', name: 'temperature', minimum: 5, maximum: 1 }] }, '/attributes/0/minimum'],
    [{ ...weather, attributes: [{ key: 's', name: 'weatherType', type: 'string', scale: 2 }] }, '/attributes/0/scale'],
    [{ ...weather, attributes: [{ key: 't', name: 'temperature', enum: ['a'] }] }, '/attributes/0/enum'],
    [{ ...weather, attributes: [{ key: 'a/b', name: 'temperature' }] }, '/attributes/0/key'],
    [{ ...weather, attributes: [{ key: 'x', name: 'refDevice' }] }, '/attributes/0/name'],
    [{ ...weather, attributes: [] }, '/attributes'],
    [{ ...weather, observedType: 'DeviceMeasurement' }, '/attributes'],
    [{ ...weather, location: { type: 'Point', coordinates: [9, 95] } }, '/location/coordinates/1'],
    [{ ...weather, location: { type: 'Polygon', coordinates: [9, 46] } }, '/location/type'],
    [{ ...weather, municipality: 'Lanzada' }, '/municipality'],
    [{ ...weather, category: ['toaster'] }, '/category/0'],
    [{ ...weather, staticAttributes: { temperature: 1 } }, '/staticAttributes/temperature'],
    [{ ...weather, staticAttributes: { dateObserved: 'x' } }, '/staticAttributes/dateObserved'],
    [{ ...weather, colour: 'red' }, '/colour'],
    [{ ...weather, deviceId: undefined }, '/deviceId'],
  ])('invalid registration %#', (reg, pointer) => {
    expect(pointers(checkRegistration(reg))).toContain(pointer);
  });

  test('PUT: the body may leave deviceId out, but not contradict the URL', () => {
    const { deviceId: _d, ...rest } = weather;
    expect(ok(checkRegistration(rest, 'wx-1')).deviceId).toBe('wx-1');
    expect(pointers(checkRegistration(weather, 'wx-2'))).toEqual(['/deviceId']);
  });
});

describe('observedAt', () => {
  test.each([
    ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01t10:00:00.123456z', '2024-05-01T10:00:00.123Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('%s → %s', (input, iso) => {
    expect(checkObservedAt(input, NOW)).toEqual({ ok: true, iso });
  });

  test.each([
    [undefined], [1714557600000], ['2024-05-01'], ['2024-05-01T10:00:00'], ['2023-02-29T00:00:00Z'], ['2024-04-31T10:00:00Z'],
    ['2024-05-01T24:00:00Z'], ['2024-05-01T10:60:00Z'], ['1969-12-31T23:59:59Z'], ['yesterday'], ['2024-06-01T01:00:00Z'],
  ])('%s is refused', (input) => {
    expect(checkObservedAt(input, NOW).ok).toBe(false);
  });

  test('a few minutes of clock skew are tolerated', () => {
    expect(checkObservedAt(new Date(NOW + MAX_FUTURE_SKEW_MS - 1000).toISOString(), NOW).ok).toBe(true);
  });
});

describe('measurement → observation', () => {
  const reg = ok(checkRegistration(weather));

  test('scale/offset, units, time attributes, refDevice, location', () => {
    const m = ok(mapMeasurement(reg, { deviceId: 'wx-1', observedAt: '2024-05-01T12:00:00+02:00', values: { t: 215, tf: 50, h: 62 } }, NOW));
    expect(m.type).toBe('WeatherObserved');
    expect(m.item).toEqual({
      id: 'urn:ngsi-ld:WeatherObserved:wx-1',
      type: 'WeatherObserved',
      temperature: 21.5,
      dewPoint: 10,
      relativeHumidity: 0.62,
      dateObserved: '2024-05-01T10:00:00.000Z',
      location: weather.location,
      refDevice: 'urn:ngsi-ld:Device:wx-1',
    });
    expect(m.normalize).toEqual({ observedAt: '2024-05-01T10:00:00.000Z', unitCodes: { temperature: 'CEL', dewPoint: 'CEL', relativeHumidity: 'C62' } });
    // what the broker gets once ingestItems passes these options on
    const n = toNormalized(m.type, m.item, m.normalize);
    expect(n.temperature).toEqual({ type: 'Property', value: 21.5, observedAt: '2024-05-01T10:00:00.000Z', unitCode: 'CEL' });
    expect(n.refDevice).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:Device:wx-1', observedAt: '2024-05-01T10:00:00.000Z' });
  });

  test('a value may carry its unit, which must be the registered one', () => {
    expect(ok(mapMeasurement(reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: { value: 200, unitCode: 'CEL' } } }, NOW)).item.temperature).toBe(20);
    const wrong = mapMeasurement(reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: { value: 68, unitCode: 'FAH' } } }, NOW);
    expect(wrong).toEqual({ ok: false, errors: [{ pointer: '/values/t/unitCode', reason: expect.stringContaining('wrong unit') }] });
  });

  test.each([
    [undefined, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: 1 } }, ['/deviceId']],
    [reg, { observedAt: '2024-05-01T10:00:00Z', values: { t: 1 } }, ['/deviceId']],
    [reg, { deviceId: 'wx-1', values: { t: 1 } }, ['/observedAt']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-13-01T10:00:00Z', values: { t: 1 } }, ['/observedAt']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: {} }, ['/values']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: [1] }, ['/values']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { x: 1, 'a/b': 2 } }, ['/values/x', '/values/a~1b']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: '21' } }, ['/values/t']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: null } }, ['/values/t']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: { v: 1 } } }, ['/values/t']],
    // 1000 × 0.1 = 100 °C: outside the plausible range of a temperature
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: 1000 } }, ['/values/t']],
    // 1.5: outside the SDM schema's 0..1, pointed back at the measurement key
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { h: 150 } }, ['/values/h']],
    [reg, { deviceId: 'wx-1', observedAt: '2024-05-01T10:00:00Z', values: { t: 1 }, extra: 1 }, ['/extra']],
    [reg, 'x', ['/']],
  ])('rejected %#', (r, m, expected) => {
    expect(pointers(mapMeasurement(r, m, NOW))).toEqual(expected);
  });

  test('registered bounds replace the plausible range; integers stay integers', () => {
    const parking = ok(checkRegistration({
      deviceId: 'pk-1', observedType: 'OffStreetParking', location: { type: 'Point', coordinates: [9.87, 46.27] },
      attributes: [{ key: 'free', name: 'availableSpotNumber', type: 'integer', minimum: 0, maximum: 40 }],
      staticAttributes: { totalSpotNumber: 40 },
    }));
    const at = { deviceId: 'pk-1', observedAt: '2024-05-01T10:00:00Z' };
    expect(ok(mapMeasurement(parking, { ...at, values: { free: 40 } }, NOW)).item).toMatchObject({
      availableSpotNumber: 40, totalSpotNumber: 40, observationDateTime: '2024-05-01T10:00:00.000Z',
    });
    expect(pointers(mapMeasurement(parking, { ...at, values: { free: 41 } }, NOW))).toEqual(['/values/free']);
    expect(pointers(mapMeasurement(parking, { ...at, values: { free: 1.5 } }, NOW))).toEqual(['/values/free']);
  });

  test('types with array refDevice, no time attribute, an interval, and DeviceMeasurement', () => {
    const base = { location: { type: 'Point' as const, coordinates: [9.85, 46.27] as [number, number] } };
    const energy = ok(checkRegistration({ ...base, deviceId: 'em-1', observedType: 'ThreePhaseAcMeasurement', attributes: [{ key: 'P', name: 'totalActivePower', scale: 1000 }] }));
    const e = ok(mapMeasurement(energy, { deviceId: 'em-1', observedAt: '2024-05-01T10:00:00Z', values: { P: 8.45 } }, NOW));
    expect(e.item).toMatchObject({ totalActivePower: 8450, refDevice: ['urn:ngsi-ld:Device:em-1'] });
    expect(e.item).not.toHaveProperty('dateObserved');
    expect(e.normalize.unitCodes).toEqual({ totalActivePower: 'WTT' });

    const noise = ok(checkRegistration({ ...base, deviceId: 'nz-1', observedType: 'NoiseLevelObserved', attributes: [{ key: 'l', name: 'LAeq' }] }));
    expect(ok(mapMeasurement(noise, { deviceId: 'nz-1', observedAt: '2024-05-01T10:00:00Z', values: { l: 55 } }, NOW)).item).toMatchObject({
      LAeq: 55, dateObservedFrom: '2024-05-01T10:00:00.000Z', dateObservedTo: '2024-05-01T10:00:00.000Z',
    });

    const generic = ok(checkRegistration({ ...base, deviceId: 'g-1', observedType: 'DeviceMeasurement', attributes: [{ key: 'd', name: 'snowDepth', unitCode: 'CMT' }] }));
    const g = ok(mapMeasurement(generic, { deviceId: 'g-1', observedAt: '2024-05-01T10:00:00Z', values: { d: 35 } }, NOW));
    expect(g.item).toEqual({
      id: 'urn:ngsi-ld:DeviceMeasurement:g-1', type: 'DeviceMeasurement', numValue: 35, controlledProperty: 'snowDepth', unit: 'CMT',
      dateObserved: '2024-05-01T10:00:00.000Z', location: base.location, refDevice: 'urn:ngsi-ld:Device:g-1',
    });
    expect(g.normalize.unitCodes).toEqual({ numValue: 'CMT' });
  });

  test('string attributes with an enum', () => {
    const spot = ok(checkRegistration({
      deviceId: 'ps-1', observedType: 'ParkingSpot', location: { type: 'Point', coordinates: [9.87, 46.27] },
      attributes: [{ key: 's', name: 'status', type: 'string', enum: ['free', 'occupied'] }],
      staticAttributes: { category: ['offStreet'], refParkingSite: 'urn:ngsi-ld:OffStreetParking:p' },
    }));
    const at = { deviceId: 'ps-1', observedAt: '2024-05-01T10:00:00Z' };
    expect(ok(mapMeasurement(spot, { ...at, values: { s: 'free' } }, NOW)).item).toMatchObject({ status: 'free', refDevice: ['urn:ngsi-ld:Device:ps-1'] });
    expect(pointers(mapMeasurement(spot, { ...at, values: { s: 'maybe' } }, NOW))).toEqual(['/values/s']);
  });
});

describe('project progress', () => {
  const project = { id: 'urn:ngsi-ld:Project:p-1', local: 'p-1', name: 'Hub' };

  test('projectIds: local id or URN', () => {
    expect(projectIds('p-1')).toEqual({ id: 'urn:ngsi-ld:Project:p-1', local: 'p-1' });
    expect(projectIds('urn:ngsi-ld:Project:p-1')).toEqual({ id: 'urn:ngsi-ld:Project:p-1', local: 'p-1' });
    expect(projectIds('urn:ngsi-ld:Building:x')).toBeUndefined();
    expect(projectIds('a b')).toBeUndefined();
  });

  test('milestone slugs are stable ids', () => {
    expect(milestoneSlug('Sensors installed!')).toBe('sensors-installed');
    expect(milestoneSlug('Città — fase 2')).toBe('citta-fase-2');
    expect(milestoneSlug('完成')).toMatch(/^m-[0-9a-f]{12}$/);
  });

  test('Project patch, KPIs per metric, Actions per milestone; all valid for their schemas', () => {
    const update = ok(checkProgress({
      status: 'inProgress', completion: 60, spending: { amount: 1000, currency: 'EUR' },
      milestones: [{ name: 'A', dueDate: '2024-01-31', done: true }, { name: 'B', done: false }, { name: 'C', done: true }],
    }, NOW));
    const items = progressToItems(project, update, '2024-05-02T08:00:00.000Z');
    expect(items.byType.map((g) => [g.type, g.items.length])).toEqual([['KeyPerformanceIndicator', 3], ['Action', 3], ['Project', 1]]);
    expect(items.byType[2].items[0]).toEqual({
      id: 'urn:ngsi-ld:Project:p-1', type: 'Project', status: 'inProgress', completionPercentage: 60,
      spending: { amount: 1000, currency: 'EUR' }, dateModified: '2024-05-02T08:00:00.000Z',
    });
    const [completion, spending, milestones] = items.byType[0].items;
    expect(completion).toMatchObject({ id: 'urn:ngsi-ld:KeyPerformanceIndicator:p-1-completion', kpiValue: 60, name: 'Completion of Hub (%)', refProject: project.id });
    expect(spending).toMatchObject({ kpiValue: 1000, name: 'Spending of Hub (EUR)', category: ['quantitative', 'financial', 'input'] });
    expect(milestones.kpiValue).toBeCloseTo(2 / 3, 10);
    expect(items.byType[1].items[0]).toEqual({
      id: 'urn:ngsi-ld:Action:p-1-a', type: 'Action', name: 'A', refProject: project.id, compliancePercentage: 1,
      executionPeriod: '2024-01-31', dateModified: '2024-05-02T08:00:00.000Z',
    });
    expect(items.byType[1].items[1]).not.toHaveProperty('executionPeriod');
    expect(checkProgressItems(items)).toEqual([]);
  });

  test('only what is reported is written', () => {
    const items = progressToItems(project, ok(checkProgress({ status: 'suspended' }, NOW)), '2024-05-02T08:00:00.000Z');
    expect(items.byType).toEqual([{ type: 'Project', items: [{ id: project.id, type: 'Project', status: 'suspended', dateModified: '2024-05-02T08:00:00.000Z' }] }]);
  });

  test.each([
    [{}, '/'],
    [{ completion: -1 }, '/completion'],
    [{ completion: '50' }, '/completion'],
    [{ status: 'done' }, '/status'],
    [{ spending: { amount: 1 } }, '/spending/currency'],
    [{ milestones: [{ name: '', done: true }] }, '/milestones/0/name'],
    [{ milestones: [{ name: 'x', dueDate: '2023-02-29', done: true }] }, '/milestones/0/dueDate'],
    [{ milestones: [{ name: 'Go', done: true }, { name: 'GO', done: false }] }, '/milestones/1/name'],
    [{ completion: 1, reportedAt: '2024-06-02T00:00:00Z' }, '/reportedAt'],
    [{ completion: 1, reportedAt: '2024-05-01' }, '/reportedAt'],
  ])('invalid progress %#', (body, pointer) => {
    expect(pointers(checkProgress(body, NOW))).toContain(pointer);
  });
});
