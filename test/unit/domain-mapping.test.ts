import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileTermMap } from '../../src/ngsi-ld/context/term-map';
import { parseEntity } from '../../src/ngsi-ld/entity/parse';
import { NgsiError } from '../../src/ngsi-ld/errors';
import {
  ENTITY_TYPES, SMARTLAND_CONTEXT_URL, SUPPORTED_TYPES, isRelationship, type EntityTypeSpec,
} from '../../src/domain/sdm-types';
import { SCHEMA_TYPES, validateKeyValues, validatorFor } from '../../src/domain/sdm-validator';
import { toKeyValues, toNormalized } from '../../src/domain/keyvalues-to-normalized';

const ROOT = join(__dirname, '..', '..');
const SDM_DIR = join(ROOT, 'schemas', 'smart-data-models');
type Json = Record<string, unknown>;
const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8')) as Json;

const SDM_TYPES = SUPPORTED_TYPES.filter((t) => ENTITY_TYPES.get(t)!.origin === 'sdm');

/** The vendored keyValues example of a type, without its @context. */
function example(type: string): Json {
  const { '@context': _ctx, ...item } = readJson(join(SDM_DIR, type, 'example.jsonld'));
  return item;
}

/**
 * Defects of the vendored SDM examples, each with the failure it causes. The test checks the
 * defect is still there (so that a fixed upstream example shows up) and uses the patched item.
 */
const EXAMPLE_DEFECTS: Record<string, { failure: RegExp; patch: Json }> = {
  // dateObserved "2016-03-15T11:00:00" has no time zone: not an RFC 3339 date-time.
  AirQualityObserved: { failure: /^\/dateObserved: must be a valid date-time$/m, patch: { dateObserved: '2016-03-15T11:00:00Z' } },
  // opens/closes "00:01:00" have no offset: not an RFC 3339 time.
  PublicTransportStop: {
    failure: /^\/openingHoursSpecification\/0\/opens: must be a valid time$/m,
    patch: {
      openingHoursSpecification: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'].map((dayOfWeek) => (
        { opens: '00:01:00Z', closes: '23:59:00Z', dayOfWeek })),
    },
  },
  // refProject "O.E.6.AY1" is a bare local id: valid for the schema, not an entity id (URI).
  Action: { failure: /^\/refProject: a Relationship must point to entity ids/, patch: { refProject: 'urn:ngsi-ld:Project:O.E.6.AY1' } },
  Indicator: { failure: /^\/refProject: a Relationship must point to entity ids/, patch: { refProject: 'urn:ngsi-ld:Project:O.E.6.AY1' } },
};

const show = (r: ReturnType<typeof validateKeyValues>): string =>
  r.ok ? 'ok' : r.errors.map((e) => `${e.pointer}: ${e.message}`).join('\n');

/** What goes wrong with an item: schema issues, else the mapping error, else ''. */
function failureOf(type: string, item: Json): string {
  const r = validateKeyValues(type, item);
  if (!r.ok) return show(r);
  try {
    toNormalized(type, item);
    return '';
  } catch (err) {
    return (err as NgsiError).detail;
  }
}

// --- term maps built from the bundled contexts, as the engine would -----------------------------

const CORE = readJson(join(ROOT, 'contexts', 'ngsi-ld-core-context-v1.8.jsonld'))['@context'];
function contextFile(url: string): string {
  if (url === SMARTLAND_CONTEXT_URL) return join(ROOT, 'contexts', 'smartland.jsonld');
  const subject = /^https:\/\/smart-data-models\.github\.io\/(dataModel\.[\w.-]+)\/context\.jsonld$/.exec(url)?.[1];
  if (!subject) throw new Error(`no bundled file for ${url}`);
  return join(ROOT, 'contexts', 'smart-data-models', `${subject}.context.jsonld`);
}
function termMapFor(contexts: string[]) {
  return compileTermMap(contexts.map((u) => readJson(contextFile(u))['@context']), CORE, contexts, contexts.join(' '));
}

// -------------------------------------------------------------------------------------------------

describe('schema registry', () => {
  it('registers every vendored schema and our own, and each compiles', () => {
    expect(SCHEMA_TYPES).toHaveLength(29); // 25 supported SDM + 2 extra vendored + our 2
    const started = Date.now();
    for (const type of SCHEMA_TYPES) expect(typeof validatorFor(type)).toBe('function');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('covers the domain table of DESIGN.md', () => {
    expect([...SUPPORTED_TYPES].sort()).toEqual([
      'Action', 'AirQualityObserved', 'BikeHireDockingStation', 'Building', 'Device', 'DeviceMeasurement',
      'EVChargingStation', 'Indicator', 'ItemFlowObserved', 'KeyPerformanceIndicator', 'NoiseLevelObserved',
      'OffStreetParking', 'ParkingSpot', 'Pipe', 'Project', 'PublicOrganization', 'PublicTransportStop', 'Streetlight',
      'Tank', 'TerritorialProgramme', 'ThematicCorridor', 'ThreePhaseAcMeasurement', 'TrafficFlowObserved',
      'WaterConsumptionObserved', 'WaterObserved', 'WaterQualityObserved', 'WeatherObserved',
    ]);
  });

  it('rejects an unknown type with a pointer', () => {
    expect(validateKeyValues('Spaceship', { id: 'urn:ngsi-ld:Spaceship:1', type: 'Spaceship' }))
      .toEqual({ ok: false, errors: [{ pointer: '/type', message: 'unsupported entity type "Spaceship"' }] });
  });
});

// --- the registry agrees with what the schemas say about each attribute -------------------------

const shared = new Map<string, Json>();
for (const f of ['common-schema', 'Environment-schema', 'weather-schema', 'device-schema', 'gtfs-schema', 'WaterNetworkManagement-schema']) {
  const s = readJson(join(SDM_DIR, 'shared-schemas', `${f}.json`));
  shared.set(String(s.$id), s);
}
const canonical = (url: string) =>
  url.replace(/^https:\/\/raw\.githubusercontent\.com\/smart-data-models\/([^/]+)\/master\//, 'https://smart-data-models.github.io/$1/');

function resolveRef(ref: string, base: Json): [Json, Json] | undefined {
  const [url, fragment = ''] = ref.split('#');
  const doc = url ? shared.get(canonical(url)) : base;
  if (!doc) return undefined; // geojson: no attributes of interest
  let node: unknown = doc;
  for (const p of fragment.split('/').filter(Boolean)) node = (node as Json)[p];
  return [node as Json, doc];
}

/** Top-level attributes of a schema with their description and format (through allOf/anyOf/$ref). */
function attributesOf(schema: Json, base: Json = schema, out = new Map<string, { description: string; format?: string }>()) {
  if (typeof schema.$ref === 'string') {
    const r = resolveRef(schema.$ref, base);
    if (r) attributesOf(r[0], r[1], out);
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) for (const s of (schema[k] as Json[] | undefined) ?? []) attributesOf(s, base, out);
  for (const [name, raw] of Object.entries((schema.properties as Record<string, Json> | undefined) ?? {})) {
    let def = raw;
    if (typeof raw.$ref === 'string') def = { ...resolveRef(raw.$ref, base)?.[0], ...raw };
    const alternatives = [def, ...((def.anyOf ?? def.oneOf ?? []) as Json[])];
    const format = alternatives.map((a) => a.format as string | undefined).find((f) => f === 'date-time' || f === 'date' || f === 'time');
    out.set(name, { description: String(def.description ?? ''), format });
  }
  return out;
}

/** Attributes the schemas call Relationship that are deliberately Properties (see sdm-types.ts). */
const NOT_RELATIONSHIPS: Record<string, string[]> = {
  EVChargingStation: ['dataDescriptor'],
  Streetlight: ['feederID'],
  Building: ['mapUrl'],
};
const TEMPORAL = { 'date-time': 'DateTime', date: 'Date', time: 'Time' } as const;

describe.each(SDM_TYPES)('registry entry of %s', (type) => {
  const spec = ENTITY_TYPES.get(type) as EntityTypeSpec;
  const attributes = attributesOf(readJson(join(SDM_DIR, type, 'schema.json')));

  it('has the schema $id of the vendored file', () => {
    expect(readJson(join(SDM_DIR, type, 'schema.json')).$id).toBe(spec.schemaId);
  });

  it('marks the Relationships, GeoProperties and temporal attributes the schema describes', () => {
    for (const [name, { description, format }] of attributes) {
      if (name === 'id' || name === 'type') continue;
      const kind = /^\s*(\w+)/.exec(description)?.[1].toLowerCase();
      if (kind === 'relationship' && !NOT_RELATIONSHIPS[type]?.includes(name)) expect([name, isRelationship(spec, name)]).toEqual([name, true]);
      if (kind === 'geoproperty') expect(spec.geoProperties).toContain(name);
      if (format) expect([name, spec.temporal[name]]).toEqual([name, TEMPORAL[format as keyof typeof TEMPORAL]]);
    }
    for (const name of [...spec.relationships, ...spec.geoProperties, ...Object.keys(spec.temporal)]) {
      expect([name, attributes.has(name)]).toEqual([name, true]);
    }
  });
});

// --- the proof: examples validate, map, map back and validate again ------------------------------

describe.each(SDM_TYPES)('%s example', (type) => {
  const original = example(type);
  const defect = EXAMPLE_DEFECTS[type];
  const item = defect ? { ...original, ...defect.patch } : original;

  if (defect) {
    it('still has the known defect of the vendored example', () => {
      expect(failureOf(type, original)).toMatch(defect.failure);
    });
  }

  it('validates against its schema', () => {
    expect(show(validateKeyValues(type, item))).toBe('ok');
  });

  it('maps to normalized NGSI-LD that maps back to the same keyValues, which validate again', () => {
    const normalized = toNormalized(type, item);
    expect(normalized['@context']).toEqual([ENTITY_TYPES.get(type)!.context]);
    const back = toKeyValues(normalized);
    expect(back).toEqual(item);
    expect(show(validateKeyValues(type, back))).toBe('ok');
  });

  it('is accepted by the NGSI-LD entity parser with its @context', () => {
    const normalized = toNormalized(type, item);
    expect(() => parseEntity(normalized, termMapFor(normalized['@context'] as string[]))).not.toThrow();
  });
});

// --- the normalized form ---------------------------------------------------------------------------

describe('toNormalized', () => {
  const weather = {
    id: 'urn:ngsi-ld:WeatherObserved:w1',
    type: 'WeatherObserved',
    dateObserved: '2024-05-01T10:00:00Z',
    location: { type: 'Point', coordinates: [9.85, 46.2667] },
    temperature: 12.5,
    relativeHumidity: 0.6,
    refDevice: 'urn:ngsi-ld:Device:d1',
    address: { addressLocality: 'Chiesa in Valmalenco', addressCountry: 'IT' },
  };

  it('builds Properties, GeoProperties, Relationships and typed DateTime values', () => {
    expect(toNormalized('WeatherObserved', weather)).toEqual({
      id: 'urn:ngsi-ld:WeatherObserved:w1',
      type: 'WeatherObserved',
      dateObserved: { type: 'Property', value: { '@type': 'DateTime', '@value': '2024-05-01T10:00:00Z' } },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85, 46.2667] } },
      temperature: { type: 'Property', value: 12.5, unitCode: 'CEL' },
      relativeHumidity: { type: 'Property', value: 0.6 },
      refDevice: { type: 'Relationship', object: 'urn:ngsi-ld:Device:d1' },
      address: { type: 'Property', value: { addressLocality: 'Chiesa in Valmalenco', addressCountry: 'IT' } },
      '@context': ['https://smart-data-models.github.io/dataModel.Weather/context.jsonld'],
    });
  });

  it('adds observedAt and unit codes from the options over the defaults', () => {
    const n = toNormalized('WeatherObserved', weather, { observedAt: '2024-05-01T10:00:00Z', unitCodes: { temperature: 'FAH', relativeHumidity: 'C62' } });
    expect(n.temperature).toEqual({ type: 'Property', value: 12.5, unitCode: 'FAH', observedAt: '2024-05-01T10:00:00Z' });
    expect(n.relativeHumidity).toEqual({ type: 'Property', value: 0.6, unitCode: 'C62', observedAt: '2024-05-01T10:00:00Z' });
    expect(n.refDevice).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:Device:d1', observedAt: '2024-05-01T10:00:00Z' });
  });

  it('keeps arrays of entity ids as one Relationship and adds our @context for extension attributes', () => {
    const n = toNormalized('Project', {
      id: 'urn:ngsi-ld:Project:p1', type: 'Project', refDevice: ['urn:ngsi-ld:Device:a', 'urn:ngsi-ld:Device:b'],
      refThematicCorridor: 'urn:ngsi-ld:ThematicCorridor:c1', isSample: true,
    });
    expect(n.refDevice).toEqual({ type: 'Relationship', object: ['urn:ngsi-ld:Device:a', 'urn:ngsi-ld:Device:b'] });
    expect(n.refThematicCorridor).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:ThematicCorridor:c1' });
    expect(n.isSample).toEqual({ type: 'Property', value: true });
    expect(n['@context']).toEqual(['https://smart-data-models.github.io/dataModel.SDG/context.jsonld', SMARTLAND_CONTEXT_URL]);
  });

  const badRequest = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(NgsiError);
      expect([(err as NgsiError).problemType, (err as NgsiError).status]).toEqual(['BadRequestData', 400]);
      return (err as NgsiError).detail;
    }
    throw new Error('expected BadRequestData');
  };

  it('rejects ids that are not URIs, a wrong type, non-URI Relationship targets and unknown types', () => {
    expect(badRequest(() => toNormalized('WeatherObserved', { ...weather, id: 'w1' }))).toMatch(/^\/id: must be a URI such as urn:ngsi-ld:WeatherObserved:<local id>/);
    expect(badRequest(() => toNormalized('WeatherObserved', { ...weather, type: 'AirQualityObserved' }))).toMatch(/^\/type: must be "WeatherObserved"/);
    expect(badRequest(() => toNormalized('WeatherObserved', { ...weather, refDevice: 'd1' }))).toMatch(/^\/refDevice: a Relationship must point to entity ids \(URIs\), not "d1"/);
    expect(badRequest(() => toNormalized('Project', { id: 'urn:ngsi-ld:Project:p', type: 'Project', refDevice: ['urn:ngsi-ld:Device:a', 42] }))).toMatch(/^\/refDevice: .* not 42/);
    expect(badRequest(() => toNormalized('Spaceship', { id: 'urn:x:1', type: 'Spaceship' }))).toMatch(/^\/type: unsupported/);
    expect(badRequest(() => toNormalized('WeatherObserved', [weather]))).toMatch(/must be a JSON object/);
  });
});

// --- negative cases per family: pointer + reason -------------------------------------------------

const issues = (type: string, item: Json) => {
  const r = validateKeyValues(type, item);
  return r.ok ? [] : r.errors;
};

describe('validation errors name the member and the reason', () => {
  it('programme: our own schemas', () => {
    const corridor = {
      id: 'urn:ngsi-ld:ThematicCorridor:c', type: 'ThematicCorridor', name: 'Water', theme: 'water',
      refTerritorialProgramme: 'urn:ngsi-ld:TerritorialProgramme:p',
    };
    expect(issues('ThematicCorridor', corridor)).toEqual([]);
    expect(issues('ThematicCorridor', { ...corridor, theme: 'skiing' })).toEqual([
      { pointer: '/theme', message: expect.stringMatching(/^must be one of "mobility", "water", /) },
    ]);
    const { refTerritorialProgramme: _r, ...orphan } = corridor;
    expect(issues('ThematicCorridor', { ...orphan, colour: 'blue' })).toEqual(expect.arrayContaining([
      { pointer: '/refTerritorialProgramme', message: 'is required' },
      { pointer: '/colour', message: 'is not an attribute of this type' },
    ]));
    expect(issues('TerritorialProgramme', {
      id: 'urn:ngsi-ld:TerritorialProgramme:p', type: 'TerritorialProgramme', name: 'P',
      refLeadMunicipality: 'urn:ngsi-ld:PublicOrganization:IT-ISTAT-014019', refMunicipality: [], startDate: '2023-13-01',
    })).toEqual(expect.arrayContaining([
      { pointer: '/refMunicipality', message: 'must NOT have fewer than 1 items' },
      { pointer: '/startDate', message: 'must be a valid date' },
    ]));
  });

  it('organisation: PublicOrganization', () => {
    expect(issues('PublicOrganization', { id: 'urn:ngsi-ld:PublicOrganization:x', type: 'PublicOrganization', spatial: 'IT' })).toEqual([
      { pointer: '/spatial', message: 'must be array' },
      { pointer: '/preferredLabel', message: 'is required' },
    ]);
  });

  it('project: Action, KeyPerformanceIndicator', () => {
    expect(issues('Action', { id: 'urn:ngsi-ld:Action:a', type: 'Action', compliancePercentage: 1.5, dateCreated: 'yesterday' })).toEqual([
      { pointer: '/dateCreated', message: 'must be a valid date-time' },
      { pointer: '/compliancePercentage', message: 'must be <= 1' },
    ]);
    expect(issues('KeyPerformanceIndicator', { id: 'urn:ngsi-ld:KeyPerformanceIndicator:k', type: 'KeyPerformanceIndicator', calculationFrequency: 'sometimes' }))
      .toEqual([{ pointer: '/calculationFrequency', message: expect.stringMatching(/^must be one of "hourly", "daily"/) }]);
  });

  it('device: Device', () => {
    expect(issues('Device', { id: 'urn:ngsi-ld:Device:d', type: 'Device', dateInstalled: '2024-05-01T10:00:00' })).toEqual([
      { pointer: '/dateInstalled', message: 'must be a valid date-time' },
      { pointer: '/controlledProperty', message: 'is required' },
    ]);
  });

  it('environment: WeatherObserved, AirQualityObserved', () => {
    const base = { id: 'urn:ngsi-ld:AirQualityObserved:a', type: 'AirQualityObserved', dateObserved: '2024-05-01T10:00:00Z', location: { type: 'Point', coordinates: [9.85, 46.27] } };
    expect(issues('AirQualityObserved', { ...base, no2: -3, reliability: 2 })).toEqual(expect.arrayContaining([
      { pointer: '/no2', message: 'must be >= 0' },
      { pointer: '/reliability', message: 'must be <= 1' },
    ]));
    expect(issues('WeatherObserved', { ...base, type: 'WeatherObserved', id: 'urn:ngsi-ld:WeatherObserved:w', precipitation: 'lots' }))
      .toEqual([{ pointer: '/precipitation', message: 'must be number' }]);
    const { location: _l, ...nowhere } = base;
    expect(issues('AirQualityObserved', nowhere)).toEqual([{ pointer: '/location', message: 'is required' }]);
  });

  it('water: WaterQualityObserved', () => {
    expect(issues('WaterQualityObserved', {
      id: 'urn:ngsi-ld:WaterQualityObserved:q', type: 'WaterQualityObserved', dateObserved: '2024-05-01T10:00:00Z',
      location: { type: 'Point', coordinates: [9.85, 46.27] }, pH: 15,
    })).toEqual([{ pointer: '/pH', message: 'must be <= 14' }]);
  });

  it('mobility: ParkingSpot, EVChargingStation', () => {
    expect(issues('EVChargingStation', { id: 'urn:ngsi-ld:EVChargingStation:e', type: 'EVChargingStation', socketType: ['Type2'], capacity: 0, allowedVehicleType: ['car'] }))
      .toEqual([{ pointer: '/capacity', message: 'must be >= 1' }]);
    expect(issues('ParkingSpot', {
      id: 'urn:ngsi-ld:ParkingSpot:s', type: 'ParkingSpot', location: { type: 'Point', coordinates: [9.85, 46.27] },
      status: 'maybe', category: ['onStreet'], refParkingSite: 'urn:ngsi-ld:OffStreetParking:p',
    })).toEqual([{ pointer: '/status', message: 'must be one of "closed", "free", "occupied", "unknown"' }]);
  });

  it('energy: Streetlight', () => {
    expect(issues('Streetlight', {
      id: 'urn:ngsi-ld:Streetlight:l', type: 'Streetlight', location: { type: 'Point', coordinates: [9.85, 46.27] },
      status: 'ok', illuminanceLevel: 1.2, dateLastLampChange: '2024-02-30T00:00:00Z',
    })).toEqual(expect.arrayContaining([
      { pointer: '/illuminanceLevel', message: 'must be <= 1' },
      { pointer: '/dateLastLampChange', message: 'must be a valid date-time' },
    ]));
  });

  it('geometry: a location that is no GeoJSON geometry', () => {
    const errors = issues('Streetlight', { id: 'urn:ngsi-ld:Streetlight:l', type: 'Streetlight', status: 'ok', location: { type: 'Point', coordinates: 'here' } });
    expect(errors.map((e) => e.pointer)).toContain('/location/coordinates');
  });
});
