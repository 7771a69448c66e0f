import { badRequestData, notSupported } from '../errors';
import type { TermMap } from '../context/types';

/**
 * Which members of each entity a response keeps: the `attrs` (legacy), `pick` and `omit` query
 * parameters (spec 1.8, 4.21 attribute projection language, flat form).
 *
 * - `attrs=a,b`: keep attributes a and b; id, type and scope stay. It also selects entities
 *   (`attrs` is a synonym for pick + q): entities with none of the attributes are not returned.
 * - `pick=id,a`: keep only the listed entity members ("id", "type", "scope" or attribute names).
 * - `omit=type,a`: drop the listed entity members.
 *
 * System members (createdAt/modifiedAt) follow options=sysAttrs, not the projection.
 */
export interface Projection {
  /** Expanded attribute IRIs to keep; undefined keeps every attribute. */
  readonly attrs?: ReadonlySet<string>;
  /** Expanded attribute IRIs to drop. */
  readonly omit?: ReadonlySet<string>;
  readonly includeId: boolean;
  readonly includeType: boolean;
  readonly includeScope: boolean;
  /** true when `attrs` came from the legacy parameter, which also filters entities. */
  readonly selectsEntities: boolean;
}

export interface ProjectionParams {
  attrs?: string;
  pick?: string;
  omit?: string;
}

const MAX_ENTRIES = 100;
/** Separators of the projection language (4.21); `|` is a synonym of `,`. */
const SEPARATOR = /[,|]/;
/** Characters an attribute name cannot hold (as in the type and q grammars). */
const NAME = /^[^\s<>"'=;()[\]{}]+$/;
const ENTITY_MEMBERS = ['id', 'type', 'scope'] as const;
type EntityMember = (typeof ENTITY_MEMBERS)[number];

const isEntityMember = (name: string): name is EntityMember =>
  (ENTITY_MEMBERS as readonly string[]).includes(name);

export function parseProjection(q: ProjectionParams, tm: TermMap): Projection {
  if (q.pick !== undefined && q.omit !== undefined) {
    throw badRequestData('pick and omit cannot be used together');
  }
  if (q.pick !== undefined && q.attrs !== undefined) {
    throw badRequestData('attrs and pick cannot be used together (attrs is the deprecated form of pick)');
  }
  const omitted = q.omit === undefined ? undefined : splitMembers('omit', q.omit, tm);
  if (q.pick !== undefined) {
    const picked = splitMembers('pick', q.pick, tm);
    return {
      attrs: picked.attrs,
      includeId: picked.members.has('id'),
      includeType: picked.members.has('type'),
      includeScope: picked.members.has('scope'),
      selectsEntities: false,
    };
  }
  return {
    // legacy attrs names only attributes, so "id" or "type" there are attribute names too
    attrs: q.attrs === undefined ? undefined : new Set(splitNames('attrs', q.attrs).map((n) => tm.expand(n))),
    omit: omitted?.attrs,
    includeId: !omitted?.members.has('id'),
    includeType: !omitted?.members.has('type'),
    includeScope: !omitted?.members.has('scope'),
    selectsEntities: q.attrs !== undefined,
  };
}

/** True when the projection keeps every member of every entity. */
export function isEmpty(p: Projection): boolean {
  return p.attrs === undefined && p.omit === undefined && p.includeId && p.includeType && p.includeScope;
}

/** Whether the attribute (expanded IRI) is part of the output. */
export function includesAttribute(p: Projection | undefined, iri: string): boolean {
  if (p === undefined) return true;
  return (p.attrs === undefined || p.attrs.has(iri)) && !p.omit?.has(iri);
}

/**
 * The expanded attribute names an entity must have at least one of to be returned
 * (legacy `attrs`), or undefined when the projection does not select entities.
 */
export function projectionAttributeNames(p: Projection): string[] | undefined {
  return p.selectsEntities && p.attrs ? [...p.attrs] : undefined;
}

function splitMembers(param: string, input: string, tm: TermMap) {
  const members = new Set<EntityMember>();
  const attrs = new Set<string>();
  for (const name of splitNames(param, input)) {
    if (isEntityMember(name)) members.add(name);
    else attrs.add(tm.expand(name));
  }
  return { members, attrs };
}

function splitNames(param: string, input: string): string[] {
  if (/[{}]/.test(input)) {
    // nested projections only make sense with linked-entity retrieval (join), which we do not offer
    throw notSupported(`${param}: nested attribute projection ('{…}') is not supported`);
  }
  const names = input.split(SEPARATOR).map((n) => n.trim());
  if (names.length > MAX_ENTRIES) throw badRequestData(`${param}: more than ${MAX_ENTRIES} entries`);
  for (const name of names) {
    if (name === '') throw badRequestData(`${param}: empty name in '${input}'`);
    if (!NAME.test(name)) throw badRequestData(`${param}: invalid name '${name}'`);
  }
  return names;
}
