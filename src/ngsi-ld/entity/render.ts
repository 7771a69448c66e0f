import type { ContextValue, TermMap } from '../context/types';
import {
  INSTANCE_MEMBERS, LOCATION,
  type AttributeInstance, type AttributeKind, type Entity, type Format,
} from '../types';
import { includesAttribute, type Projection } from './projection';

/**
 * Internal (expanded) entities → response bodies: normalized, concise, keyValues (spec 4.5.1–4.5.4,
 * 4.5.18) and GeoJSON (4.5.16, 4.5.17). A plain traversal that compacts names through the TermMap;
 * no JSON-LD processing. Leaf values (property values, language maps, geometries) are shared with
 * the input, not copied: serialise the result, do not mutate it.
 */

export interface RenderOptions {
  format: Format;
  sysAttrs?: boolean;
  projection?: Projection;
  /** language filter (4.15): a tag or an Accept-Language style list, e.g. `fr-CH,fr;q=0.9,*` */
  lang?: string;
  /** when set, the body carries this "@context" member (application/ld+json responses) */
  includeContext?: ContextValue;
}

export interface GeoJsonOptions extends RenderOptions {
  /** expanded IRI of the GeoProperty that becomes `geometry` (4.5.16.1); default: location */
  geometryProperty?: string;
}

export type Geometry = { type: string; [member: string]: unknown };

export interface Feature {
  id: string;
  type: 'Feature';
  geometry: Geometry | null;
  properties: Record<string, unknown>;
  '@context'?: ContextValue;
}

export interface FeatureCollection {
  type: 'FeatureCollection';
  features: Feature[];
  '@context'?: ContextValue;
}

export function renderEntity(e: Entity, tm: TermMap, opts: RenderOptions): Record<string, unknown> {
  return renderMembers(e, compilePlan(tm, opts, true));
}

/** renderEntity over a list, with the options compiled once. */
export function renderEntities(entities: Entity[], tm: TermMap, opts: RenderOptions): Record<string, unknown>[] {
  const plan = compilePlan(tm, opts, true);
  return entities.map((e) => renderMembers(e, plan));
}

/** A single entity as a GeoJSON Feature (GET /entities/{id} with Accept: application/geo+json). */
export function renderGeoJsonFeature(e: Entity, tm: TermMap, opts: GeoJsonOptions): Feature {
  const feature = toFeature(e, compilePlan(tm, opts, false), opts.geometryProperty ?? LOCATION);
  if (opts.includeContext !== undefined) feature['@context'] = opts.includeContext;
  return feature;
}

/** Entities as a GeoJSON FeatureCollection; the @context, if any, is given once, at the top. */
export function renderGeoJson(entities: Entity[], tm: TermMap, opts: GeoJsonOptions): FeatureCollection {
  const plan = compilePlan(tm, opts, false);
  const geometryProperty = opts.geometryProperty ?? LOCATION;
  const collection: FeatureCollection = {
    type: 'FeatureCollection',
    features: entities.map((e) => toFeature(e, plan, geometryProperty)),
  };
  if (opts.includeContext !== undefined) collection['@context'] = opts.includeContext;
  return collection;
}

/**
 * Attribute instances one by one (the temporal representation lists them): objects in the
 * normalized/concise forms, simplified values with keyValues.
 */
export function renderInstances(instances: AttributeInstance[], tm: TermMap, opts: RenderOptions): unknown[] {
  const plan = compilePlan(tm, opts, false);
  return instances.map((inst) => (plan.format === 'keyValues' ? simplifiedValue(inst, plan) : objectForm(inst, plan, false)));
}

/** An entity type (or attribute name) as the client's context names it. */
export function renderTypeName(iri: string, tm: TermMap): string {
  return tm.compact(iri);
}

// --- plan: the options, resolved once per response -------------------------------------------

interface Plan {
  tm: TermMap;
  format: Format;
  sysAttrs: boolean;
  projection?: Projection;
  /** language preferences, best first; undefined = no language filter */
  languages?: string[];
  /** false for GeoJSON, where the entity id lives on the Feature */
  withId: boolean;
  /** set for non-GeoJSON bodies only: GeoJSON puts @context on the Feature/FeatureCollection */
  context?: ContextValue;
}

function compilePlan(tm: TermMap, opts: RenderOptions, entityBody: boolean): Plan {
  return {
    tm,
    format: opts.format,
    sysAttrs: opts.sysAttrs === true,
    projection: opts.projection,
    languages: opts.lang === undefined ? undefined : parseLanguagePreferences(opts.lang),
    withId: entityBody && (opts.projection?.includeId ?? true),
    context: entityBody ? opts.includeContext : undefined,
  };
}

// --- entity ------------------------------------------------------------------------------------

function renderMembers(e: Entity, plan: Plan): Record<string, unknown> {
  const { tm, projection } = plan;
  const out: Record<string, unknown> = {};
  if (plan.withId) out.id = e.id;
  if (projection?.includeType ?? true) {
    out.type = e.type.length === 1 ? tm.compact(e.type[0]) : e.type.map((t) => tm.compact(t));
  }
  if (e.scope?.length && (projection?.includeScope ?? true)) {
    out.scope = e.scope.length === 1 ? e.scope[0] : e.scope;
  }
  for (const name in e.attrs) {
    const instances = e.attrs[name];
    if (instances.length === 0 || !includesAttribute(projection, name)) continue;
    out[tm.compact(name)] = renderAttribute(instances, plan);
  }
  if (plan.sysAttrs) addSysAttrs(out, e);
  if (plan.context !== undefined) out['@context'] = plan.context;
  return out;
}

function toFeature(e: Entity, plan: Plan, geometryProperty: string): Feature {
  return {
    id: e.id,
    type: 'Feature',
    // taken from the entity, not the projected output: the geometry does not depend on pick/attrs
    geometry: geometryOf(e.attrs[geometryProperty]),
    properties: renderMembers(e, plan),
  };
}

/** The default instance's GeoJSON value (else the first instance's), or null if not a GeoProperty. */
function geometryOf(instances: AttributeInstance[] | undefined): Geometry | null {
  if (!instances?.length) return null;
  const inst = instances.find((i) => i.datasetId === undefined) ?? instances[0];
  const value = inst.value;
  return inst.type === 'GeoProperty' && isPlainObject(value) && typeof value.type === 'string'
    ? (value as Geometry)
    : null;
}

// --- attributes --------------------------------------------------------------------------------

/** Several instances: an array (normalized, concise), or a `dataset` object keyed by datasetId (4.5.4). */
function renderAttribute(instances: AttributeInstance[], plan: Plan): unknown {
  if (plan.format === 'keyValues') {
    if (instances.length === 1) return simplifiedValue(instances[0], plan);
    const dataset: Record<string, unknown> = {};
    for (const inst of instances) dataset[inst.datasetId ?? '@none'] = simplifiedValue(inst, plan);
    return { dataset };
  }
  // a bare concise value inside an array would read back as a value, not an instance
  if (instances.length === 1) return objectForm(instances[0], plan, true);
  return instances.map((inst) => objectForm(inst, plan, false));
}

/** Normalized or concise form of one attribute instance, sub-attributes included. */
function objectForm(inst: AttributeInstance, plan: Plan, bareAllowed: boolean): unknown {
  const { tm } = plan;
  const concise = plan.format === 'concise';
  const chosen = chooseLanguage(inst, plan);
  const kind: AttributeKind = chosen ? 'Property' : inst.type;
  const out: Record<string, unknown> = {};
  if (!concise) out.type = kind;
  if (chosen) {
    out.value = chosen.value;
    out.lang = chosen.tag;
  } else {
    writeValueMember(out, inst, plan);
  }
  if (inst.objectType !== undefined) out.objectType = compactAll(inst.objectType, tm);
  if (inst.datasetId !== undefined) out.datasetId = inst.datasetId;
  if (inst.observedAt !== undefined) out.observedAt = inst.observedAt;
  if (inst.unitCode !== undefined) out.unitCode = inst.unitCode;
  if (inst.deletedAt !== undefined) out.deletedAt = inst.deletedAt;
  for (const key in inst) {
    if (INSTANCE_MEMBERS.has(key)) continue;
    out[tm.compact(key)] = objectForm(inst[key] as AttributeInstance, plan, true);
  }
  if (plan.sysAttrs) addSysAttrs(out, inst);
  if (concise && bareAllowed && (kind === 'Property' || kind === 'GeoProperty') && onlyMember(out, 'value')) {
    const value = out.value;
    if (kind === 'GeoProperty' || readsBackAsProperty(value)) return value;
  }
  return out;
}

/** The kind's value member (4.5.2–4.5.3, 4.5.18, 5.2.33–5.2.37); concise ListRelationship lists bare URIs. */
function writeValueMember(out: Record<string, unknown>, inst: AttributeInstance, plan: Plan): void {
  switch (inst.type) {
    case 'Property':
    case 'GeoProperty':
      out.value = inst.value;
      return;
    case 'Relationship':
      out.object = inst.object;
      return;
    case 'LanguageProperty':
      out.languageMap = inst.languageMap;
      return;
    case 'VocabProperty':
      out.vocab = compactVocab(inst, plan.tm);
      return;
    case 'JsonProperty':
      out.json = inst.json;
      return;
    case 'ListProperty':
      out.valueList = inst.valueList;
      return;
    case 'ListRelationship':
      out.objectList = plan.format === 'concise' ? objectUris(inst) : inst.objectList;
      return;
  }
}

/**
 * keyValues (4.5.4): Property/GeoProperty → value, Relationship → object URI; the subtypes whose
 * value member has its own JSON-LD meaning (language tags, vocab IRIs, raw JSON, ordered lists)
 * keep that member in a one-member object, as the spec's simplified form does.
 */
function simplifiedValue(inst: AttributeInstance, plan: Plan): unknown {
  switch (inst.type) {
    case 'Property':
    case 'GeoProperty':
      return inst.value;
    case 'Relationship':
      return inst.object;
    case 'LanguageProperty': {
      const chosen = chooseLanguage(inst, plan);
      return chosen ? chosen.value : { languageMap: inst.languageMap };
    }
    case 'VocabProperty':
      return { vocab: compactVocab(inst, plan.tm) };
    case 'JsonProperty':
      return { json: inst.json };
    case 'ListProperty':
      return { valueList: inst.valueList };
    case 'ListRelationship':
      return { objectList: objectUris(inst) };
  }
}

function compactVocab(inst: AttributeInstance, tm: TermMap): string | string[] | undefined {
  return inst.vocab === undefined ? undefined : compactAll(inst.vocab, tm);
}

function compactAll(iris: string | string[], tm: TermMap): string | string[] {
  return typeof iris === 'string' ? tm.compact(iris) : iris.map((i) => tm.compact(i));
}

function objectUris(inst: AttributeInstance): string[] | undefined {
  return inst.objectList?.map((o) => o.object);
}

function addSysAttrs(out: Record<string, unknown>, from: { createdAt?: string; modifiedAt?: string }): void {
  if (from.createdAt !== undefined) out.createdAt = from.createdAt;
  if (from.modifiedAt !== undefined) out.modifiedAt = from.modifiedAt;
}

function onlyMember(o: Record<string, unknown>, member: string): boolean {
  let count = 0;
  for (const key in o) if (key !== member || ++count > 1) return false;
  return count === 1;
}

/** Members by which concise input is typed: a bare value holding one of them would be misread. */
export const CONCISE_MARKERS: readonly string[] = ['type', 'value', 'object', 'languageMap', 'vocab', 'json', 'valueList', 'objectList'];

/**
 * Whether a bare concise value is read back as a Property with this value: concise input is typed
 * by shape, so an object that looks like an attribute or a GeoJSON geometry, or an array of
 * objects (a list of instances), keeps its `value` wrapper ("lossless", 4.5.2.3).
 */
function readsBackAsProperty(value: unknown): boolean {
  if (Array.isArray(value)) return !value.some(isPlainObject);
  if (isPlainObject(value)) return !CONCISE_MARKERS.some((m) => Object.hasOwn(value, m));
  return true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// --- language filter (4.15) --------------------------------------------------------------------

/** `fr-CH,fr;q=0.9,*;q=0.5` → ['fr-ch', 'fr', '*'], best first, q=0 dropped. */
function parseLanguagePreferences(lang: string): string[] {
  return lang
    .split(',')
    .map((part, index) => {
      const [tag, ...params] = part.split(';').map((s) => s.trim());
      const q = params.find((p) => p.startsWith('q='));
      return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q.slice(2)), index };
    })
    .filter((p) => p.tag !== '' && p.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((p) => p.tag);
}

/**
 * With a language filter, a LanguageProperty becomes a Property whose value is one entry of its
 * languageMap, named by a `lang` member: the best preferred tag (RFC 4647 lookup: `de-CH` falls
 * back to `de`), `*` for any, else `@none`, else the first entry. Undefined = render unchanged.
 */
function chooseLanguage(inst: AttributeInstance, plan: Plan): { tag: string; value: unknown } | undefined {
  const map = inst.languageMap;
  if (inst.type !== 'LanguageProperty' || plan.languages === undefined || map === undefined) return undefined;
  const tag = preferredTag(Object.keys(map), plan.languages);
  return tag === undefined ? undefined : { tag, value: map[tag] };
}

function preferredTag(tags: string[], preferences: string[]): string | undefined {
  for (const preference of preferences) {
    if (preference === '*') return tags[0];
    for (let range = preference; range !== ''; range = truncateRange(range)) {
      const found = tags.find((t) => t.toLowerCase() === range);
      if (found !== undefined) return found;
    }
  }
  return tags.includes('@none') ? '@none' : tags[0];
}

/** RFC 4647 §3.4: drop the last subtag, and a singleton left dangling before it. */
function truncateRange(range: string): string {
  const cut = range.lastIndexOf('-');
  if (cut < 0) return '';
  const shorter = range.slice(0, cut);
  return shorter.length >= 2 && shorter[shorter.length - 2] === '-' ? shorter.slice(0, -2) : shorter;
}
