import { forbidden } from '../ngsi-ld/errors';
import { isAdmin, mayUseTenant, projectAllowed, type Principal, type Role } from './principal';

/**
 * What a route needs, declared on the route (`config: { access: 'write' }`) and checked by one
 * hook (plugins/auth.ts) before the handler runs:
 *
 *   public     no credentials (health, documentation, our published @context)
 *   read       queries: every role
 *   write      entity writes: admin, contractor (each entity is then checked by the scoped broker)
 *   subscribe  subscriptions: admin, subscriber (own subscriptions only, scoped broker)
 *   admin      everything else: keys, audit trail, @context management
 *
 * Undeclared routes are safe by default: GET/HEAD under the APIs is `read`, GET/HEAD elsewhere
 * is `public`, and any other method is `admin`.
 */
export type Access = 'public' | 'read' | 'write' | 'subscribe' | 'admin';

const ROLES_FOR: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  read: ['admin', 'contractor', 'subscriber', 'reader'],
  write: ['admin', 'contractor'],
  subscribe: ['admin', 'subscriber'],
  admin: ['admin'],
};

export const API_PREFIXES = ['/ngsi-ld/v1/', '/api/v1/'];

export const isApiRoute = (url: string): boolean => API_PREFIXES.some((p) => url.startsWith(p));

export function routeAccess(declared: Access | undefined, method: string, url: string): Access {
  if (declared) return declared;
  const reading = method === 'GET' || method === 'HEAD';
  if (!reading) return 'admin';
  return isApiRoute(url) ? 'read' : 'public';
}

/** Throws 403 unless the principal has a role for the access and may use the tenant (and project). */
export function assertAccess(p: Principal, access: Exclude<Access, 'public'>, tenant: string, project?: string): void {
  if (!ROLES_FOR[access].some((r) => p.roles.includes(r))) {
    throw forbidden(`${p.name} (roles: ${p.roles.join(', ') || 'none'}) may not ${ACTION[access]}`);
  }
  if (!mayUseTenant(p, tenant)) throw forbidden(`${p.name} may not use tenant '${tenant.slice(0, 100)}'`);
  if (project !== undefined && access === 'write' && !isAdmin(p) && !projectAllowed(p, project)) {
    throw forbidden(`${p.name} may not report on project ${project.slice(0, 200)}`);
  }
}

const ACTION: Record<Exclude<Access, 'public'>, string> = {
  read: 'query context data',
  write: 'write entities',
  subscribe: 'manage subscriptions',
  admin: 'use this administrative operation',
};
