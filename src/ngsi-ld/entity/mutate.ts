/**
 * The entity changes of the NGSI-LD write operations (ETSI GS CIM 009 clause 5.6), as pure
 * functions on the internal expanded form: inputs are never modified, results are new objects
 * (unchanged values are shared). The engine loads, calls one of these and stores the result.
 *
 * Instances are matched by datasetId (no datasetId = the default instance). Every written
 * instance and sub-attribute gets modifiedAt = now and keeps the createdAt of the one it replaces;
 * the entity gets modifiedAt = now when anything changed. An attribute left without instances is
 * removed. An instance whose value member is NGSI-LD Null (only parse with allowNull produces
 * them) deletes the matching instance.
 */
import { badRequestData, notFound } from '../errors';
import {
  INSTANCE_MEMBERS, NGSI_LD_NULL, type AttributeInstance, type AttributeKind, type Attributes, type Entity,
} from '../types';
import { VALUE_MEMBERS } from './parse';
import { isRecord } from '../json';

/** Spec UpdateResult, with expanded attribute names. */
export interface AttributesOutcome {
  entity: Entity;
  updated: string[];
  notUpdated: { attributeName: string; reason: string }[];
}

/** Kinds whose object values a merge-patch merges key by key (clause 5.5.12, 4.5.18) instead of replacing. */
const MERGED_VALUE_KINDS = new Set<AttributeKind>(['Property', 'JsonProperty', 'LanguageProperty']);

const isSubAttribute = (key: string): boolean => !INSTANCE_MEMBERS.has(key);
const valueOf = (inst: AttributeInstance): unknown => inst[VALUE_MEMBERS[inst.type]];
const isDeletion = (inst: AttributeInstance): boolean => valueOf(inst) === NGSI_LD_NULL;
const dataset = (datasetId: string | undefined): string => (datasetId === undefined ? '' : ` (datasetId '${datasetId}')`);
const union = (a: string[], b: string[]): string[] => [...new Set([...a, ...b])];

/**
 * An instance as written now: NGSI-LD Null members and sub-attributes are dropped (there is
 * nothing to delete in a new instance), timestamps set, createdAt kept from `replaced`.
 */
function stamp(inst: AttributeInstance, now: string, name: string, replaced?: AttributeInstance): AttributeInstance {
  const out: AttributeInstance = { type: inst.type };
  for (const [key, v] of Object.entries(inst)) {
    if (key === 'type' || key === 'createdAt' || key === 'modifiedAt' || v === NGSI_LD_NULL) continue;
    if (!isSubAttribute(key)) out[key] = v;
    else if (!isDeletion(v as AttributeInstance)) {
      out[key] = stamp(v as AttributeInstance, now, `${name} > ${key}`, replaced?.[key] as AttributeInstance | undefined);
    }
  }
  if (valueOf(out) === undefined) throw badRequestData(`attribute '${name}': a ${inst.type} must have a '${VALUE_MEMBERS[inst.type]}'`);
  out.createdAt = replaced?.createdAt ?? now;
  out.modifiedAt = now;
  return out;
}

/** RFC 7396 merge-patch, NGSI-LD flavour: NGSI-LD Null (or null) removes a key. */
function mergeJson(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, v] of Object.entries(patch)) {
    if (v === NGSI_LD_NULL || v === null) delete out[key];
    // defineProperty, not assignment: a "__proto__" key from JSON must stay a plain key
    else Object.defineProperty(out, key, { value: mergeJson(out[key], v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Patches an existing instance: the members given replace (or, with mergeValues, merge into)
 * the existing ones, NGSI-LD Null removes a member or sub-attribute, sub-attributes are merged
 * recursively, the rest is kept. A patch that brings a value of another kind replaces the instance.
 */
function mergeInstance(
  old: AttributeInstance,
  patch: AttributeInstance,
  now: string,
  name: string,
  mergeValues: boolean,
): AttributeInstance {
  if (valueOf(patch) !== undefined && patch.type !== old.type) return stamp(patch, now, name, old);
  const out: AttributeInstance = { ...old, modifiedAt: now };
  for (const [key, v] of Object.entries(patch)) {
    if (key === 'type' || key === 'createdAt' || key === 'modifiedAt') continue;
    if (isSubAttribute(key)) {
      const sub = v as AttributeInstance;
      const current = old[key] as AttributeInstance | undefined;
      if (isDeletion(sub)) delete out[key];
      else out[key] = current ? mergeInstance(current, sub, now, `${name} > ${key}`, mergeValues) : stamp(sub, now, `${name} > ${key}`);
    } else if (v === NGSI_LD_NULL) {
      delete out[key];
    } else {
      const merge = mergeValues && key === VALUE_MEMBERS[old.type] && MERGED_VALUE_KINDS.has(old.type);
      out[key] = merge ? mergeJson(old[key], v) : v;
    }
  }
  return out;
}

/**
 * For each incoming instance, `apply` gets the current instance with the same datasetId (if any)
 * and returns its successor (replacing or adding it), null to remove it, or undefined to leave it.
 */
function applyByDataset(
  current: AttributeInstance[],
  incoming: AttributeInstance[],
  apply: (old: AttributeInstance | undefined, inc: AttributeInstance) => AttributeInstance | null | undefined,
): AttributeInstance[] {
  const out = [...current];
  for (const inc of incoming) {
    const i = out.findIndex((o) => o.datasetId === inc.datasetId);
    const next = apply(i >= 0 ? out[i] : undefined, inc);
    if (next === undefined) continue;
    if (next === null) {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) {
      out[i] = next;
    } else {
      out.push(next);
    }
  }
  return out;
}

/** Sets an attribute's instances on an attribute map the caller owns; none means no attribute. */
function setInstances(attrs: Attributes, name: string, instances: AttributeInstance[]): void {
  if (instances.length > 0) attrs[name] = instances;
  else delete attrs[name];
}

const withScope = (entity: Entity, scope: string[] | undefined): Entity => {
  const { scope: _dropped, ...rest } = entity;
  return scope && scope.length > 0 ? { ...rest, scope } : rest;
};

function attributeOf(entity: Entity, name: string): AttributeInstance[] {
  const instances = entity.attrs[name];
  if (!instances) throw notFound(`Attribute '${name}' not found in entity '${entity.id}'`);
  return instances;
}

const instanceNotFound = (entity: Entity, name: string, datasetId: string | undefined) =>
  notFound(`Attribute '${name}'${dataset(datasetId)} not found in entity '${entity.id}'`);

// ---------------------------------------------------------------------------------------------

/** A new entity: createdAt = modifiedAt = now on it and on every instance and sub-attribute. */
export function stampNew(entity: Entity, now: string): Entity {
  const attrs: Attributes = {};
  for (const [name, instances] of Object.entries(entity.attrs)) attrs[name] = instances.map((i) => stamp(i, now, name));
  return { ...entity, createdAt: now, modifiedAt: now, attrs };
}

interface WriteRule {
  /** instances (datasetIds) the entity does not have yet are added */
  addNew: boolean;
  /** instances the entity has are replaced */
  overwrite: boolean;
}

/** Append and update: whole instances written per datasetId, refusals reported per attribute. */
function writeAttributes(entity: Entity, attrs: Attributes, now: string, rule: WriteRule): AttributesOutcome {
  const next = { ...entity.attrs };
  const outcome: AttributesOutcome = { entity, updated: [], notUpdated: [] };
  for (const [name, incoming] of Object.entries(attrs)) {
    let written = false;
    const refuse = (reason: string): undefined => {
      outcome.notUpdated.push({ attributeName: name, reason });
      return undefined;
    };
    const instances = applyByDataset(next[name] ?? [], incoming, (old, inc) => {
      if (isDeletion(inc) && !old) return refuse(`nothing to delete${dataset(inc.datasetId)}`);
      if (old && !rule.overwrite) return refuse(`already exists${dataset(inc.datasetId)} and noOverwrite is set`);
      if (!old && !rule.addNew) return refuse(`does not exist${dataset(inc.datasetId)}`);
      written = true;
      return isDeletion(inc) ? null : stamp(inc, now, name, old);
    });
    setInstances(next, name, instances);
    if (written) outcome.updated.push(name);
  }
  outcome.entity = outcome.updated.length > 0 ? { ...entity, attrs: next, modifiedAt: now } : entity;
  return outcome;
}

/**
 * POST /entities/{id}/attrs (5.6.3): attributes and datasetIds are added, existing instances
 * replaced (with noOverwrite: kept and reported in notUpdated).
 */
export function appendAttributes(
  entity: Entity,
  attrs: Attributes,
  now: string,
  opts: { noOverwrite?: boolean } = {},
): AttributesOutcome {
  return writeAttributes(entity, attrs, now, { addNew: true, overwrite: !opts.noOverwrite });
}

/** PATCH /entities/{id}/attrs (5.6.2): only existing instances are replaced; the rest is reported. */
export function updateAttributes(entity: Entity, attrs: Attributes, now: string): AttributesOutcome {
  return writeAttributes(entity, attrs, now, { addNew: false, overwrite: true });
}

/**
 * PATCH /entities/{id}/attrs/{attrId} (5.6.4): each fragment instance patches the instance with
 * its datasetId: members given replace the existing ones, sub-attributes are merged (NGSI-LD
 * Null removes one). 404 when the attribute or the datasetId is missing.
 */
export function partialUpdateAttribute(entity: Entity, name: string, fragment: AttributeInstance[], now: string): Entity {
  const instances = applyByDataset(attributeOf(entity, name), fragment, (old, patch) => {
    if (!old) throw instanceNotFound(entity, name, patch.datasetId);
    if (isDeletion(patch)) {
      throw badRequestData(`attribute '${name}': a partial update cannot set the value to NGSI-LD Null; delete the attribute instead`);
    }
    return mergeInstance(old, patch, now, name, false);
  });
  return { ...entity, attrs: { ...entity.attrs, [name]: instances }, modifiedAt: now };
}

/** PUT /entities/{id}/attrs/{attrId}: each instance replaces the one with its datasetId (404 if none). */
export function replaceAttribute(entity: Entity, name: string, instances: AttributeInstance[], now: string): Entity {
  const next = applyByDataset(attributeOf(entity, name), instances, (old, inc) => {
    if (!old) throw instanceNotFound(entity, name, inc.datasetId);
    return stamp(inc, now, name, old);
  });
  return { ...entity, attrs: { ...entity.attrs, [name]: next }, modifiedAt: now };
}

/**
 * DELETE /entities/{id}/attrs/{attrId}: the instance with `datasetId` (default: the one without),
 * or all of them with deleteAll; 404 when there is none. `now`, when given, becomes modifiedAt.
 */
export function deleteAttribute(
  entity: Entity,
  name: string,
  opts: { datasetId?: string; deleteAll?: boolean } = {},
  now?: string,
): Entity {
  const current = attributeOf(entity, name);
  const remaining = opts.deleteAll ? [] : current.filter((i) => i.datasetId !== opts.datasetId);
  if (remaining.length === current.length) throw instanceNotFound(entity, name, opts.datasetId);
  const attrs = { ...entity.attrs };
  setInstances(attrs, name, remaining);
  return { ...entity, attrs, ...(now ? { modifiedAt: now } : {}) };
}

/**
 * PATCH /entities/{id} merge-patch (5.6.17, 5.5.12): each patch instance is merged into the
 * instance with its datasetId (members replaced; Property/JsonProperty object values and
 * languageMaps merged key by key; sub-attributes merged recursively), or added; an instance
 * whose value is NGSI-LD Null deletes its match (deleting what is absent is no error, as in
 * Orion-LD). Types given are added (an entity keeps its types); a scope given replaces the
 * scope, an empty one removes it.
 */
export function mergeEntity(
  entity: Entity,
  patch: Attributes,
  now: string,
  members: { type?: string[]; scope?: string[] } = {},
): Entity {
  const attrs = { ...entity.attrs };
  for (const [name, incoming] of Object.entries(patch)) {
    setInstances(attrs, name, applyByDataset(attrs[name] ?? [], incoming, (old, p) => {
      if (isDeletion(p)) return null;
      return old ? mergeInstance(old, p, now, name, true) : stamp(p, now, name);
    }));
  }
  const type = members.type ? union(entity.type, members.type) : entity.type;
  const merged = { ...entity, type, attrs, modifiedAt: now };
  return members.scope ? withScope(merged, members.scope) : merged;
}

/**
 * PUT /entities/{id} (replace): id and createdAt are kept, everything else comes from the
 * replacement (an instance that replaces one with the same name and datasetId keeps its createdAt;
 * a replacement without types keeps the existing ones).
 */
export function replaceEntity(existing: Entity, replacement: Entity, now: string): Entity {
  const attrs: Attributes = {};
  for (const [name, instances] of Object.entries(replacement.attrs)) {
    const old = existing.attrs[name] ?? [];
    attrs[name] = instances.map((i) => stamp(i, now, name, old.find((o) => o.datasetId === i.datasetId)));
  }
  return {
    id: existing.id,
    type: replacement.type.length > 0 ? replacement.type : existing.type,
    ...(replacement.scope && replacement.scope.length > 0 ? { scope: replacement.scope } : {}),
    ...(existing.createdAt ? { createdAt: existing.createdAt } : {}),
    modifiedAt: now,
    attrs,
  };
}

/**
 * Batch upsert (5.6.8) of one entity: created when new; otherwise replaced (mode 'replace') or
 * updated (mode 'update': attributes appended with overwrite, types and scopes added).
 */
export function upsertEntity(existing: Entity | undefined, incoming: Entity, now: string, mode: 'replace' | 'update'): Entity {
  if (!existing) return stampNew(incoming, now);
  if (mode === 'replace') return replaceEntity(existing, incoming, now);
  const { entity } = appendAttributes(existing, incoming.attrs, now);
  const updated = { ...entity, type: union(entity.type, incoming.type), modifiedAt: now };
  return incoming.scope ? withScope(updated, union(entity.scope ?? [], incoming.scope)) : updated;
}
