/**
 * keyValues ⇄ normalized NGSI-LD for the supported entity types (pure functions).
 *
 * keyValues → normalized:
 * - `id` is kept (it must be a URI), `type` must be the type asked for;
 * - Relationships (see sdm-types.ts) → {"type":"Relationship","object": URI or array of URIs};
 * - GeoProperties holding a GeoJSON geometry → {"type":"GeoProperty","value": geometry};
 * - temporal attributes → Property with a JSON-LD typed value {"@type":"DateTime","@value":…}
 *   (likewise Date, Time): how ETSI GS CIM 009 encodes temporal values, what the SDM normalized
 *   examples use, and what lets a broker compare them as dates rather than as strings;
 * - everything else → {"type":"Property","value":…}, with `observedAt` / `unitCode` when given;
 * - "@context": the type's subject context, plus contexts/smartland.jsonld when the item uses
 *   one of our extension attributes (the core context stays implicit).
 * Values are kept as given (no coercion): the schema validation before this decides what is valid;
 * null members are left out (NGSI-LD has no null attribute values).
 */
import { isUri } from '../ngsi-ld/entity/parse';
import { badRequestData } from '../ngsi-ld/errors';
import {
  SMARTLAND_CONTEXT_URL, SMARTLAND_EXTENSION_ATTRIBUTES, DEFINED_BY_SUBJECT, entityTypeSpec, isRelationship, type EntityTypeSpec,
} from './sdm-types';
import { isRecord } from '../ngsi-ld/json';

export interface ToNormalizedOptions {
  /** observedAt of every Property (typically the observation's dateObserved) */
  observedAt?: string;
  /** UN/CEFACT unit code per attribute, over the defaults of UNIT_CODES */
  unitCodes?: Record<string, string>;
}

type Json = Record<string, unknown>;

/**
 * UN/CEFACT Common Codes (Recommendation 20) for numeric attributes whose unit the Smart Data
 * Models fix: from the schemas' "Units:" descriptions, and for temperatures, sound levels and
 * pollutant concentrations from the specification texts (°C, dB(A), µg/m³). Attributes whose
 * unit the model leaves open get theirs from opts.unitCodes.
 */
export const UNIT_CODES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // our municipality facts: altitude in metres, area in square kilometres
  PublicOrganization: { altitude: 'MTR', surfaceArea: 'KMK' },
  WeatherObserved: {
    temperature: 'CEL', dewPoint: 'CEL', feelsLikeTemperature: 'CEL', atmosphericPressure: 'A97',
    snowHeight: 'CMT', streamGauge: 'CMT', illuminance: 'LUX', solarRadiation: 'D54',
  },
  AirQualityObserved: {
    temperature: 'CEL', atmosphericPressure: 'A97',
    no2: 'GQ', no: 'GQ', nox: 'GQ', o3: 'GQ', so2: 'GQ', pm10: 'GQ', pm25: 'GQ', pm1: 'GQ',
  },
  NoiseLevelObserved: { LAeq: '2N', LAmax: '2N', LAS: '2N', LAeq_d: '2N', distanceAverage: 'MTR', heightAverage: 'MTR' },
  WaterQualityObserved: { temperature: 'CEL', NO2: 'M1', fluoride: 'M1', sulphate: 'M1', flow: 'MQH' },
  WaterConsumptionObserved: { waterConsumption: 'MTQ' },
  EVChargingStation: { amperage: 'AMP', voltage: 'VLT' },
  ThreePhaseAcMeasurement: {
    frequency: 'HTZ', totalActivePower: 'WTT', activePower: 'WTT', totalApparentPower: 'D46', current: 'AMP',
    phaseVoltage: 'VLT', phaseToPhaseVoltage: 'VLT',
    activeEnergyImport: 'KWH', activeEnergyExport: 'KWH', totalActiveEnergyImport: 'KWH', totalActiveEnergyExport: 'KWH',
  },
  TrafficFlowObserved: { averageVehicleSpeed: 'KMH', averageVehicleLength: 'MTR', averageGapDistance: 'MTR', averageHeadwayTime: 'SEC' },
};

const GEOMETRY_TYPES = new Set(['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon']);
const isGeometry = (v: unknown): boolean =>
  isRecord(v) && typeof v.type === 'string' && GEOMETRY_TYPES.has(v.type) && Array.isArray(v.coordinates);

const pointer = (name: string): string => `/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** keyValues item → normalized NGSI-LD entity; 400 BadRequestData (with the member's pointer) when it cannot be. */
export function toNormalized(type: string, item: unknown, opts: ToNormalizedOptions = {}): Json {
  const spec = entityTypeSpec(type);
  if (!spec) throw badRequestData(`/type: unsupported entity type ${JSON.stringify(type)}`);
  if (!isRecord(item)) throw badRequestData('item must be a JSON object');
  if (typeof item.id !== 'string' || !isUri(item.id)) {
    throw badRequestData(`/id: must be a URI such as urn:ngsi-ld:${type}:<local id>, not ${JSON.stringify(item.id)}`);
  }
  if (item.type !== type) throw badRequestData(`/type: must be ${JSON.stringify(type)}, not ${JSON.stringify(item.type)}`);

  const units = { ...UNIT_CODES[type], ...opts.unitCodes };
  const entity: Json = { id: item.id, type };
  let extended = false;
  for (const [name, value] of Object.entries(item)) {
    if (name === 'id' || name === 'type' || name === '@context') continue;
    if (value === null || value === undefined) continue;
    if (SMARTLAND_EXTENSION_ATTRIBUTES.has(name) && DEFINED_BY_SUBJECT[name] !== spec.context) extended = true;
    entity[name] = attribute(spec, name, value, opts.observedAt, units[name]);
  }
  entity['@context'] = extended && spec.context !== SMARTLAND_CONTEXT_URL ? [spec.context, SMARTLAND_CONTEXT_URL] : [spec.context];
  return entity;
}

function attribute(spec: EntityTypeSpec, name: string, value: unknown, observedAt?: string, unitCode?: string): Json {
  if (isRelationship(spec, name)) {
    const targets = Array.isArray(value) ? value : [value];
    const bad = targets.find((t) => typeof t !== 'string' || !isUri(t));
    if (bad !== undefined || targets.length === 0) {
      throw badRequestData(`${pointer(name)}: a Relationship must point to entity ids (URIs), not ${JSON.stringify(bad ?? value)}`);
    }
    return { type: 'Relationship', object: value, ...(observedAt ? { observedAt } : {}) };
  }
  if (spec.geoProperties.includes(name) && isGeometry(value)) {
    return { type: 'GeoProperty', value, ...(observedAt ? { observedAt } : {}) };
  }
  const temporal = spec.temporal[name];
  return {
    type: 'Property',
    value: temporal && typeof value === 'string' ? { '@type': temporal, '@value': value } : value,
    ...(observedAt ? { observedAt } : {}),
    ...(unitCode && typeof value === 'number' ? { unitCode } : {}),
  };
}

/**
 * Normalized entity (as produced by toNormalized) → keyValues: each attribute reduced to its
 * value / object, typed temporal values back to their strings; "@context", metadata
 * (observedAt, unitCode, …) and sub-attributes dropped, as keyValues has no place for them.
 */
export function toKeyValues(normalized: Json): Json {
  const item: Json = {};
  for (const [name, attr] of Object.entries(normalized)) {
    if (name === '@context') continue;
    item[name] = name === 'id' || name === 'type' || !isRecord(attr) ? attr : attr.type === 'Relationship' ? attr.object : untyped(attr.value);
  }
  return item;
}

/** {"@type":"DateTime","@value":"…"} → "…"; any other value as is. */
function untyped(value: unknown): unknown {
  return isRecord(value) && typeof value['@type'] === 'string' && '@value' in value ? value['@value'] : value;
}
