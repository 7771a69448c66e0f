import type { Queryable } from './db';

/** Row-level access to audit_log (migration 20): batched inserts, filtered pages, pruning. */

export interface AuditRecord {
  at: string;
  principal: string;
  method: string;
  route: string;
  tenant: string;
  entityIds: string[];
  attributes: string[];
  sourceIp?: string;
  status: number;
}

export interface StoredAuditRecord extends AuditRecord {
  seq: number;
}

export interface AuditFilter {
  principal?: string;
  /** records that touched this entity id */
  entity?: string;
  from?: string;
  to?: string;
  limit: number;
  offset: number;
  count: boolean;
}

/** All records in one statement (one round trip per flush, whatever the batch size). */
export async function insertAuditRecords(db: Queryable, records: AuditRecord[]): Promise<void> {
  if (!records.length) return;
  await db.query(
    `INSERT INTO audit_log (at, principal, method, route, tenant, entity_ids, attributes, source_ip, status)
     SELECT (r->>'at')::timestamptz, r->>'principal', r->>'method', r->>'route', r->>'tenant',
            ARRAY(SELECT jsonb_array_elements_text(r->'entityIds')), ARRAY(SELECT jsonb_array_elements_text(r->'attributes')),
            r->>'sourceIp', (r->>'status')::int
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY x.n`,
    [JSON.stringify(records)],
  );
}

interface AuditRow {
  seq: number;
  at: Date | string;
  principal: string;
  method: string;
  route: string;
  tenant: string;
  entity_ids: string[];
  attributes: string[];
  source_ip: string | null;
  status: number;
}

/** Newest first. */
export async function queryAuditRecords(db: Queryable, f: AuditFilter): Promise<{ records: StoredAuditRecord[]; count?: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (f.principal !== undefined) add((p) => `principal = ${p}`, f.principal);
  if (f.entity !== undefined) add((p) => `entity_ids @> ARRAY[${p}::text]`, f.entity);
  if (f.from !== undefined) add((p) => `at >= ${p}::timestamptz`, f.from);
  if (f.to !== undefined) add((p) => `at < ${p}::timestamptz`, f.to);
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const { rows } = await db.query<AuditRow>(
    `SELECT seq, at, principal, method, route, tenant, entity_ids, attributes, source_ip, status FROM audit_log ${whereSql}
      ORDER BY at DESC, seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, f.limit, f.offset],
  );
  let count: number | undefined;
  if (f.count) {
    const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log ${whereSql}`, params);
    count = Number(r.rows[0].n);
  }
  const records = rows.map((r) => ({
    seq: Number(r.seq),
    at: new Date(r.at).toISOString(),
    principal: r.principal,
    method: r.method,
    route: r.route,
    tenant: r.tenant,
    entityIds: r.entity_ids,
    attributes: r.attributes,
    ...(r.source_ip !== null ? { sourceIp: r.source_ip } : {}),
    status: r.status,
  }));
  return { records, count };
}

/** Deletes records older than `before`; returns how many. */
export async function pruneAuditRecords(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM audit_log WHERE at < $1::timestamptz', [before.toISOString()]);
  return rowCount;
}
