/**
 * Request bodies of the temporal API (spec 5.6.11-5.6.14): an EntityTemporal (fragment) lists,
 * per attribute, any number of instances (several without datasetId: they are points in time).
 * Each instance is validated as the entity API validates an attribute.
 */
import { badRequestData } from '../ngsi-ld/errors';
import { parseAttribute, parseId, parseScope, parseTypes } from '../ngsi-ld/entity/parse';
import type { TermMap } from '../ngsi-ld/context/types';
import type { AttributeInstance, Attributes } from '../ngsi-ld/types';
import { isRecord } from '../ngsi-ld/json';

/** Members of an EntityTemporal that are not attributes (the system ones are ignored on input). */
const NOT_ATTRIBUTES = new Set(['id', 'type', 'scope', '@context', 'createdAt', 'modifiedAt', 'deletedAt']);
/** instances per request, all attributes together */
export const MAX_INSTANCES_PER_REQUEST = 100_000;

/** The attributes of an EntityTemporal body: expanded name → its instances. */
export function parseTemporalAttributes(body: Record<string, unknown>, tm: TermMap): Attributes {
  const attrs: Attributes = {};
  let total = 0;
  for (const [name, raw] of Object.entries(body)) {
    if (NOT_ATTRIBUTES.has(name)) continue;
    // a list of instances, or one instance (an array of plain values is one concise value)
    const items = Array.isArray(raw) && raw.some(isRecord) ? raw : [raw];
    total += items.length;
    if (total > MAX_INSTANCES_PER_REQUEST) throw badRequestData(`at most ${MAX_INSTANCES_PER_REQUEST} instances per request`);
    const iri = tm.expand(name);
    attrs[iri] = (attrs[iri] ?? []).concat(items.flatMap((item, i) => parseAttribute(name, item, tm, `${name}[${i}]`)));
  }
  return attrs;
}

/** POST /temporal/entities: id, type, the scopes if any, and the instances. */
export function parseTemporalEntity(
  body: Record<string, unknown>, tm: TermMap,
): { id: string; types: string[]; scopes?: string[]; attrs: Attributes } {
  if (body.id === undefined) throw badRequestData("entity must have an 'id'");
  if (body.type === undefined) throw badRequestData("entity must have a 'type'");
  const scopes = body.scope === undefined ? undefined : parseScope(body.scope);
  return { id: parseId(body.id), types: parseTypes(body.type, tm), scopes, attrs: parseTemporalAttributes(body, tm) };
}

/** PATCH …/attrs/{attrId}/{instanceId}: the fragment's one instance of that attribute. */
export function parseInstanceCorrection(body: Record<string, unknown>, attrId: string, tm: TermMap): AttributeInstance {
  const attrs = parseTemporalAttributes(body, tm);
  const names = Object.keys(attrs);
  const iri = tm.expand(attrId);
  if (names.length !== 1 || names[0] !== iri || attrs[iri].length !== 1) {
    throw badRequestData(`the body must hold exactly one instance of attribute '${attrId}'`);
  }
  return attrs[iri][0];
}
