import type { Db } from '../store/db';
import { ApiKeyGrantError, createApiKey, type ApiKeyGrant } from '../auth/api-keys';
import { listApiKeys, revokeApiKey, type ApiKeyRecord } from '../store/api-key-store';

/**
 * `smartland keys create|list|revoke`: the same operations as /api/v1/admin/keys, on the
 * configured store, for the operator who has no key yet (or lost the admin one).
 */

export class KeysUsageError extends Error {}

/** CLI lists: comma-separated; '-' is the default tenant (an empty string cannot be typed in a list). */
export const cliList = (values: string[] | undefined, { tenants = false } = {}): string[] =>
  (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map((v) => (tenants && v === '-' ? '' : v));

const describe = (k: ApiKeyRecord): string =>
  [
    k.id,
    k.name,
    `roles=${k.roles.join(',')}`,
    `tenants=${k.tenants.map((t) => (t === '' ? '-' : t)).join(',')}`,
    ...(k.projects.length ? [`projects=${k.projects.join(',')}`] : []),
    ...(k.types.length ? [`types=${k.types.join(',')}`] : []),
    ...(k.idPrefixes.length ? [`id-prefixes=${k.idPrefixes.join(',')}`] : []),
    `created=${k.createdAt}`,
    ...(k.expiresAt ? [`expires=${k.expiresAt}`] : []),
    ...(k.revokedAt ? [`revoked=${k.revokedAt}`] : []),
  ].join('\t');

export async function keysCreate(db: Db, grant: ApiKeyGrant, out: (line: string) => void): Promise<void> {
  try {
    const { key, record } = await createApiKey(db, grant);
    out(describe(record));
    out(`key (shown once, store it now): ${key}`);
  } catch (err) {
    if (err instanceof ApiKeyGrantError) throw new KeysUsageError(err.message);
    throw err;
  }
}

export async function keysList(db: Db, includeRevoked: boolean, out: (line: string) => void): Promise<void> {
  for (const k of await listApiKeys(db, { includeRevoked })) out(describe(k));
}

/** false when there is no such live key */
export async function keysRevoke(db: Db, id: string, out: (line: string) => void): Promise<boolean> {
  const revoked = await revokeApiKey(db, id);
  out(revoked ? `revoked ${id}` : `no live API key ${id}`);
  return revoked;
}
