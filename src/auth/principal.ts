import { forbidden } from '../ngsi-ld/errors';

/**
 * Who is calling and what they may touch. A principal comes from an API key (api-keys.ts) or a
 * bearer JWT (jwt.ts); the route access rules (access.ts) and the scoped broker
 * (scoped-broker.ts) decide with it. Lists are allow-lists: empty allows nothing, '*' anything.
 */

export const ROLES = ['admin', 'contractor', 'subscriber', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export const ANY = '*';

export interface Principal {
  /** key name or JWT subject: the only thing about a caller the audit trail keeps (MIM4) */
  name: string;
  via: 'api-key' | 'jwt' | 'auth-off' | 'none';
  roles: Role[];
  /** NGSILD-Tenant values ('' = the default tenant) */
  tenants: string[];
  /** contractor: project ids (local id or urn) whose progress it reports */
  projects: string[];
  /** contractor: entity types it writes (short name or full IRI) */
  types: string[];
  /** contractor: entity id prefixes it writes */
  idPrefixes: string[];
}

/** AUTH=off: every request acts as this principal (and the audit trail says so). */
export const AUTH_OFF_PRINCIPAL: Principal = Object.freeze({
  name: 'anonymous (AUTH=off)',
  via: 'auth-off',
  roles: ['admin'],
  tenants: [ANY],
  projects: [ANY],
  types: [ANY],
  idPrefixes: [ANY],
}) as Principal;

/** A public route reached without credentials: no role, no tenant. */
export const NOBODY: Principal = Object.freeze({
  name: 'unauthenticated', via: 'none', roles: [], tenants: [], projects: [], types: [], idPrefixes: [],
}) as Principal;

/** PUBLIC_READ_TENANTS: a read without credentials acts as this reader of those tenants. */
export const publicReader = (tenants: string[]): Principal =>
  Object.freeze({ name: 'public', via: 'none', roles: ['reader'], tenants, projects: [], types: [], idPrefixes: [] }) as Principal;

export const isAdmin = (p: Pick<Principal, 'roles'>): boolean => p.roles.includes('admin');

export const mayUseTenant = (p: Principal, tenant: string): boolean => p.tenants.includes(ANY) || p.tenants.includes(tenant);

/**
 * A listed type matches an entity type given either way: short name (`WeatherObserved`) against
 * a compact or expanded type (`https://…/WeatherObserved`), or the full IRI exactly.
 */
export function typeAllowed(p: Pick<Principal, 'types'>, type: string): boolean {
  if (p.types.includes(ANY)) return true;
  return p.types.some((t) => t === type || type.endsWith('/' + t) || type.endsWith('#' + t));
}

export const idAllowed = (p: Pick<Principal, 'idPrefixes'>, id: string): boolean =>
  p.idPrefixes.includes(ANY) || p.idPrefixes.some((prefix) => id.startsWith(prefix));

/** What decides which entities a principal may write; kept with outbox items whose check waits for the broker. */
export type WriteScope = Pick<Principal, 'name' | 'roles' | 'types' | 'idPrefixes'>;

export const writeScopeOf = (p: Principal): WriteScope => ({ name: p.name, roles: p.roles, types: p.types, idPrefixes: p.idPrefixes });

/** Why a contractor may not write this entity, or undefined when it may (admins may write anything). */
export function entityWriteRefusal(p: WriteScope, id: string, types: readonly string[]): string | undefined {
  if (isAdmin(p)) return undefined;
  if (!p.roles.includes('contractor')) return `${p.name} may not write entities`;
  if (!idAllowed(p, id)) return `${p.name} may not write entity ${id.slice(0, 200)}: its id has none of the allowed prefixes`;
  const denied = types.find((t) => !typeAllowed(p, t));
  if (denied !== undefined) return `${p.name} may not write entities of type ${denied.slice(0, 200)}`;
  return undefined;
}

/** 403 unless the principal may write this entity. */
export function assertEntityWrite(p: Principal, id: string, types: readonly string[]): void {
  const why = entityWriteRefusal(p, id, types);
  if (why) throw forbidden(why);
}

/** Project ids are accepted as local id or as `urn:ngsi-ld:Project:<local id>`. */
export function projectAllowed(p: Principal, project: string): boolean {
  if (isAdmin(p) || p.projects.includes(ANY)) return true;
  const local = project.replace(/^urn:ngsi-ld:Project:/, '');
  return p.projects.some((listed) => listed.replace(/^urn:ngsi-ld:Project:/, '') === local);
}

/** Claims of a bearer JWT → principal. Array claims may also be space- or comma-separated strings. */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  const list = (v: unknown): string[] => {
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
    return [];
  };
  const sub = typeof claims.sub === 'string' && claims.sub ? claims.sub : 'jwt:unknown';
  return {
    name: sub.slice(0, 200),
    via: 'jwt',
    roles: list(claims.roles).filter((r): r is Role => (ROLES as readonly string[]).includes(r)),
    // the default tenant is '' and cannot be written in a space-separated list: '-' stands for it
    tenants: list(claims.tenants).map((t) => (t === '-' ? '' : t)),
    projects: list(claims.projects),
    types: list(claims.entity_types),
    idPrefixes: list(claims.id_prefixes),
  };
}
