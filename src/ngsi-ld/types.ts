/**
 * The internal, expanded form of NGSI-LD entities: what the engine stores and what the
 * representation layer compacts on output. Attribute names, sub-attribute names, entity types
 * and VocabProperty values are full IRIs; everything else is kept as the client sent it.
 */

export const NGSI_LD = 'https://uri.etsi.org/ngsi-ld/';
export const LOCATION = NGSI_LD + 'location';
export const OBSERVATION_SPACE = NGSI_LD + 'observationSpace';
export const OPERATION_SPACE = NGSI_LD + 'operationSpace';
/** NGSI-LD's way to say "delete this" in merge-patch bodies (null is not allowed in JSON-LD). */
export const NGSI_LD_NULL = 'urn:ngsi-ld:null';

export type AttributeKind =
  | 'Property'
  | 'Relationship'
  | 'GeoProperty'
  | 'LanguageProperty'
  | 'VocabProperty'
  | 'JsonProperty'
  | 'ListProperty'
  | 'ListRelationship';

export const ATTRIBUTE_KINDS: readonly AttributeKind[] = [
  'Property', 'Relationship', 'GeoProperty', 'LanguageProperty',
  'VocabProperty', 'JsonProperty', 'ListProperty', 'ListRelationship',
];

/**
 * One instance of an attribute (or a sub-attribute). The value member depends on `type`:
 * Property/GeoProperty → value, Relationship → object (+objectType), LanguageProperty → languageMap,
 * VocabProperty → vocab (expanded IRIs), JsonProperty → json, ListProperty → valueList,
 * ListRelationship → objectList ([{object}]).
 * Keys that are not NGSI-LD members (they contain ':') are expanded sub-attribute names whose
 * value is a single AttributeInstance.
 */
export interface AttributeInstance {
  type: AttributeKind;
  value?: unknown;
  object?: string | string[];
  objectType?: string;
  languageMap?: Record<string, string | string[]>;
  vocab?: string | string[];
  json?: unknown;
  valueList?: unknown[];
  objectList?: { object: string }[];
  datasetId?: string;
  observedAt?: string;
  unitCode?: string;
  createdAt?: string;
  modifiedAt?: string;
  /** temporal representation only: when the instance was deleted (its value is urn:ngsi-ld:null) */
  deletedAt?: string;
  [subAttribute: string]: unknown;
}

/** The NGSI-LD members of an attribute instance (not sub-attributes). */
export const INSTANCE_MEMBERS = new Set([
  'type', 'value', 'object', 'objectType', 'languageMap', 'vocab', 'json', 'valueList', 'objectList',
  'datasetId', 'observedAt', 'unitCode', 'createdAt', 'modifiedAt', 'deletedAt', 'lang',
]);

/** Every attribute is a list of instances (more than one only with distinct datasetIds). */
export type Attributes = Record<string, AttributeInstance[]>;

export interface Entity {
  id: string;
  /** expanded type IRIs, at least one */
  type: string[];
  /** scope paths, e.g. /Valmalenco/Water */
  scope?: string[];
  createdAt?: string;
  modifiedAt?: string;
  attrs: Attributes;
}

export type Format = 'normalized' | 'concise' | 'keyValues';
