import { isoTime, type Db, type Queryable } from './db';
import type { Entity } from '../ngsi-ld/types';
import type { ProblemDetails } from '../ngsi-ld/errors';
import type { WriteScope } from '../auth/principal';

/**
 * The ingestion outbox (migration 30): contractor writes in Orion-LD mode, one row per item, kept
 * until the external broker has them. Rows of one entity are delivered in seq order; a worker owns
 * an entity while it holds the lease on the entity's oldest pending row (the head) — see claim().
 * Delivered rows stay (the ingestion's status reads them); failed rows are the dead-letter list.
 */

export type OutboxItemStatus = 'pending' | 'delivered' | 'failed';
export type UpsertMode = 'update' | 'replace';
/** an upsert of the item's entity, or the deletion of the entity with the item's id */
export type OutboxMode = UpsertMode | 'delete';

export interface OutboxRow {
  seq: number;
  ingestionId: string;
  tenant: string;
  entityId: string;
  mode: OutboxMode;
  entity: Entity;
  attempts: number;
  /** the writer's scope, when the entity's stored types are to be checked before delivery (migration 60) */
  scope?: WriteScope;
}

export interface IngestionItem {
  position: number;
  entityId: string;
  status: OutboxItemStatus;
  attempts: number;
  finishedAt?: string;
  error?: ProblemDetails;
}

export interface IngestionStatus {
  id: string;
  createdAt: string;
  total: number;
  pending: number;
  delivered: number;
  failed: number;
  items: IngestionItem[];
}

export interface DeadLetter {
  ingestionId: string;
  position: number;
  entityId: string;
  failedAt: string;
  attempts: number;
  error: ProblemDetails;
}

export class IngestionOutbox {
  constructor(private readonly db: Db) {}

  /**
   * Queues entities of one ingestion in one transaction (the caller answers "accepted" only after
   * it committed). Positions continue from what the ingestion already holds. `scopeOf` names the
   * items whose writer's scope is to be checked against the stored types before delivery.
   */
  async enqueue(
    ingestionId: string,
    tenant: string,
    entities: Entity[],
    mode: OutboxMode,
    scopeOf?: (entity: Entity) => WriteScope | undefined,
  ): Promise<void> {
    if (entities.length === 0) return;
    const scopes = scopeOf ? JSON.stringify(entities.map((e) => scopeOf(e) ?? null)) : null;
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO ingestions (id, tenant) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [ingestionId, tenant]);
      await tx.query(
        `INSERT INTO ingestion_outbox (ingestion_id, position, tenant, entity_id, mode, entity, write_scope)
         SELECT $1, (SELECT coalesce(max(position) + 1, 0) FROM ingestion_outbox WHERE ingestion_id = $1) + t.o - 1, $2, t.e->>'id', $3, t.e,
                nullif($5::jsonb -> (t.o::int - 1), 'null'::jsonb)
           FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS t(e, o) ORDER BY t.o`,
        [ingestionId, tenant, mode, JSON.stringify(entities), scopes],
      );
    });
  }

  /**
   * Claims up to `maxEntities` entities whose head row is due and not leased by a live worker
   * (FOR UPDATE SKIP LOCKED: concurrent claimers pass each other by), and leases the head and the
   * next rows of each, up to `perEntity`, all until the same instant. Later rows of a claimed entity
   * are only ever reached through its head, so no other worker can deliver them out of order.
   */
  async claim(owner: string, maxEntities: number, perEntity: number, leaseMs: number): Promise<OutboxRow[]> {
    return this.db.transaction(async (tx) => {
      const { rows: heads } = await tx.query<{ seq: number }>(
        `SELECT o.seq FROM ingestion_outbox o
          WHERE o.status = 'pending' AND o.available_at <= now() AND (o.lease_until IS NULL OR o.lease_until < now())
            AND NOT EXISTS (SELECT 1 FROM ingestion_outbox p
                             WHERE p.status = 'pending' AND p.tenant = o.tenant AND p.entity_id = o.entity_id AND p.seq < o.seq)
          ORDER BY o.seq LIMIT $1
          FOR UPDATE SKIP LOCKED`,
        [maxEntities],
      );
      if (heads.length === 0) return [];
      const { rows } = await tx.query<Record<string, unknown>>(
        `UPDATE ingestion_outbox o SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond'
           FROM (SELECT n.seq FROM ingestion_outbox h
                   JOIN LATERAL (SELECT seq FROM ingestion_outbox x
                                  WHERE x.status = 'pending' AND x.tenant = h.tenant AND x.entity_id = h.entity_id
                                  ORDER BY x.seq LIMIT $4) n ON true
                  WHERE h.seq = ANY($3::bigint[])) picked
          WHERE o.seq = picked.seq
          RETURNING o.seq, o.ingestion_id, o.tenant, o.entity_id, o.mode, o.entity, o.attempts, o.write_scope`,
        [owner, leaseMs, heads.map((h) => h.seq), perEntity],
      );
      return rows
        .map((r) => ({
          seq: Number(r.seq),
          ingestionId: String(r.ingestion_id),
          tenant: String(r.tenant),
          entityId: String(r.entity_id),
          mode: r.mode as OutboxMode,
          entity: parseJson(r.entity) as Entity,
          attempts: Number(r.attempts),
          ...(r.write_scope ? { scope: parseJson(r.write_scope) as WriteScope } : {}),
        }))
        .sort((x, y) => x.seq - y.seq);
    });
  }

  /** The broker has these rows. */
  async delivered(seqs: number[]): Promise<void> {
    if (!seqs.length) return;
    await this.db.query(
      `UPDATE ingestion_outbox SET status = 'delivered', finished_at = now(), lease_owner = NULL, lease_until = NULL
        WHERE seq = ANY($1::bigint[])`,
      [seqs],
    );
  }

  /** The broker refused these rows for good (4xx): they become dead letters with its problem. */
  async deadLetter(items: { seq: number; error: ProblemDetails }[]): Promise<void> {
    if (!items.length) return;
    await this.db.query(
      `UPDATE ingestion_outbox o SET status = 'failed', finished_at = now(), attempts = o.attempts + 1,
              last_error = d.error, lease_owner = NULL, lease_until = NULL
         FROM jsonb_to_recordset($1::jsonb) AS d(seq bigint, error jsonb)
        WHERE o.seq = d.seq`,
      [JSON.stringify(items)],
    );
  }

  /** A transient failure: the rows wait base·2^attempts (capped) and their leases are released. */
  async retryLater(seqs: number[], error: ProblemDetails, backoff: { baseMs: number; maxMs: number }): Promise<void> {
    if (!seqs.length) return;
    await this.db.query(
      `UPDATE ingestion_outbox SET attempts = attempts + 1, last_error = $2::jsonb, lease_owner = NULL, lease_until = NULL,
              available_at = now() + least($4::float8, $3::float8 * power(2, least(attempts, 30))) * interval '1 millisecond'
        WHERE seq = ANY($1::bigint[])`,
      [seqs, JSON.stringify(error), backoff.baseMs, backoff.maxMs],
    );
  }

  /** Gives back what this worker still holds (after a cycle, or when it stops). */
  async release(owner: string): Promise<void> {
    await this.db.query(
      `UPDATE ingestion_outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND status = 'pending'`,
      [owner],
    );
  }

  /**
   * Forgets items delivered before `before`, and ingestions older than that with nothing left.
   * Dead letters stay: they are someone's to look at.
   */
  async prune(before: Date): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM ingestion_outbox WHERE status = 'delivered' AND finished_at < $1`, [before.toISOString()]);
    await this.db.query(
      `DELETE FROM ingestions i WHERE i.created_at < $1 AND NOT EXISTS (SELECT 1 FROM ingestion_outbox o WHERE o.ingestion_id = i.id)`,
      [before.toISOString()],
    );
    return rowCount;
  }

  /** Items waiting for the broker, and dead letters. */
  async depth(): Promise<{ pending: number; failed: number }> {
    const { rows } = await this.db.query<{ pending: number; failed: number }>(
      `SELECT (SELECT count(*) FROM ingestion_outbox WHERE status = 'pending')::int AS pending,
              (SELECT count(*) FROM ingestion_outbox WHERE status = 'failed')::int AS failed`,
    );
    return { pending: Number(rows[0].pending), failed: Number(rows[0].failed) };
  }

  /** One ingestion of a tenant: counts, and its items from `offset` (undefined when unknown). */
  async status(tenant: string, id: string, page: { limit: number; offset: number }): Promise<IngestionStatus | undefined> {
    const { rows: found } = await this.db.query<{ created_at: unknown }>(
      'SELECT created_at FROM ingestions WHERE id = $1 AND tenant = $2', [id, tenant]);
    if (!found.length) return undefined;
    const { rows: counts } = await this.db.query<{ status: OutboxItemStatus; n: number }>(
      'SELECT status, count(*)::int AS n FROM ingestion_outbox WHERE ingestion_id = $1 GROUP BY status', [id]);
    const n = (s: OutboxItemStatus) => Number(counts.find((c) => c.status === s)?.n ?? 0);
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT position, entity_id, status, attempts, finished_at, last_error FROM ingestion_outbox
        WHERE ingestion_id = $1 ORDER BY position LIMIT $2 OFFSET $3`,
      [id, page.limit, page.offset],
    );
    return {
      id,
      createdAt: isoTime(found[0].created_at as Date | string),
      total: n('pending') + n('delivered') + n('failed'),
      pending: n('pending'),
      delivered: n('delivered'),
      failed: n('failed'),
      items: rows.map((r) => ({
        position: Number(r.position),
        entityId: String(r.entity_id),
        status: r.status as OutboxItemStatus,
        attempts: Number(r.attempts),
        ...(r.finished_at ? { finishedAt: isoTime(r.finished_at as Date | string) } : {}),
        // a pending item's last error is the transient one it is waiting out; shown too
        ...(r.last_error ? { error: parseJson(r.last_error) as ProblemDetails } : {}),
      })),
    };
  }

  /** The dead-letter list of a tenant, oldest first. */
  async deadLetters(tenant: string, page: { limit: number; offset: number }): Promise<{ items: DeadLetter[]; count: number }> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT ingestion_id, position, entity_id, finished_at, attempts, last_error, count(*) OVER ()::int AS total
         FROM ingestion_outbox WHERE tenant = $1 AND status = 'failed' ORDER BY seq LIMIT $2 OFFSET $3`,
      [tenant, page.limit, page.offset],
    );
    const count = rows.length ? Number(rows[0].total) : await this.countDead(this.db, tenant);
    return {
      count,
      items: rows.map((r) => ({
        ingestionId: String(r.ingestion_id),
        position: Number(r.position),
        entityId: String(r.entity_id),
        failedAt: isoTime(r.finished_at as Date | string),
        attempts: Number(r.attempts),
        error: parseJson(r.last_error) as ProblemDetails,
      })),
    };
  }

  private async countDead(q: Queryable, tenant: string): Promise<number> {
    const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ingestion_outbox WHERE tenant = $1 AND status = 'failed'`, [tenant]);
    return Number(rows[0].n);
  }
}

const parseJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
