/**
 * Device provisioning as FIWARE IoT agents do it (pure functions, no I/O):
 *
 * - a contractor registers a device once: its local id, the Smart Data Models type of the
 *   observations it produces, where it is (location, municipality), what it belongs to (thematic
 *   corridor, project) and how its compact measurement keys map to attributes of that type
 *   (attribute name, UN/CEFACT unit code, optional scale/offset and bounds);
 * - the registration becomes a `Device` entity (SDM dataModel.Device) with Relationships to the
 *   municipality, corridor and project;
 * - a compact measurement `{deviceId, observedAt, values}` becomes a keyValues item of the
 *   registered type (scaled values, `refDevice`, `location`, the type's observation-time
 *   attribute), plus what the normalized form needs besides (observedAt, unit codes).
 *
 * Entity ids (the device's local id is the `<local id>` of both):
 * - `urn:ngsi-ld:Device:<deviceId>` for the device;
 * - `urn:ngsi-ld:<observedType>:<deviceId>` for its observations: ONE entity per device, updated
 *   in place by every measurement (mode 'update', the newest observation of a request last), so
 *   that the current state is one entity per sensor as integrators expect and the history of
 *   each attribute (by its observedAt) is the temporal API's business, not a pile of entities.
 *   A device re-registered with another observedType starts a new entity; the old one stays.
 *
 * Values: stored = raw × scale + offset (in the attribute's unit). Checks, each reported with a
 * JSON pointer into the measurement: unknown device (/deviceId), bad or future observedAt
 * (/observedAt), unknown key (/values/<key>), a value of the wrong JSON type, a unit given with
 * the value that is not the registered one (/values/<key>/unitCode), a value outside the
 * registered bounds, the default plausible range of the attribute (PLAUSIBLE_RANGES) or the
 * Smart Data Models schema (e.g. relativeHumidity 0..1).
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { UNIT_CODES } from '../domain/keyvalues-to-normalized';
import { validateKeyValues } from '../domain/sdm-validator';
import type { ToNormalizedOptions } from '../domain/keyvalues-to-normalized';
import type { IngestIssue } from './types';
import { isRecord } from '../ngsi-ld/json';

// --- observed types -------------------------------------------------------------------------------

export interface ObservedTypeSpec {
  /** attributes set to the observation time (the type's own "when observed" members) */
  readonly timeAttributes: readonly string[];
  /** whether the type's schema wants refDevice as an array of ids */
  readonly refDeviceArray: boolean;
  /** Device.controlledProperty when the registration gives none and no attribute maps to one */
  readonly controlledProperty: string;
}

/** The types a device may produce (DESIGN.md "Domain mapping": sensors and observations). */
export const OBSERVED_TYPES: Readonly<Record<string, ObservedTypeSpec>> = {
  WeatherObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'weatherConditions' },
  AirQualityObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'airPollution' },
  // a measurement is an instant: the observation interval collapses to it
  NoiseLevelObserved: { timeAttributes: ['dateObservedFrom', 'dateObservedTo'], refDeviceArray: false, controlledProperty: 'noiseLevel' },
  WaterQualityObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'waterPollution' },
  WaterObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'waterLevel' },
  // no observation-time member in these models: observedAt (metadata) carries the time
  WaterConsumptionObserved: { timeAttributes: [], refDeviceArray: false, controlledProperty: 'waterConsumption' },
  ThreePhaseAcMeasurement: { timeAttributes: [], refDeviceArray: true, controlledProperty: 'electricityConsumption' },
  TrafficFlowObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'trafficFlow' },
  ItemFlowObserved: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'trafficFlow' },
  OffStreetParking: { timeAttributes: ['observationDateTime'], refDeviceArray: false, controlledProperty: 'occupancy' },
  ParkingSpot: { timeAttributes: ['timeInstant'], refDeviceArray: true, controlledProperty: 'occupancy' },
  Streetlight: { timeAttributes: ['observationDateTime'], refDeviceArray: true, controlledProperty: 'light' },
  // generic: one measured value per device (numValue / textValue), its name in controlledProperty
  DeviceMeasurement: { timeAttributes: ['dateObserved'], refDeviceArray: false, controlledProperty: 'energy' },
};

export const OBSERVED_TYPE_NAMES: readonly string[] = Object.keys(OBSERVED_TYPES);

/** Attribute name → SDM Device controlledProperty value (the Device schema's enum). */
const CONTROLLED_PROPERTY: Readonly<Record<string, string>> = {
  temperature: 'temperature', dewPoint: 'temperature', feelsLikeTemperature: 'temperature',
  relativeHumidity: 'humidity', atmosphericPressure: 'atmosphericPressure', pressure: 'pressure',
  precipitation: 'precipitation', solarRadiation: 'solarRadiation', illuminance: 'light',
  windSpeed: 'windSpeed', windDirection: 'windDirection', snowHeight: 'depth', streamGauge: 'waterLevel',
  no2: 'airPollution', no: 'airPollution', nox: 'airPollution', o3: 'airPollution', so2: 'airPollution', co: 'airPollution',
  co2: 'airPollution', pm1: 'airPollution', pm10: 'airPollution', pm25: 'airPollution', c6h6: 'airPollution',
  LAeq: 'noiseLevel', LAmax: 'noiseLevel', LAS: 'noiseLevel', LAeq_d: 'noiseLevel',
  pH: 'pH', conductivity: 'conductivity', conductance: 'conductance', turbidity: 'turbidity', salinity: 'salinity',
  tds: 'tds', tss: 'tss', orp: 'orp', O2: 'waterPollution',
  waterLevel: 'waterLevel', height: 'waterLevel', flow: 'waterFlow', waterDischarge: 'waterFlow',
  waterConsumption: 'waterConsumption',
  intensity: 'trafficFlow', averageVehicleSpeed: 'speed', averageSpeed: 'speed', occupancy: 'occupancy',
  availableSpotNumber: 'occupancy', occupiedSpotNumber: 'occupancy', status: 'occupancy',
  totalActivePower: 'power', activePower: 'power', totalApparentPower: 'power', powerConsumption: 'power',
  totalActiveEnergyImport: 'electricityConsumption', totalActiveEnergyExport: 'energy', activeEnergyImport: 'electricityConsumption',
  frequency: 'electricityConsumption', current: 'electricityConsumption', voltage: 'electricityConsumption',
  illuminanceLevel: 'light',
};

/**
 * Physically plausible values (in the SDM unit) for attributes whose schema has no bound or only
 * a loose one; a registration's own minimum/maximum replace these.
 */
export const PLAUSIBLE_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  temperature: [-90, 70], dewPoint: [-90, 70], feelsLikeTemperature: [-100, 80],
  atmosphericPressure: [300, 1100], windSpeed: [0, 120], windDirection: [-180, 360], precipitation: [0, 1000],
  LAeq: [0, 200], LAmax: [0, 200], LAS: [0, 200], LAeq_d: [0, 200],
  averageVehicleSpeed: [0, 400], averageSpeed: [0, 400],
  frequency: [0, 1000],
};

// --- registration -----------------------------------------------------------------------------------

export type ValueType = 'number' | 'integer' | 'boolean' | 'string';

export interface AttributeMapping {
  /** member of a measurement's `values` (an IoT agent's object_id) */
  key: string;
  /** attribute of the observed type */
  name: string;
  /** JSON type of the stored value; default number */
  type?: ValueType;
  /** UN/CEFACT Rec. 20 code of the stored (scaled) value; required to match where the SDM fixes the unit */
  unitCode?: string;
  /** stored = raw × scale + offset */
  scale?: number;
  offset?: number;
  /** bounds of the stored value (after scale/offset) */
  minimum?: number;
  maximum?: number;
  /** allowed values of a string attribute */
  enum?: string[];
}

export interface GeoPoint {
  type: 'Point';
  coordinates: [number, number] | [number, number, number];
}

export interface DeviceRegistration {
  deviceId: string;
  observedType: string;
  name?: string;
  description?: string;
  /** SDM Device deviceCategory; default ['sensor'] */
  category?: string[];
  /** SDM Device controlledProperty; default derived from the attribute names */
  controlledProperty?: string[];
  location: GeoPoint;
  /** PublicOrganization id, or the municipality's 6-digit ISTAT code */
  municipality?: string;
  /** ThematicCorridor id */
  corridor?: string;
  /** Project id */
  project?: string;
  refDeviceModel?: string;
  serialNumber?: string;
  provider?: string;
  dateInstalled?: string;
  attributes: AttributeMapping[];
  /** attributes copied into every observation (an IoT agent's static_attributes), e.g. laneId */
  staticAttributes?: Record<string, unknown>;
}

const LOCAL_ID = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const URI = '^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$';
const ATTR_NAME = '^[A-Za-z_][A-Za-z0-9_-]{0,127}$';
export const UNIT_CODE = '^[A-Z0-9]{2,3}$';
const finite = { type: 'number', minimum: -1e15, maximum: 1e15 } as const;

/** JSON Schema (draft-07) of the registration body (POST /devices, PUT /devices/:deviceId). */
export const REGISTRATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['deviceId', 'observedType', 'location', 'attributes'],
  properties: {
    deviceId: { type: 'string', pattern: LOCAL_ID, description: 'local id: urn:ngsi-ld:Device:<deviceId>' },
    observedType: { type: 'string', enum: OBSERVED_TYPE_NAMES },
    name: { type: 'string', minLength: 1, maxLength: 256 },
    description: { type: 'string', maxLength: 4096 },
    category: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', maxLength: 64 } },
    controlledProperty: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { type: 'string', maxLength: 64 } },
    location: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'coordinates'],
      properties: {
        type: { const: 'Point' },
        // [longitude, latitude(, altitude)]; the bounds are checked by checkRegistration
        coordinates: { type: 'array', minItems: 2, maxItems: 3, items: { type: 'number' } },
      },
    },
    municipality: { type: 'string', maxLength: 1024, anyOf: [{ type: 'string', pattern: '^[0-9]{6}$' }, { type: 'string', pattern: URI }] },
    corridor: { type: 'string', maxLength: 1024, pattern: URI },
    project: { type: 'string', maxLength: 1024, pattern: URI },
    refDeviceModel: { type: 'string', maxLength: 1024, pattern: URI },
    serialNumber: { type: 'string', maxLength: 256 },
    provider: { type: 'string', maxLength: 256 },
    dateInstalled: { type: 'string', format: 'date-time' },
    attributes: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'name'],
        properties: {
          key: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^/~]+$' },
          name: { type: 'string', pattern: ATTR_NAME },
          type: { enum: ['number', 'integer', 'boolean', 'string'] },
          unitCode: { type: 'string', pattern: UNIT_CODE },
          scale: { ...finite, not: { const: 0 } },
          offset: finite,
          minimum: finite,
          maximum: finite,
          enum: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { type: 'string', maxLength: 256 } },
        },
      },
    },
    staticAttributes: {
      type: 'object',
      maxProperties: 32,
      propertyNames: { pattern: ATTR_NAME },
    },
  },
} as const;

/**
 * The service's Fastify instance coerces types (querystring needs); registrations are validated
 * strictly with this one: no coercion, all errors, full date/date-time checks (Feb 30 is refused).
 */
export const strictAjv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
addFormats(strictAjv);

const validateRegistrationSchema = strictAjv.compile(REGISTRATION_SCHEMA);

const escapeToken = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
export const pointerTo = (...tokens: (string | number)[]): string => tokens.map((t) => '/' + escapeToken(String(t))).join('');

/** ajv errors → pointer + reason, the summary of anyOf left out when a branch said more. */
export function ajvIssues(errors: readonly ErrorObject[] | null | undefined): IngestIssue[] {
  const out = new Map<string, IngestIssue>();
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue;
    const p = e.params as Record<string, unknown>;
    const member = p.missingProperty ?? p.additionalProperty;
    const pointer = (member === undefined ? e.instancePath : `${e.instancePath}/${escapeToken(String(member))}`) || '/';
    const reason =
      e.keyword === 'required' ? 'is required'
        : e.keyword === 'additionalProperties' ? 'is not a member of this object'
          : e.keyword === 'enum' ? `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
            : e.keyword === 'format' ? `must be a valid ${String(p.format)}`
              : e.message ?? `fails ${e.keyword}`;
    out.set(`${pointer}\u0000${reason}`, { pointer, reason });
  }
  return [...out.values()];
}

export const deviceEntityId = (deviceId: string): string => `urn:ngsi-ld:Device:${deviceId}`;
export const observedEntityId = (observedType: string, deviceId: string): string => `urn:ngsi-ld:${observedType}:${deviceId}`;
export const municipalityId = (m: string): string => (/^[0-9]{6}$/.test(m) ? `urn:ngsi-ld:PublicOrganization:IT-ISTAT-${m}` : m);

/** members of an observed item that a mapping or a static attribute may not set */
function reservedNames(spec: ObservedTypeSpec): Set<string> {
  return new Set(['id', 'type', '@context', 'location', 'refDevice', ...spec.timeAttributes]);
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: IngestIssue[] };

/**
 * Validates a registration body: its JSON Schema, then what a schema cannot say (unique keys and
 * names, units the Smart Data Models fix, bounds in order, the Device and static attributes
 * valid for their SDM schemas). `pathDeviceId`: PUT's path parameter, which the body must match.
 */
export function checkRegistration(body: unknown, pathDeviceId?: string): Checked<DeviceRegistration> {
  if (pathDeviceId !== undefined && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (b.deviceId === undefined) body = { ...b, deviceId: pathDeviceId };
    else if (b.deviceId !== pathDeviceId) {
      return { ok: false, errors: [{ pointer: '/deviceId', reason: `must be the device id of the URL (${JSON.stringify(pathDeviceId)})` }] };
    }
  }
  if (!validateRegistrationSchema(body)) return { ok: false, errors: ajvIssues(validateRegistrationSchema.errors) };
  const reg = structuredClone(body) as DeviceRegistration;
  const spec = OBSERVED_TYPES[reg.observedType];
  const errors: IngestIssue[] = [];
  const [lon, lat] = reg.location.coordinates;
  if (lon < -180 || lon > 180) errors.push({ pointer: '/location/coordinates/0', reason: 'longitude must be within [-180, 180]' });
  if (lat < -90 || lat > 90) errors.push({ pointer: '/location/coordinates/1', reason: 'latitude must be within [-90, 90]' });
  const reserved = reservedNames(spec);
  const keys = new Set<string>();
  const names = new Set<string>();
  const fixedUnits = UNIT_CODES[reg.observedType] ?? {};
  for (const [i, m] of reg.attributes.entries()) {
    const at = (member: string) => pointerTo('attributes', i, member);
    if (keys.has(m.key)) errors.push({ pointer: at('key'), reason: `the key ${JSON.stringify(m.key)} is mapped twice` });
    keys.add(m.key);
    if (names.has(m.name)) errors.push({ pointer: at('name'), reason: `the attribute ${JSON.stringify(m.name)} is mapped twice` });
    names.add(m.name);
    if (reserved.has(m.name)) errors.push({ pointer: at('name'), reason: `${m.name} is set by the service, not by measurements` });
    const type = m.type ?? 'number';
    const numeric = type === 'number' || type === 'integer';
    for (const k of ['unitCode', 'scale', 'offset', 'minimum', 'maximum'] as const) {
      if (!numeric && m[k] !== undefined) errors.push({ pointer: at(k), reason: `only numeric attributes take ${k}` });
    }
    if (m.enum !== undefined && type !== 'string') errors.push({ pointer: at('enum'), reason: 'only string attributes take enum' });
    const fixed = fixedUnits[m.name];
    if (numeric && fixed !== undefined) {
      if (m.unitCode !== undefined && m.unitCode !== fixed) {
        errors.push({
          pointer: at('unitCode'),
          reason: `wrong unit: ${reg.observedType} ${m.name} is in ${fixed} (UN/CEFACT); convert with scale/offset`,
        });
      }
    }
    if (m.minimum !== undefined && m.maximum !== undefined && m.minimum > m.maximum) {
      errors.push({ pointer: at('minimum'), reason: 'must not be greater than maximum' });
    }
  }
  if (reg.observedType === 'DeviceMeasurement' && reg.attributes.length !== 1) {
    errors.push({ pointer: '/attributes', reason: 'a DeviceMeasurement device maps exactly one attribute (its controlledProperty)' });
  }
  for (const name of Object.keys(reg.staticAttributes ?? {})) {
    if (reserved.has(name)) errors.push({ pointer: pointerTo('staticAttributes', name), reason: `${name} is set by the service` });
    if (names.has(name)) errors.push({ pointer: pointerTo('staticAttributes', name), reason: `${name} is also a mapped attribute` });
  }
  if (errors.length) return { ok: false, errors };

  // the Device entity and the static attributes must be valid for their Smart Data Models
  const device = registrationToDevice(reg);
  const deviceCheck = validateKeyValues('Device', device);
  if (!deviceCheck.ok) {
    for (const e of deviceCheck.errors) errors.push({ pointer: deviceMemberPointer(e.pointer), reason: e.message });
  }
  if (reg.staticAttributes && reg.observedType !== 'DeviceMeasurement') {
    const probe = { id: observedEntityId(reg.observedType, reg.deviceId), type: reg.observedType, ...reg.staticAttributes };
    const check = validateKeyValues(reg.observedType, probe);
    if (!check.ok) {
      for (const e of check.errors) {
        const top = e.pointer.split('/')[1];
        if (top !== undefined && top in reg.staticAttributes) errors.push({ pointer: `/staticAttributes${e.pointer}`, reason: e.message });
      }
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: reg };
}

/** A pointer into the Device item → the registration member it came from. */
function deviceMemberPointer(p: string): string {
  const [, top, ...rest] = p.split('/');
  const from: Record<string, string> = {
    deviceCategory: 'category', refMunicipality: 'municipality', refThematicCorridor: 'corridor', refProject: 'project',
  };
  return top === undefined ? '/' : ['', from[top] ?? top, ...rest].join('/');
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** Device.controlledProperty: the registration's, or derived from the mapped attributes. */
export function controlledProperties(reg: DeviceRegistration): string[] {
  if (reg.controlledProperty?.length) return reg.controlledProperty;
  const derived = unique(reg.attributes.map((m) => CONTROLLED_PROPERTY[m.name]).filter((p): p is string => p !== undefined));
  return derived.length ? derived : [OBSERVED_TYPES[reg.observedType].controlledProperty];
}

/**
 * The SDM `Device` keyValues item of a registration. Links: refMunicipality, refThematicCorridor
 * (our extension attributes, contexts/smartland.jsonld) and refProject (the SDG term; not yet in
 * smartland.jsonld, see the report), refDeviceModel (SDM Device).
 */
export function registrationToDevice(reg: DeviceRegistration): Record<string, unknown> {
  const item: Record<string, unknown> = {
    id: deviceEntityId(reg.deviceId),
    type: 'Device',
    deviceCategory: reg.category ?? ['sensor'],
    controlledProperty: controlledProperties(reg),
    location: reg.location,
  };
  if (reg.name !== undefined) item.name = reg.name;
  if (reg.description !== undefined) item.description = reg.description;
  if (reg.serialNumber !== undefined) item.serialNumber = reg.serialNumber;
  if (reg.provider !== undefined) item.provider = reg.provider;
  if (reg.dateInstalled !== undefined) item.dateInstalled = reg.dateInstalled;
  if (reg.refDeviceModel !== undefined) item.refDeviceModel = reg.refDeviceModel;
  if (reg.municipality !== undefined) item.refMunicipality = municipalityId(reg.municipality);
  if (reg.corridor !== undefined) item.refThematicCorridor = reg.corridor;
  if (reg.project !== undefined) item.refProject = reg.project;
  return item;
}

// --- measurements -----------------------------------------------------------------------------------

export interface Measurement {
  deviceId: string;
  observedAt: string;
  values: Record<string, unknown>;
}

/** A measurement mapped: the keyValues item to ingest and what its normalized form needs besides. */
export interface MappedObservation {
  type: string;
  item: Record<string, unknown>;
  /** toNormalized options: observedAt of every attribute, the registered unit codes */
  normalize: Required<ToNormalizedOptions>;
  /** attribute name → the pointer of the measurement member it came from (for later errors) */
  sources: Record<string, string>;
}

/** How far in the future an observation time may be (clock skew between devices and us). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * An RFC 3339 date-time with a time zone, a real calendar date (no Feb 30, no hour 24), not
 * before 1970 and not in the future beyond MAX_FUTURE_SKEW_MS → its ISO form in UTC; else why not.
 */
export function checkObservedAt(value: unknown, now: number): { ok: true; iso: string } | { ok: false; reason: string } {
  if (typeof value !== 'string') return { ok: false, reason: 'must be a date-time string such as 2024-05-01T10:00:00Z' };
  const m = DATE_TIME.exec(value);
  if (!m) return { ok: false, reason: 'must be an RFC 3339 date-time with a time zone, such as 2024-05-01T10:00:00Z' };
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `${value} is not a real date and time` };
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) return { ok: false, reason: `${value} is not a real date and time` };
  if (t < 0) return { ok: false, reason: 'must not be before 1970' };
  if (t > now + MAX_FUTURE_SKEW_MS) return { ok: false, reason: `is in the future (${value}); device clocks must be in sync` };
  return { ok: true, iso: new Date(t).toISOString() };
}

/** 12 significant digits: 215 × 0.1 is 21.5, not 21.500000000000004 */
const tidy = (x: number): number => Number(x.toPrecision(12));

/** The stored value of one measurement member, or why it cannot be. */
function storedValue(
  reg: DeviceRegistration,
  m: AttributeMapping,
  given: unknown,
  at: string,
): { ok: true; value: unknown } | { ok: false; errors: IngestIssue[] } {
  let raw = given;
  if (isRecord(given)) {
    const extra = Object.keys(given).filter((k) => k !== 'value' && k !== 'unitCode');
    if (!('value' in given) || extra.length) {
      return { ok: false, errors: [{ pointer: at, reason: 'must be a value or {"value": …, "unitCode": …}' }] };
    }
    raw = given.value;
    if (given.unitCode !== undefined) {
      const unit = m.unitCode ?? UNIT_CODES[reg.observedType]?.[m.name];
      if (typeof given.unitCode !== 'string' || given.unitCode !== unit) {
        return {
          ok: false,
          errors: [{
            pointer: `${at}/unitCode`,
            reason: unit
              ? `wrong unit: ${JSON.stringify(given.unitCode)}; device ${reg.deviceId} sends ${m.key} in ${unit}`
              : `wrong unit: ${JSON.stringify(given.unitCode)}; no unit is registered for ${m.key}`,
          }],
        };
      }
    }
    at = `${at}/value`;
  }
  const type = m.type ?? 'number';
  if (type === 'boolean') {
    return typeof raw === 'boolean' ? { ok: true, value: raw } : { ok: false, errors: [{ pointer: at, reason: 'must be true or false' }] };
  }
  if (type === 'string') {
    if (typeof raw !== 'string') return { ok: false, errors: [{ pointer: at, reason: 'must be a string' }] };
    if (m.enum && !m.enum.includes(raw)) {
      return { ok: false, errors: [{ pointer: at, reason: `must be one of ${m.enum.map((v) => JSON.stringify(v)).join(', ')}` }] };
    }
    return { ok: true, value: raw };
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    return { ok: false, errors: [{ pointer: at, reason: `must be a number, not ${JSON.stringify(raw)?.slice(0, 100)}` }] };
  }
  const value = tidy(raw * (m.scale ?? 1) + (m.offset ?? 0));
  if (type === 'integer' && !Number.isInteger(value)) {
    return { ok: false, errors: [{ pointer: at, reason: `must be an integer (after scale/offset: ${value})` }] };
  }
  const [min, max] = m.minimum !== undefined || m.maximum !== undefined
    ? [m.minimum ?? -Infinity, m.maximum ?? Infinity]
    : (PLAUSIBLE_RANGES[m.name] ?? [-Infinity, Infinity]);
  if (value < min || value > max) {
    const unit = m.unitCode ?? UNIT_CODES[reg.observedType]?.[m.name];
    const scaled = value !== raw ? ` (${raw} scaled)` : '';
    return {
      ok: false,
      errors: [{ pointer: at, reason: `out of range: ${value}${scaled} is not within [${min}, ${max}]${unit ? ` ${unit}` : ''}` }],
    };
  }
  return { ok: true, value };
}

/**
 * One measurement of a registered device → the keyValues item of its observed type, checked
 * against the type's Smart Data Models schema too (errors pointed back at /values/<key>).
 * `reg` undefined: the device is not registered (in this tenant).
 */
export function mapMeasurement(
  reg: DeviceRegistration | undefined,
  measurement: unknown,
  now: number = Date.now(),
): Checked<MappedObservation> {
  if (!isRecord(measurement)) return { ok: false, errors: [{ pointer: '/', reason: 'a measurement must be a JSON object {deviceId, observedAt, values}' }] };
  const errors: IngestIssue[] = [];
  for (const k of Object.keys(measurement)) {
    if (k !== 'deviceId' && k !== 'observedAt' && k !== 'values') errors.push({ pointer: pointerTo(k), reason: 'is not a member of a measurement' });
  }
  const { deviceId, observedAt, values } = measurement;
  if (typeof deviceId !== 'string' || deviceId === '') errors.push({ pointer: '/deviceId', reason: 'is required (the registered device id)' });
  else if (!reg) errors.push({ pointer: '/deviceId', reason: `unknown device ${JSON.stringify(deviceId.slice(0, 200))}: register it first (POST /api/v1/devices)` });
  const when = checkObservedAt(observedAt, now);
  if (!when.ok) errors.push({ pointer: '/observedAt', reason: observedAt === undefined ? 'is required' : when.reason });
  if (!isRecord(values) || Object.keys(values).length === 0) {
    errors.push({ pointer: '/values', reason: 'must be an object with at least one value' });
  }
  if (errors.length || !reg || !when.ok || !isRecord(values)) return { ok: false, errors };

  const spec = OBSERVED_TYPES[reg.observedType];
  const mappings = new Map(reg.attributes.map((m) => [m.key, m]));
  const item: Record<string, unknown> = {
    id: observedEntityId(reg.observedType, reg.deviceId),
    type: reg.observedType,
    ...reg.staticAttributes,
  };
  const unitCodes: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const [key, given] of Object.entries(values)) {
    const at = pointerTo('values', key);
    const m = mappings.get(key);
    if (!m) {
      errors.push({ pointer: at, reason: `device ${reg.deviceId} has no attribute mapped to ${JSON.stringify(key)} (mapped: ${[...mappings.keys()].join(', ')})` });
      continue;
    }
    const stored = storedValue(reg, m, given, at);
    if (!stored.ok) {
      errors.push(...stored.errors);
      continue;
    }
    const unit = m.unitCode ?? UNIT_CODES[reg.observedType]?.[m.name];
    if (reg.observedType === 'DeviceMeasurement') {
      item[typeof stored.value === 'number' ? 'numValue' : 'textValue'] = typeof stored.value === 'boolean' ? String(stored.value) : stored.value;
      item.controlledProperty = m.name;
      if (unit) item.unit = unit;
      if (unit && typeof stored.value === 'number') unitCodes.numValue = unit;
      sources.numValue = sources.textValue = sources.controlledProperty = at;
    } else {
      item[m.name] = stored.value;
      if (unit) unitCodes[m.name] = unit;
      sources[m.name] = at;
    }
  }
  if (errors.length) return { ok: false, errors };

  for (const t of spec.timeAttributes) item[t] = when.iso;
  item.location = reg.location;
  const device = deviceEntityId(reg.deviceId);
  item.refDevice = spec.refDeviceArray ? [device] : device;

  const check = validateKeyValues(reg.observedType, item);
  if (!check.ok) {
    return {
      ok: false,
      errors: check.errors.map((e) => {
        const [, top, ...rest] = e.pointer.split('/');
        const src = top !== undefined ? sources[top] : undefined;
        if (src) return { pointer: [src, ...rest].join('/'), reason: e.message };
        if (top !== undefined && reg.staticAttributes && top in reg.staticAttributes) return { pointer: '/', reason: `static attribute ${e.pointer}: ${e.message}` };
        return { pointer: '/', reason: `${e.pointer || 'the observation'}: ${e.message}` };
      }),
    };
  }
  return { ok: true, value: { type: reg.observedType, item, normalize: { observedAt: when.iso, unitCodes }, sources } };
}
