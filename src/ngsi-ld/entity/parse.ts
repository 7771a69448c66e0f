/**
 * Incoming NGSI-LD JSON → the internal expanded form (ngsi-ld/types), validated on the way.
 *
 * Attributes are accepted in the normalized and the concise form (ETSI GS CIM 009 clause 4.5):
 * - an object whose `type` is an attribute kind is normalized and must carry that kind's member
 *   (Property/GeoProperty → value, Relationship → object, LanguageProperty → languageMap,
 *   VocabProperty → vocab, JsonProperty → json, ListProperty → valueList, ListRelationship → objectList);
 * - an object without `type` is concise: its one value member decides the kind, and a `value`
 *   that is GeoJSON-shaped (geometry type + coordinates/geometries) makes a GeoProperty;
 * - a bare GeoJSON geometry is a GeoProperty; any other bare value (scalar, array of non-objects,
 *   object without NGSI-LD members) is a Property with that value;
 * - an array of objects is a multi-attribute: one instance per element, told apart by datasetId.
 * Every other key of an attribute object is a sub-attribute, parsed with the same rules.
 *
 * Everything is bounded (LIMITS) so that a hostile body costs little before it is refused.
 */
import { badRequestData } from '../errors';
import type { TermMap } from '../context/types';
import { validateGeometry } from '../query/geo';
import {
  ATTRIBUTE_KINDS, LOCATION, NGSI_LD_NULL, OBSERVATION_SPACE, OPERATION_SPACE,
  type AttributeInstance, type AttributeKind, type Attributes, type Entity,
} from '../types';
import { isRecord } from '../json';

export const LIMITS = {
  /** attributes per entity, and sub-attributes per attribute instance */
  attributes: 1000,
  /** instances (datasetIds) of one attribute */
  instances: 100,
  /** attribute nesting: an attribute is level 1, its sub-attributes level 2, ... */
  depth: 8,
  /** attribute names, type names, scopes, unit codes */
  nameLength: 256,
  /** entity ids, relationship objects, datasetIds */
  uriLength: 256,
  /** any string inside a value */
  stringLength: 100_000,
  /** nesting of a compound (JSON) value */
  valueDepth: 32,
  /** types and scopes of one entity */
  types: 100,
} as const;

export interface ParseOptions {
  /**
   * NGSI-LD Null (`urn:ngsi-ld:null`, or JSON null for a whole attribute) is accepted and kept as a
   * deletion marker for mutate: merge-patch and update paths. Elsewhere it is 400.
   */
  allowNull?: boolean;
  /**
   * Attribute objects may leave out their value member and patch only some members
   * (`{"observedAt": ...}`): merge-patch and partial attribute update. In this mode an object
   * without `type` and without a value member is such a fragment, not a Property value.
   */
  partial?: boolean;
}

/** What an entity body says, each part optional: the base of entities and attribute fragments. */
export interface EntityFragment {
  id?: string;
  type?: string[];
  scope?: string[];
  attrs: Attributes;
}

/** The member that holds an instance's value, by kind. */
export const VALUE_MEMBERS: Readonly<Record<AttributeKind, 'value' | 'object' | 'languageMap' | 'vocab' | 'json' | 'valueList' | 'objectList'>> = {
  Property: 'value',
  GeoProperty: 'value',
  Relationship: 'object',
  LanguageProperty: 'languageMap',
  VocabProperty: 'vocab',
  JsonProperty: 'json',
  ListProperty: 'valueList',
  ListRelationship: 'objectList',
};

/** Concise form: the kind a lone value member implies (`value` may still turn out GeoProperty). */
const KIND_OF_MEMBER: Readonly<Record<string, AttributeKind>> = {
  value: 'Property',
  object: 'Relationship',
  languageMap: 'LanguageProperty',
  vocab: 'VocabProperty',
  json: 'JsonProperty',
  valueList: 'ListProperty',
  objectList: 'ListRelationship',
};
const VALUE_MEMBER_NAMES = Object.keys(KIND_OF_MEMBER);

/** Entity members that are not attributes (system-generated ones are ignored on input). */
const ENTITY_MEMBERS = new Set(['id', 'type', 'scope', '@context', 'createdAt', 'modifiedAt', 'deletedAt']);

/** Attribute members that are output-only or system-generated: dropped on input. */
const IGNORED_MEMBERS = new Set([
  'createdAt', 'modifiedAt', 'deletedAt', 'lang', 'instanceId', 'entity', 'entityList',
  'previousValue', 'previousObject', 'previousLanguageMap', 'previousVocab', 'previousJson',
  'previousValueList', 'previousObjectList',
]);

/** Members that make an object an attribute object even without a value member. */
const META_MEMBERS = ['observedAt', 'unitCode', 'datasetId', 'objectType'];

/** Attribute names that must be GeoProperties (clause 4.7). */
const GEO_ATTRIBUTES = new Set([LOCATION, OBSERVATION_SPACE, OPERATION_SPACE]);

const GEOMETRY_TYPES = new Set([
  'Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection',
]);

// RFC 3986 scheme, then no whitespace, control characters or characters URIs never contain.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f<>"{}|\\^`]+$/;
const FORBIDDEN_NAME_CHAR = /[\s\x00-\x1f\x7f<>"'=;()]/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LANGUAGE_TAG = /^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|@none)$/;
// Scope levels exclude what scopeQ gives a meaning to, so every stored scope can be queried.
const SCOPE = /^(?:\/[^/#+;|()\s\x00-\x1f\x7f]+)+$/;

type Json = Record<string, unknown>;

const show = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : JSON.stringify(v);

export const isUri = (s: string): boolean => s.length <= LIMITS.uriLength && URI.test(s);

/** ISO 8601 date-time with seconds and a zone, whose date and time really exist. */
export function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d &&
    t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === sec;
}

const fail = (where: string, problem: string): never => {
  throw badRequestData(`${where}: ${problem}`);
};

/** Checks a name (attribute, type): the spec forbids these characters, we bound the length. */
function checkName(name: string, where: string): void {
  if (name === '') fail(where, 'a name must not be empty');
  if (name.length > LIMITS.nameLength) fail(where, `a name must not be longer than ${LIMITS.nameLength} characters`);
  const bad = FORBIDDEN_NAME_CHAR.exec(name);
  if (bad) fail(where, `a name must not contain ${JSON.stringify(bad[0])}`);
  if (name.startsWith('@')) fail(where, 'JSON-LD keywords are not names');
}

function expandName(name: string, tm: TermMap, where: string): string {
  checkName(name, where);
  const iri = tm.expand(name);
  if (!iri.includes(':')) fail(where, `'${name}' does not expand to an IRI with the @context in use`);
  return iri;
}

function stringList(raw: unknown, where: string, what: string, max: number): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) fail(where, `must be a ${what} or a non-empty array of them`);
  if (list.length > max) fail(where, `must not have more than ${max} items`);
  for (const item of list) if (typeof item !== 'string') fail(where, `must be a ${what} or an array of them, not ${show(item)}`);
  return list as string[];
}

// ---------------------------------------------------------------------------------------------
// Entity level

export function parseId(raw: unknown, where = "entity 'id'"): string {
  if (typeof raw !== 'string') return fail(where, `must be a URI string, not ${show(raw)}`);
  if (!isUri(raw)) fail(where, `${JSON.stringify(raw.slice(0, 300))} is not a valid URI (scheme:rest, at most ${LIMITS.uriLength} characters, no spaces)`);
  return raw;
}

/** Entity type(s): names or IRIs, expanded, without duplicates. */
export function parseTypes(raw: unknown, tm: TermMap): string[] {
  const where = "entity 'type'";
  const names = stringList(raw, where, 'type name', LIMITS.types);
  return [...new Set(names.map((t) => expandName(t, tm, `${where} ${JSON.stringify(t)}`)))];
}

/**
 * Scopes (clause 4.18): `/level/level...`, one or an array. With allowNull, NGSI-LD Null means
 * "no scope" (an empty array, which a merge applies as removal).
 */
export function parseScope(raw: unknown, opts: ParseOptions = {}): string[] {
  const where = "entity 'scope'";
  if (opts.allowNull && raw === NGSI_LD_NULL) return [];
  if (Array.isArray(raw) && raw.length === 0) return [];
  const scopes = stringList(raw, where, 'scope', LIMITS.types);
  for (const s of scopes) {
    if (s.length > LIMITS.nameLength) fail(where, `a scope must not be longer than ${LIMITS.nameLength} characters`);
    if (!SCOPE.test(s)) fail(where, `${JSON.stringify(s)} is not a scope: '/' followed by level names, each without '/', '#', '+', ';', '|', '(', ')' or spaces`);
  }
  return [...new Set(scopes)];
}

/** Any entity-shaped body: `id`, `type`, `scope` validated when present; every other member an attribute. */
export function parseFragment(body: unknown, tm: TermMap, opts: ParseOptions = {}): EntityFragment {
  if (!isRecord(body)) return fail('request body', `must be a JSON object, not ${show(body)}`);
  const fragment: EntityFragment = { attrs: {} };
  if (body.id !== undefined) fragment.id = parseId(body.id);
  if (body.type !== undefined) fragment.type = parseTypes(body.type, tm);
  if (body.scope !== undefined) fragment.scope = parseScope(body.scope, opts);
  const names = Object.keys(body).filter((k) => !ENTITY_MEMBERS.has(k));
  if (names.length > LIMITS.attributes) fail('entity', `must not have more than ${LIMITS.attributes} attributes`);
  const ctx: Ctx = { tm, opts };
  for (const name of names) {
    const site = attributeSite(name, undefined, tm);
    if (Object.hasOwn(fragment.attrs, site.iri)) fail(describe(site), 'given twice (as a term and as an IRI)');
    fragment.attrs[site.iri] = parseInstances(body[name], site, ctx);
  }
  return fragment;
}

/**
 * A whole entity (create, replace, batch). `id` is required; `type` too unless requireType is
 * false (batch update/merge), in which case a missing type is an empty list.
 */
export function parseEntity(
  body: unknown,
  tm: TermMap,
  opts: ParseOptions & { requireType?: boolean } = {},
): Entity {
  const f = parseFragment(body, tm, opts);
  if (f.id === undefined) return fail('entity', "must have an 'id'");
  if (f.type === undefined && opts.requireType !== false) fail('entity', "must have a 'type'");
  return { id: f.id, type: f.type ?? [], ...(f.scope ? { scope: f.scope } : {}), attrs: f.attrs };
}

/**
 * Attributes of an entity fragment (POST/PATCH /entities/{id}/attrs). `id`, `type` and `scope`
 * are validated when present (a wrong one is still a wrong request) but are not attributes.
 */
export function parseAttributes(body: unknown, tm: TermMap, opts: ParseOptions = {}): Attributes {
  return parseFragment(body, tm, opts).attrs;
}

/**
 * One attribute given by its (compact) name, e.g. the body of PATCH/PUT /entities/{id}/attrs/{attrId}.
 * `path` names it in error details.
 */
export function parseAttribute(
  name: string,
  raw: unknown,
  tm: TermMap,
  path: string = name,
  opts: ParseOptions = {},
): AttributeInstance[] {
  const site = { ...attributeSite(name, undefined, tm), path };
  return parseInstances(raw, site, { tm, opts });
}

// ---------------------------------------------------------------------------------------------
// Attribute level

interface Ctx {
  tm: TermMap;
  opts: ParseOptions;
}

/** Where an attribute sits: its display path (`temperature.accuracy`), IRI and nesting level. */
interface Site {
  path: string;
  iri: string;
  depth: number;
}

const describe = (site: Site): string => `attribute '${site.path}' (${site.iri})`;

function attributeSite(name: string, parent: Site | undefined, tm: TermMap): Site {
  const path = parent ? `${parent.path}.${name}` : name;
  const depth = parent ? parent.depth + 1 : 1;
  if (depth > LIMITS.depth) fail(`attribute '${path}'`, `sub-attributes must not nest deeper than ${LIMITS.depth} levels`);
  return { path, iri: expandName(name, tm, `attribute '${path}'`), depth };
}

function parseInstances(raw: unknown, site: Site, ctx: Ctx): AttributeInstance[] {
  if (raw === null || raw === undefined) {
    if (!ctx.opts.allowNull) fail(describe(site), 'must not be null');
    return [{ type: 'Property', value: NGSI_LD_NULL }];
  }
  // An array with objects in it lists instances; an array of plain values is a concise value.
  if (!Array.isArray(raw) || !raw.some(isRecord)) return [parseInstance(raw, site, ctx)];
  if (site.depth > 1) fail(describe(site), 'a sub-attribute has a single instance, not an array of them');
  if (raw.length > LIMITS.instances) fail(describe(site), `must not have more than ${LIMITS.instances} instances`);
  const instances = raw.map((item, i) => {
    const at = { ...site, path: `${site.path}[${i}]` };
    return isRecord(item) ? parseInstance(item, at, ctx) : fail(describe(at), `an instance must be an object, not ${show(item)}`);
  });
  checkDatasetIds(instances, site);
  return instances;
}

function checkDatasetIds(instances: AttributeInstance[], site: Site): void {
  const seen = new Set<string | undefined>();
  for (const { datasetId } of instances) {
    if (seen.has(datasetId)) {
      fail(describe(site), datasetId === undefined
        ? "at most one instance may be without 'datasetId'"
        : `datasetId '${datasetId}' is used by more than one instance`);
    }
    seen.add(datasetId);
  }
}

function parseInstance(raw: unknown, site: Site, ctx: Ctx): AttributeInstance {
  const inst = isRecord(raw) ? parseObject(raw, site, ctx) : { type: 'Property' as const, value: parseValue('Property', raw, site, ctx) };
  const value = inst[VALUE_MEMBERS[inst.type]];
  if (GEO_ATTRIBUTES.has(site.iri) && inst.type !== 'GeoProperty' && value !== undefined && value !== NGSI_LD_NULL) {
    fail(describe(site), `must be a GeoProperty, not a ${inst.type}`);
  }
  return inst;
}

const isGeoShape = (v: unknown): v is Json =>
  isRecord(v) && GEOMETRY_TYPES.has(v.type as string) && (v.coordinates !== undefined || v.geometries !== undefined);

const isKind = (t: unknown): t is AttributeKind => ATTRIBUTE_KINDS.includes(t as AttributeKind);

/** An attribute given as an object: normalized, concise, a bare geometry, or a plain object value. */
function parseObject(raw: Json, site: Site, ctx: Ctx): AttributeInstance {
  const members = VALUE_MEMBER_NAMES.filter((m) => raw[m] !== undefined);
  if (isKind(raw.type)) return parseMembers(raw, raw.type, site, ctx);
  if (raw.type !== undefined) {
    if (members.length > 0) {
      fail(describe(site), `unknown attribute type ${show(raw.type)}; expected one of ${ATTRIBUTE_KINDS.join(', ')}`);
    }
    const kind = isGeoShape(raw) ? 'GeoProperty' : 'Property';
    return { type: kind, value: parseValue(kind, raw, site, ctx) };
  }
  if (members.length > 1) {
    fail(describe(site), `has ${members.map((m) => `'${m}'`).join(' and ')}: give one of them, or a 'type'`);
  }
  if (members.length === 1) {
    const kind = members[0] === 'value' && isGeoShape(raw.value) ? 'GeoProperty' : KIND_OF_MEMBER[members[0]];
    return parseMembers(raw, kind, site, ctx);
  }
  // A fragment patches members; an object with NGSI-LD members lacks its value (typo, omission).
  if (ctx.opts.partial || META_MEMBERS.some((m) => raw[m] !== undefined)) return parseMembers(raw, 'Property', site, ctx);
  return { type: 'Property', value: parseValue('Property', raw, site, ctx) };
}

/** The members of an attribute object of a known kind; unknown keys are sub-attributes. */
function parseMembers(raw: Json, kind: AttributeKind, site: Site, ctx: Ctx): AttributeInstance {
  const where = describe(site);
  const own = VALUE_MEMBERS[kind];
  const inst: AttributeInstance = { type: kind };
  const keys = Object.keys(raw);
  if (keys.length > LIMITS.attributes) fail(where, `must not have more than ${LIMITS.attributes} sub-attributes`);
  for (const key of keys) {
    const v = raw[key];
    if (key === 'type' || IGNORED_MEMBERS.has(key)) continue;
    if (Object.hasOwn(KIND_OF_MEMBER, key)) {
      if (key !== own) fail(where, `a ${kind} has no '${key}' (its value member is '${own}')`);
      Object.assign(inst, { [own]: parseValue(kind, v, site, ctx) });
    } else if (key === 'observedAt') {
      inst.observedAt = nullable(v, ctx, () => (typeof v === 'string' && isDateTime(v) ? v : fail(where, `'observedAt' must be an ISO 8601 date-time, not ${show(v)}`)));
    } else if (key === 'unitCode') {
      inst.unitCode = nullable(v, ctx, () => (typeof v === 'string' && v !== '' && v.length <= LIMITS.nameLength ? v : fail(where, `'unitCode' must be a non-empty string, not ${show(v)}`)));
    } else if (key === 'datasetId') {
      // NGSI-LD Null is a valid URI, but a datasetId that reads "delete" would be a trap
      inst.datasetId = v === NGSI_LD_NULL ? fail(where, "'datasetId' must not be NGSI-LD Null") : parseId(v, `${where}: 'datasetId'`);
    } else if (key === 'objectType') {
      if (kind !== 'Relationship' && kind !== 'ListRelationship') fail(where, `a ${kind} has no 'objectType'`);
      inst.objectType = typeof v === 'string' ? expandName(v, ctx.tm, `${where}: 'objectType'`) : fail(where, `'objectType' must be a type name, not ${show(v)}`);
    } else {
      const sub = attributeSite(key, site, ctx.tm);
      if (Object.hasOwn(inst, sub.iri)) fail(describe(sub), 'given twice (as a term and as an IRI)');
      inst[sub.iri] = parseInstances(v, sub, ctx)[0];
    }
  }
  if (inst[own] === undefined && !ctx.opts.partial) fail(where, `a ${kind} must have a '${own}'`);
  return inst;
}

/** A member that NGSI-LD Null may remove (allowNull) or that `parse` validates. */
function nullable(v: unknown, ctx: Ctx, parse: () => string): string {
  return ctx.opts.allowNull && v === NGSI_LD_NULL ? NGSI_LD_NULL : parse();
}

/** Validates (and expands, for vocab) the value member of an instance of `kind`. */
function parseValue(kind: AttributeKind, v: unknown, site: Site, ctx: Ctx): unknown {
  const where = `${describe(site)}: '${VALUE_MEMBERS[kind]}'`;
  if (v === NGSI_LD_NULL) {
    return ctx.opts.allowNull ? v : fail(where, `NGSI-LD Null ('${NGSI_LD_NULL}') is only allowed in merge and update requests`);
  }
  if (v === null) fail(where, 'must not be null');
  switch (kind) {
    case 'Property':
    case 'JsonProperty':
    case 'ListProperty':
      if (kind === 'ListProperty' && !Array.isArray(v)) fail(where, `must be an array, not ${show(v)}`);
      checkJson(v, where);
      return v;
    case 'GeoProperty': {
      const problem = validateGeometry(v);
      return problem ? fail(where, `invalid GeoJSON geometry: ${problem}`) : v;
    }
    case 'Relationship':
      return Array.isArray(v)
        ? stringList(v, where, 'URI', LIMITS.instances).map((o) => parseId(o, where))
        : parseId(v, where);
    case 'ListRelationship':
      if (!Array.isArray(v)) fail(where, `must be an array, not ${show(v)}`);
      if ((v as unknown[]).length > LIMITS.attributes) fail(where, `must not have more than ${LIMITS.attributes} items`);
      return (v as unknown[]).map((item) => ({ object: parseId(isRecord(item) ? item.object : item, where) }));
    case 'LanguageProperty':
      return parseLanguageMap(v, where);
    case 'VocabProperty': {
      const terms = stringList(v, where, 'vocabulary term', LIMITS.instances).map((t) => expandName(t, ctx.tm, where));
      return Array.isArray(v) ? terms : terms[0];
    }
  }
}

function parseLanguageMap(v: unknown, where: string): Record<string, string | string[]> {
  if (!isRecord(v)) return fail(where, `must be an object of language tag → string, not ${show(v)}`);
  for (const [lang, text] of Object.entries(v)) {
    if (!LANGUAGE_TAG.test(lang)) fail(where, `${JSON.stringify(lang)} is not a language tag`);
    const texts = Array.isArray(text) ? text : [text];
    if (!texts.every((t) => typeof t === 'string')) fail(where, `the text for '${lang}' must be a string or an array of strings`);
    checkJson(text, where);
  }
  return v as Record<string, string | string[]>;
}

/**
 * Bounds a JSON value: nesting depth and string lengths. Numbers must be finite: JSON.parse reads
 * an out-of-range literal such as 1e999 as Infinity, which would be stored as null.
 */
function checkJson(v: unknown, where: string, depth = 0): void {
  if (depth > LIMITS.valueDepth) fail(where, `must not nest deeper than ${LIMITS.valueDepth} levels`);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(where, 'numbers must be within the range of a double (e.g. not 1e999)');
  } else if (typeof v === 'string') {
    if (v.length > LIMITS.stringLength) fail(where, `strings must not be longer than ${LIMITS.stringLength} characters`);
  } else if (typeof v === 'object' && v !== null) {
    for (const item of Array.isArray(v) ? v : Object.values(v)) checkJson(item, where, depth + 1);
  }
}
