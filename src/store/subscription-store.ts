import { isoTime, type Queryable } from './db';
import type { Subscription } from '../notify/types';

/**
 * Row-level access to the subscriptions table (migration 5). The internal Subscription is kept as
 * jsonb (`doc`, without the status members), next to the columns that are filtered on or updated
 * by the delivery worker: is_active, expires_at, periodic, next_run_at, and the status counters
 * times_sent, times_failed, last_notification, last_success, last_failure, notification_status.
 * Nothing is cached: several replicas share the table.
 */

export const SUBSCRIPTION_COLUMNS = `s.doc, s.times_sent, s.times_failed, s.last_notification, s.last_success, s.last_failure, s.notification_status`;

export interface SubscriptionRow {
  doc: Omit<Subscription, 'timesSent' | 'timesFailed' | 'lastNotification' | 'lastSuccess' | 'lastFailure' | 'notificationStatus'>;
  times_sent: number;
  times_failed: number;
  last_notification: Date | string | null;
  last_success: Date | string | null;
  last_failure: Date | string | null;
  notification_status: string;
}

const iso = (t: Date | string | null): string | undefined => (t === null ? undefined : isoTime(t));

export function rowToSubscription(r: SubscriptionRow): Subscription {
  const sub: Subscription = {
    ...r.doc,
    timesSent: Number(r.times_sent),
    timesFailed: Number(r.times_failed),
    notificationStatus: r.notification_status === 'failed' ? 'failed' : 'ok',
  };
  const lastNotification = iso(r.last_notification);
  const lastSuccess = iso(r.last_success);
  const lastFailure = iso(r.last_failure);
  if (lastNotification) sub.lastNotification = lastNotification;
  if (lastSuccess) sub.lastSuccess = lastSuccess;
  if (lastFailure) sub.lastFailure = lastFailure;
  return sub;
}

/** The stored document: the Subscription without its status members. */
function docOf(sub: Subscription): string {
  const { timesSent: _a, timesFailed: _b, lastNotification: _c, lastSuccess: _d, lastFailure: _e, notificationStatus: _f, ...doc } = sub;
  return JSON.stringify(doc);
}

/** Inserts a subscription; false when the id is taken in the tenant. */
export async function insertSubscription(tx: Queryable, sub: Subscription): Promise<boolean> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO subscriptions (tenant, id, doc, is_active, expires_at, periodic, next_run_at, created_at, modified_at)
     VALUES ($1, $2, $3::jsonb, $4, $5::timestamptz, $6, CASE WHEN $6 THEN $7::timestamptz END, $7::timestamptz, $7::timestamptz)
     ON CONFLICT (tenant, id) DO NOTHING RETURNING id`,
    [sub.tenant, sub.id, docOf(sub), sub.isActive, sub.expiresAt ?? null, sub.timeInterval !== undefined, sub.createdAt],
  );
  return rows.length > 0;
}

export async function loadSubscription(db: Queryable, tenant: string, id: string, forUpdate = false): Promise<Subscription | undefined> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.tenant = $1 AND s.id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [tenant, id],
  );
  return rows.length ? rowToSubscription(rows[0]) : undefined;
}

/** One page of a tenant's subscriptions, by id; the total when asked. */
export async function listSubscriptions(
  db: Queryable,
  tenant: string,
  page: { limit: number; offset: number; count: boolean },
): Promise<{ subscriptions: Subscription[]; count?: number }> {
  const subscriptions: Subscription[] = [];
  if (page.limit > 0) {
    const { rows } = await db.query<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.tenant = $1 ORDER BY s.id LIMIT $2 OFFSET $3`,
      [tenant, page.limit, page.offset],
    );
    for (const r of rows) subscriptions.push(rowToSubscription(r));
  }
  let count: number | undefined;
  if (page.count) {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscriptions WHERE tenant = $1', [tenant]);
    count = Number(rows[0].n);
  }
  return { subscriptions, count };
}

/**
 * Writes a changed subscription (its document and the columns derived from it). When it becomes
 * periodic, or its timeInterval changes, or it is re-activated, the next periodic run is `now`.
 * Status counters are the worker's and stay as they are.
 */
export async function updateSubscriptionRow(tx: Queryable, before: Subscription, after: Subscription): Promise<void> {
  const periodic = after.timeInterval !== undefined;
  const reschedule = periodic && (before.timeInterval !== after.timeInterval || (!before.isActive && after.isActive));
  await tx.query(
    `UPDATE subscriptions SET doc = $3::jsonb, is_active = $4, expires_at = $5::timestamptz, periodic = $6,
        next_run_at = CASE WHEN NOT $6 THEN NULL WHEN $7 OR next_run_at IS NULL THEN $8::timestamptz ELSE next_run_at END,
        modified_at = $8::timestamptz
      WHERE tenant = $1 AND id = $2`,
    [after.tenant, after.id, docOf(after), after.isActive, after.expiresAt ?? null, periodic, reschedule, after.modifiedAt],
  );
}

/** Deletes a subscription and its pending outbox rows; false when there was none. */
export async function deleteSubscriptionRow(tx: Queryable, tenant: string, id: string): Promise<boolean> {
  const { rows } = await tx.query<{ id: string }>('DELETE FROM subscriptions WHERE tenant = $1 AND id = $2 RETURNING id', [tenant, id]);
  if (rows.length === 0) return false;
  await tx.query('DELETE FROM notification_outbox WHERE tenant = $1 AND subscription_id = $2', [tenant, id]);
  return true;
}

/**
 * The subscriptions an entity write of the tenant may trigger: active, not expired at `now`, not
 * periodic. The one query every write makes (partial index subscriptions_on_change).
 */
export async function loadOnChangeSubscriptions(tx: Queryable, tenant: string, now: string): Promise<Subscription[]> {
  const { rows } = await tx.query<{ doc: SubscriptionRow['doc'] }>(
    `SELECT s.doc FROM subscriptions s
      WHERE s.tenant = $1 AND s.is_active AND NOT s.periodic AND (s.expires_at IS NULL OR s.expires_at > $2::timestamptz)`,
    [tenant, now],
    { name: 'subscriptions_on_change' },
  );
  return rows.map((r) => ({ ...r.doc, timesSent: 0, timesFailed: 0, notificationStatus: 'ok' as const }));
}

/** An outbox row as the matcher inserts it. */
export interface OutboxInsert {
  subscriptionId: string;
  trigger: string;
  entityId: string;
  /** { after?, before?, at }: internal expanded entities (see notify/matcher.ts) */
  payload: unknown;
}

/** Inserts outbox rows in order, in one statement. */
export async function insertOutboxRows(tx: Queryable, tenant: string, now: string, rows: OutboxInsert[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO notification_outbox (tenant, subscription_id, trigger, entity_id, payload, created_at)
     SELECT $1, r->>'s', r->>'t', r->>'e', r->'p', $2::timestamptz
       FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(r, n) ORDER BY x.n`,
    [tenant, now, JSON.stringify(rows.map((r) => ({ s: r.subscriptionId, t: r.trigger, e: r.entityId, p: r.payload })))],
  );
}
