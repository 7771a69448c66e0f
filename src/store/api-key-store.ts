import { isoTime as iso, type Queryable } from './db';
import type { Principal, Role } from '../auth/principal';

/**
 * Row-level access to api_keys (migration 20). Only the SHA-256 hash of a key is stored; the key
 * is found by its hash (unique index), so a lookup is one indexed query.
 */

export interface ApiKeyRecord {
  id: string;
  name: string;
  roles: Role[];
  tenants: string[];
  projects: string[];
  types: string[];
  idPrefixes: string[];
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

interface ApiKeyRow {
  id: string;
  name: string;
  roles: string[];
  tenants: string[];
  projects: string[];
  entity_types: string[];
  id_prefixes: string[];
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
}

const COLUMNS = 'id, name, roles, tenants, projects, entity_types, id_prefixes, created_at, expires_at, revoked_at';
function rowToRecord(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    roles: r.roles as Role[],
    tenants: r.tenants,
    projects: r.projects,
    types: r.entity_types,
    idPrefixes: r.id_prefixes,
    createdAt: iso(r.created_at),
    ...(r.expires_at ? { expiresAt: iso(r.expires_at) } : {}),
    ...(r.revoked_at ? { revokedAt: iso(r.revoked_at) } : {}),
  };
}

export type NewApiKey = Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>;

/** Inserts a key, or (same id) replaces its hash and grants: the bootstrap admin key on every start. */
export async function upsertApiKey(db: Queryable, key: NewApiKey, keyHash: string): Promise<ApiKeyRecord> {
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, name, key_hash, roles, tenants, projects, entity_types, id_prefixes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, key_hash = EXCLUDED.key_hash, roles = EXCLUDED.roles,
       tenants = EXCLUDED.tenants, projects = EXCLUDED.projects, entity_types = EXCLUDED.entity_types,
       id_prefixes = EXCLUDED.id_prefixes, expires_at = EXCLUDED.expires_at, revoked_at = NULL
     RETURNING ${COLUMNS}`,
    [key.id, key.name, keyHash, key.roles, key.tenants, key.projects, key.types, key.idPrefixes, key.expiresAt ?? null],
  );
  return rowToRecord(rows[0]);
}

/** The principal of a live key (not revoked, not expired), by the key's hash. */
export async function principalByKeyHash(db: Queryable, keyHash: string): Promise<Principal | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
    [keyHash],
    { name: 'api_key_by_hash' },
  );
  if (!rows.length) return undefined;
  const k = rowToRecord(rows[0]);
  return { name: k.name, via: 'api-key', roles: k.roles, tenants: k.tenants, projects: k.projects, types: k.types, idPrefixes: k.idPrefixes };
}

export async function listApiKeys(db: Queryable, opts: { includeRevoked: boolean }): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys ${opts.includeRevoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY created_at, id`,
  );
  return rows.map(rowToRecord);
}

export async function countLiveApiKeys(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL');
  return Number(rows[0].n);
}

/** Marks a key revoked; false when there is no such live key. */
export async function revokeApiKey(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return rowCount > 0;
}
