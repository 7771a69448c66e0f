/**
 * The entity types the contractor API accepts and the seeds produce (DESIGN.md, "Domain mapping
 * (MIM2)"): for each, the @context it is published with, the JSON Schema of its keyValues form,
 * and which attributes are not plain Properties.
 *
 * Attribute kinds follow the Smart Data Models schemas' own descriptions ("Relationship. …",
 * "GeoProperty. …", format date-time/date/time), checked against the schemas by
 * test/unit/domain-mapping.test.ts. Deliberate departures are noted per type. On top of the
 * lists, every attribute named ref<Upper>… is a Relationship (the SDM naming convention; it also
 * covers our extension links such as refThematicCorridor on SDM types).
 */

/** Namespace of our own vocabulary (RFC 2606 reserved domain until the project owns one). */
export const SMARTLAND_NS = 'https://smartland.example/ns#';
/** Canonical URL of contexts/smartland.jsonld (to be answered from the bundled file, like SDM contexts). */
export const SMARTLAND_CONTEXT_URL = 'https://smartland.example/contexts/smartland.jsonld';
/** $id prefix of our own JSON Schemas in schemas/smartland/. */
export const SMARTLAND_SCHEMA_BASE = 'https://smartland.example/schemas/';

const sdmContext = (subject: string): string => `https://smart-data-models.github.io/dataModel.${subject}/context.jsonld`;

export type TemporalType = 'DateTime' | 'Date' | 'Time';

export type Family =
  | 'programme' | 'organisation' | 'project' | 'device' | 'environment' | 'water' | 'mobility' | 'energy';

export interface EntityTypeSpec {
  readonly type: string;
  readonly family: Family;
  /** 'sdm': vendored under schemas/smart-data-models/<type>/; 'smartland': our extension, schemas/smartland/ */
  readonly origin: 'sdm' | 'smartland';
  /** the @context the normalized entity carries (the core context stays implicit) */
  readonly context: string;
  /** `$id` of the JSON Schema describing the keyValues form */
  readonly schemaId: string;
  /** Relationships besides the ref<Upper>… convention */
  readonly relationships: readonly string[];
  readonly geoProperties: readonly string[];
  /** attributes whose string values are NGSI-LD typed temporal values */
  readonly temporal: Readonly<Record<string, TemporalType>>;
}

/** dateCreated/dateModified from the SDM common schema (GSMA-Commons) */
const COMMON_DATES = { dateCreated: 'DateTime', dateModified: 'DateTime' } as const;
const LOCATION = ['location'] as const;

const sdm = (
  type: string,
  family: Family,
  subject: string,
  schemaId: string,
  extra: { relationships?: string[]; geo?: string[]; temporal?: Record<string, TemporalType> } = {},
): EntityTypeSpec => ({
  type,
  family,
  origin: 'sdm',
  context: sdmContext(subject),
  schemaId,
  relationships: extra.relationships ?? [],
  geoProperties: extra.geo ?? LOCATION,
  temporal: { ...COMMON_DATES, ...extra.temporal },
});

const own = (type: string): EntityTypeSpec => ({
  type,
  family: 'programme',
  origin: 'smartland',
  context: SMARTLAND_CONTEXT_URL,
  schemaId: `${SMARTLAND_SCHEMA_BASE}${type}/schema.json`,
  relationships: [],
  geoProperties: LOCATION,
  temporal: { ...COMMON_DATES, startDate: 'Date', endDate: 'Date' },
});

const SDM = 'https://smart-data-models.github.io/';

const SPECS: readonly EntityTypeSpec[] = [
  own('TerritorialProgramme'),
  own('ThematicCorridor'),
  sdm('PublicOrganization', 'organisation', 'CPSV-AP', `${SDM}dataModel.CPSV-AP/PublicOrganization/schema.json`),
  sdm('Project', 'project', 'SDG', `${SDM}dataModel.SDG/Project/schema.json`),
  sdm('Action', 'project', 'SDG', `${SDM}dataModel.SDG/Action/schema.json`),
  sdm('Indicator', 'project', 'SDG', `${SDM}dataModel.SDG/Indicator/schema.json`),
  sdm('KeyPerformanceIndicator', 'project', 'KeyPerformanceIndicator',
    `${SDM}dataModel.KeyPerformanceIndicator/keyPerformanceIndicator/schema.json`, {
      temporal: { effectiveSince: 'DateTime', dateNextCalculation: 'Date', dateExpires: 'DateTime', updatedAt: 'DateTime' },
    }),
  sdm('Device', 'device', 'Device', `${SDM}dataModel.Device/Device/schema.json`, {
    temporal: {
      dateInstalled: 'DateTime', dateFirstUsed: 'DateTime', dateManufactured: 'DateTime', dateLastCalibration: 'DateTime',
      dateLastValueReported: 'DateTime', dateObserved: 'DateTime',
    },
  }),
  sdm('DeviceMeasurement', 'device', 'Device', `${SDM}dataModel.Device/DeviceMeasurement/schema.json`, {
    temporal: { dateObserved: 'DateTime' },
  }),
  sdm('AirQualityObserved', 'environment', 'Environment', `${SDM}dataModel.Environment/AirQualityObserved/schema.json`, {
    temporal: { dateObserved: 'DateTime' },
  }),
  sdm('WeatherObserved', 'environment', 'Weather', `${SDM}dataModel.Weather/WeatherObserved/schema.json`, {
    temporal: { dateObserved: 'DateTime' },
  }),
  // dateObserved has no format here (an ISO 8601 interval is allowed): it stays a plain string.
  sdm('NoiseLevelObserved', 'environment', 'Environment', `${SDM}dataModel.Environment/NoiseLevelObserved/schema.json`, {
    temporal: { dateObservedFrom: 'DateTime', dateObservedTo: 'DateTime' },
  }),
  sdm('WaterQualityObserved', 'water', 'WaterQuality', `${SDM}dataModel.WaterQuality/WaterQualityObserved/schema.json`),
  sdm('WaterObserved', 'water', 'Environment', `${SDM}dataModel.Environment/WaterObserved/schema.json`, {
    temporal: { dateObserved: 'DateTime', dateObservedFrom: 'DateTime', dateObservedTo: 'DateTime' },
  }),
  // The schema's $id spells the subject "Waterconsumption"; the published context is dataModel.WaterConsumption.
  sdm('WaterConsumptionObserved', 'water', 'WaterConsumption',
    `${SDM}dataModel.Waterconsumption/WaterconsumptionObserved/schema.json`),
  sdm('Pipe', 'water', 'WaterDistributionManagementEPANET',
    `${SDM}dataModel.WaterDistributionManagementEPANET/Pipe/schema.json`, {
      relationships: ['startsAt', 'endsAt'],
      geo: ['location', 'vertices'],
    }),
  sdm('Tank', 'water', 'WaterDistributionManagementEPANET',
    `${SDM}dataModel.WaterDistributionManagementEPANET/Tank/schema.json`, {
      relationships: ['volumeCurve', 'hasInlet', 'hasOutlet'],
    }),
  sdm('TrafficFlowObserved', 'mobility', 'Transportation', `${SDM}dataModel.Transportation/TrafficFlowObserved/schema.json`, {
    temporal: { dateObservedFrom: 'DateTime', dateObservedTo: 'DateTime' },
  }),
  // The schema's $id still carries the old data-models/Transportation path; the context is dataModel.Transportation.
  sdm('ItemFlowObserved', 'mobility', 'Transportation', `${SDM}data-models/Transportation/ItemFlowObserved/schema.json`, {
    temporal: { dateObserved: 'DateTime', dateObservedFrom: 'DateTime', dateObservedTo: 'DateTime' },
  }),
  sdm('ParkingSpot', 'mobility', 'Parking', `${SDM}dataModel.Parking/ParkingSpot/schema.json`, {
    temporal: { timeInstant: 'DateTime' },
  }),
  sdm('OffStreetParking', 'mobility', 'Parking', `${SDM}dataModel.Parking/OffStreetParking/schema.json`, {
    temporal: { occupancyModified: 'DateTime', observationDateTime: 'DateTime' },
  }),
  sdm('BikeHireDockingStation', 'mobility', 'Transportation',
    `${SDM}dataModel.Transportation/BikeHireDockingStation/schema.json`, {
      temporal: { observationDateTime: 'DateTime' },
    }),
  // dataDescriptor ("Relationship", format uri) links a descriptor document, not an entity: a Property.
  sdm('EVChargingStation', 'mobility', 'Transportation', `${SDM}dataModel.Transportation/EVChargingStation/schema.json`, {
    temporal: { startDateTime: 'DateTime', endDateTime: 'DateTime', observationDateTime: 'DateTime' },
  }),
  sdm('PublicTransportStop', 'mobility', 'UrbanMobility', `${SDM}dataModel.UrbanMobility/PublicTransportStop/schema.json`),
  // feederID ("Relationship") is a feeder label such as "F1", not an entity id: a Property.
  sdm('Streetlight', 'energy', 'Streetlighting', `${SDM}dataModel.Streetlighting/Streetlight/schema.json`, {
    temporal: {
      dateLastLampChange: 'DateTime', dateLastSwitchingOn: 'DateTime', dateLastSwitchingOff: 'DateTime',
      dateServiceStarted: 'DateTime', observationDateTime: 'DateTime',
    },
  }),
  sdm('ThreePhaseAcMeasurement', 'energy', 'Energy', `${SDM}dataModel.Energy/ThreePhaseAcMeasurement/schema.json`, {
    temporal: { dateEnergyMeteringStarted: 'DateTime' },
  }),
  // mapUrl ("Relationship") is a web page, not an entity: a Property.
  sdm('Building', 'energy', 'Building', `${SDM}dataModel.Building/Building/schema.json`, {
    relationships: ['occupier'],
    geo: ['location', 'containedInPlace'],
  }),
];

export const ENTITY_TYPES: ReadonlyMap<string, EntityTypeSpec> = new Map(SPECS.map((s) => [s.type, s]));

export const SUPPORTED_TYPES: readonly string[] = SPECS.map((s) => s.type);

export function entityTypeSpec(type: string): EntityTypeSpec | undefined {
  return ENTITY_TYPES.get(type);
}

const REF_CONVENTION = /^ref[A-Z]/;

export function isRelationship(spec: EntityTypeSpec, attribute: string): boolean {
  return REF_CONVENTION.test(attribute) || spec.relationships.includes(attribute);
}

/**
 * Our attributes added to SDM types (defined in contexts/smartland.jsonld): an entity that uses
 * one also carries the smartland @context after its subject context.
 */
export const SMARTLAND_EXTENSION_ATTRIBUTES: ReadonlySet<string> = new Set([
  'refTerritorialProgramme', 'refThematicCorridor', 'refMunicipality', 'isSample',
  // municipality facts on PublicOrganization
  'istatCode', 'cadastralCode', 'altitude', 'surfaceArea', 'population', 'populationDate',
  // project progress on Project; the SDG link to a project, reused on Device and KeyPerformanceIndicator
  'completionPercentage', 'spending', 'refProject',
]);

/** Extension attributes that a subject context already defines (same IRI): no need for ours there. */
export const DEFINED_BY_SUBJECT: Readonly<Record<string, string>> = {
  refProject: 'https://smart-data-models.github.io/dataModel.SDG/context.jsonld',
};
