/**
 * Idempotency-Key for the contractor API: a retried request with the same key and the same
 * request is answered with the stored response (same status) instead of being processed again.
 *
 * Records live in idempotency_keys (migration 3), one per (tenant, key):
 * - begin: INSERT … ON CONFLICT DO NOTHING claims the key (status NULL = in progress) before any
 *   work, so two concurrent requests with one key cannot both ingest: the loser sees the claim and
 *   gets 409 "in progress" (or, once the first finished, the stored response);
 * - complete: stores status and response body; abandon: drops the claim (the work failed before a
 *   response worth keeping, e.g. the store was down, so a retry must do it);
 * - a claim left in progress for PENDING_TIMEOUT (the process died mid-request) may be taken
 *   over by a retry (the upsert is idempotent: re-applying the same items gives the same state);
 * - the same key with a different request → 409;
 * - records expire after 24 h: expired ones are ignored and deleted lazily (the one met, and all
 *   expired ones at most once a minute per process).
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../store/db';
import { NgsiError, badRequestData } from '../ngsi-ld/errors';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
const TTL = "interval '24 hours'";
const PENDING_TIMEOUT = "interval '5 minutes'";
const SWEEP_EVERY_MS = 60_000;

const KEY = /^[\x20-\x7e]{1,200}$/;

/** The Idempotency-Key of a request (undefined when absent); 400 unless 1–200 printable ASCII characters. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw badRequestData('Idempotency-Key must be given once');
  if (!KEY.test(header) || header.trim() === '') {
    throw badRequestData('Idempotency-Key must be 1 to 200 printable ASCII characters');
  }
  return header;
}

/** A fingerprint of what a request asks for (its parts joined unambiguously). */
export function requestHash(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p.length}:`).update(p);
  return h.digest('hex');
}

export type IdempotencyClaim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: unknown };

export class IdempotencyStore {
  private lastSweep = 0;

  constructor(private readonly db: Queryable) {}

  /** Claims the key for this request, or answers the stored response; 409 on a mismatch or while in progress. */
  async begin(tenant: string, key: string, hash: string): Promise<IdempotencyClaim> {
    await this.sweep();
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await this.db.query(
        `INSERT INTO idempotency_keys (tenant, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant, key) DO NOTHING RETURNING key`,
        [tenant, key, hash],
      );
      if (inserted.rows.length) return { kind: 'claimed' };
      const { rows } = await this.db.query<{ request_hash: string; status: number | null; response: unknown; expired: boolean; stale: boolean }>(
        `SELECT request_hash, status, response,
                created_at < now() - ${TTL} AS expired, created_at < now() - ${PENDING_TIMEOUT} AS stale
           FROM idempotency_keys WHERE tenant = $1 AND key = $2`,
        [tenant, key],
      );
      const row = rows[0];
      if (!row) continue; // deleted meanwhile: claim again
      if (row.expired) {
        await this.db.query(`DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND created_at < now() - ${TTL}`, [tenant, key]);
        continue;
      }
      if (row.request_hash !== hash) {
        throw new NgsiError('AlreadyExists', 409,
          'Idempotency-Key was already used with a different request (type, atomic, content type or body); use a new key');
      }
      if (row.status === null) {
        if (row.stale) {
          const taken = await this.db.query(
            `UPDATE idempotency_keys SET created_at = now()
              WHERE tenant = $1 AND key = $2 AND status IS NULL AND created_at < now() - ${PENDING_TIMEOUT} RETURNING key`,
            [tenant, key],
          );
          if (taken.rows.length) return { kind: 'claimed' };
        }
        throw new NgsiError('AlreadyExists', 409, 'a request with this Idempotency-Key is still being processed; retry later', {
          'Retry-After': '1',
        });
      }
      const body = typeof row.response === 'string' ? JSON.parse(row.response) : row.response;
      return { kind: 'replay', status: Number(row.status), body };
    }
    throw new NgsiError('InternalError', 500, 'Idempotency-Key could not be claimed');
  }

  /** Keeps the response of a claimed key. */
  async complete(tenant: string, key: string, status: number, body: unknown): Promise<void> {
    await this.db.query('UPDATE idempotency_keys SET status = $3, response = $4::jsonb WHERE tenant = $1 AND key = $2', [
      tenant, key, status, JSON.stringify(body),
    ]);
  }

  /** Drops a claim whose request failed without a response worth replaying. */
  async abandon(tenant: string, key: string): Promise<void> {
    await this.db.query('DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND status IS NULL', [tenant, key]);
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    await this.db.query(`DELETE FROM idempotency_keys WHERE created_at < now() - ${TTL}`);
  }
}
