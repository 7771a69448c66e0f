import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../store/db';
import { upsertApiKey, type ApiKeyRecord, type NewApiKey } from '../store/api-key-store';
import { ANY, ROLES, type Role } from './principal';

/**
 * API keys: 32 random bytes, base64url, with a recognisable prefix (so scanners and people can
 * tell a leaked Smartland key); shown once at creation, stored only as a SHA-256 hash (a key has
 * 256 bits of entropy, so a fast unsalted hash is enough: there is nothing to brute-force).
 */

export const KEY_PREFIX = 'slk_';

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const generateApiKey = (): string => KEY_PREFIX + randomBytes(32).toString('base64url');

const newKeyId = (): string => 'key_' + randomBytes(8).toString('hex');

export interface ApiKeyGrant {
  name: string;
  roles: Role[];
  tenants: string[];
  projects?: string[];
  types?: string[];
  idPrefixes?: string[];
  expiresAt?: string;
}

export class ApiKeyGrantError extends Error {}

/** Checks a grant (admin API and CLI alike): a name, known roles, at least one tenant. */
export function checkGrant(g: ApiKeyGrant): NewApiKey {
  if (!g.name || g.name.length > 200 || /[\u0000-\u001f]/.test(g.name)) throw new ApiKeyGrantError('name: 1-200 printable characters');
  if (!g.roles.length) throw new ApiKeyGrantError(`roles: at least one of ${ROLES.join(', ')}`);
  const unknown = g.roles.find((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown !== undefined) throw new ApiKeyGrantError(`roles: unknown role '${unknown}'; one of ${ROLES.join(', ')}`);
  if (!g.tenants.length) throw new ApiKeyGrantError(`tenants: at least one ('' is the default tenant, '${ANY}' any)`);
  if (g.expiresAt !== undefined && Number.isNaN(Date.parse(g.expiresAt))) throw new ApiKeyGrantError('expiresAt: not a date-time');
  return {
    id: newKeyId(),
    name: g.name,
    roles: [...new Set(g.roles)],
    tenants: [...new Set(g.tenants)],
    projects: g.projects ?? [],
    types: g.types ?? [],
    idPrefixes: g.idPrefixes ?? [],
    ...(g.expiresAt !== undefined ? { expiresAt: new Date(g.expiresAt).toISOString() } : {}),
  };
}

/** Creates a key; the returned `key` is the only time it is ever seen. */
export async function createApiKey(db: Queryable, grant: ApiKeyGrant): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey();
  const record = await upsertApiKey(db, checkGrant(grant), hashApiKey(key));
  return { key, record };
}

/** ADMIN_API_KEY: (re)stored under a fixed id at every start, so changing the setting rotates it. */
export const BOOTSTRAP_KEY_ID = 'key_bootstrap_admin';

export async function storeBootstrapAdminKey(db: Queryable, key: string): Promise<void> {
  const grant = checkGrant({ name: 'bootstrap-admin', roles: ['admin'], tenants: [ANY] });
  await upsertApiKey(db, { ...grant, id: BOOTSTRAP_KEY_ID }, hashApiKey(key));
}
