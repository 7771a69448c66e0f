import { randomUUID } from 'node:crypto';
import { isoTime, type Db } from '../store/db';
import { currentSchema, PgListener } from '../store/pg-listener';
import { StatementBatcher } from '../store/statement-batcher';
import type { ContextBroker, EntityQuery, EntitySelector } from '../broker/context-broker';
import type { ContextResolver } from '../ngsi-ld/context/resolver';
import type { ContextValue } from '../ngsi-ld/context/types';
import type { Entity } from '../ngsi-ld/types';
import { parseQ } from '../ngsi-ld/query/q';
import { parseScopeQ } from '../ngsi-ld/query/scope';
import { parseGeoQuery } from '../ngsi-ld/query/geo';
import { renderNotification, type ChangeItem } from './render-notification';
import { Senders, type Sender, type SendResult } from './senders';
import type { EndpointPolicy } from './ssrf';
import type { Subscription } from './types';

/**
 * The delivery worker: sends what the matcher queued in notification_outbox, and the periodic
 * (timeInterval) notifications. Every replica of the service runs one on the same database.
 *
 * Claiming. A worker takes a subscription, not single rows: in one statement it locks due
 * subscription rows with FOR UPDATE SKIP LOCKED, stamps a lease on them (delivery_owner,
 * delivery_until) and returns their first batch of queued rows. Due subscriptions are claimed
 * oldest work first: by the created_at of their head row (the lowest seq, read through the
 * (tenant, subscription_id, seq) index), periodic ones by next_run_at. While the lease holds, no
 * other worker claims that subscription, so its rows go out one batch at a time in seq order
 * (per-subscription order). The lease, not an open transaction, protects the sending: no
 * connection (and on PGlite, no database) is held during network I/O. A worker that dies leaves
 * the lease to expire; then another worker claims the subscription and sends the rows again
 * (at-least-once: rows are deleted only after the endpoint accepted them).
 *
 * Batching. Up to `batchSize` queued rows of one subscription become one Notification (data is
 * an array), in seq order. After a success, ONE statement deletes the delivered rows, updates the
 * status, renews the lease and returns the next batch (successes of other subscriptions acknowledged
 * meanwhile share that statement: acknowledge()); when there is none (or the claim has sent
 * `batchesPerClaim` batches, or the subscription is throttled, or the lease is about to run out)
 * the same statement releases the claim instead. So a subscription that keeps receiving rows is
 * served back to back, at most one statement per notification, and a long backlog is put back after
 * `batchesPerClaim` batches so that it does not hold a delivery slot while other subscriptions'
 * rows age (the next claim takes the oldest work first).
 *
 * Failure. A failed send keeps the rows: the first row's next_attempt_at moves out by an
 * exponential backoff (base * 2^attempts, capped), the subscription's timesFailed/lastFailure are
 * updated and notification.status becomes "failed"; the next success sets it back to "ok".
 *
 * Throttling. A subscription with `throttling` is not claimed before lastNotification + throttling;
 * its rows wait (and then go out together). One notification per claim.
 *
 * Periodic subscriptions (timeInterval): at next_run_at the worker queries the matching entities
 * through the broker, sends them, and moves next_run_at by whole intervals (next_run_at + k *
 * interval, the first such instant in the future), so the schedule does not drift.
 *
 * Expiry and pause: subscriptions that are not active or have expired are not claimed; their
 * queued rows are kept (resuming or extending the subscription delivers them). Rows whose
 * subscription was deleted are purged.
 *
 * Wake-up: PostgreSQL LISTEN on `smartland_outbox` (a statement trigger on notification_outbox
 * calls pg_notify with the schema name), an in-process wake() and a poll interval fallback (the
 * only mechanism on PGlite besides wake()). Nothing about subscriptions is cached in memory: every
 * claim reads them from the database.
 */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export interface DeliveryWorkerOptions {
  db: Db;
  broker: ContextBroker;
  contexts: ContextResolver;
  policy: EndpointPolicy;
  /** defaults to HTTP + MQTT senders built from the policy */
  sender?: Sender;
  /** id written into delivery_owner (default: random) */
  workerId?: string;
  /** subscriptions delivered at the same time (default 128; NOTIFY_CONCURRENCY) */
  concurrency?: number;
  /** queued rows per notification (default 100) */
  batchSize?: number;
  /** batches sent under one claim before the subscription is put back (default 20) */
  batchesPerClaim?: number;
  /** poll interval when nothing wakes the worker (default 1000 ms; 250 ms on PGlite) */
  pollMs?: number;
  /** how long a claim protects a subscription (default 60 s; at least 3 * timeoutMs) */
  leaseMs?: number;
  /** per-notification timeout (default 10 s) */
  timeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** PostgreSQL URL for LISTEN/NOTIFY wake-ups (PostgreSQL only) */
  listenUrl?: string;
  /** how often rows of deleted subscriptions are purged (default 60 s) */
  housekeepingMs?: number;
  logger?: { info: (o: unknown, m?: string) => void; warn: (o: unknown, m?: string) => void; error: (o: unknown, m?: string) => void };
}

export const NOTIFY_CHANNEL = 'smartland_outbox';

interface ClaimedRow {
  tenant: string;
  id: string;
  doc: Omit<Subscription, 'tenant' | 'id'> & Record<string, unknown>;
  periodic: boolean;
  next_run_at: Date | string | null;
  /** the first batch of queued rows (on-change subscriptions), fetched with the claim */
  rows: OutboxRow[];
  /** when the claim was taken (this process's clock), for the lease */
  claimedAt: number;
}

/** a successful send, to acknowledge */
interface Ack {
  tenant: string;
  id: string;
  seqs: string[];
  /** whether to fetch the next batch and keep the claim */
  more: boolean;
}

interface OutboxRow {
  seq: number | string;
  trigger: string;
  entity_id: string;
  payload: { after?: Entity; before?: Entity } | string;
  created_at: Date | string;
  attempts: number;
}

const SUB_STATUS_DEFAULTS = { timesSent: 0, timesFailed: 0, notificationStatus: 'ok' as const };

export interface WorkerStats {
  notificationsSent: number;
  notificationsFailed: number;
  rowsDelivered: number;
}

export class DeliveryWorker {
  readonly id: string;
  readonly stats: WorkerStats = { notificationsSent: 0, notificationsFailed: 0, rowsDelivered: 0 };
  private readonly db: Db;
  private readonly sender: Sender;
  private readonly ownsSender: boolean;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly batchesPerClaim: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly backoff: BackoffOptions;
  private readonly housekeepingMs: number;
  private readonly timeoutMs: number;
  private running = false;
  private killed = false;
  private inFlight = 0;
  private pumping = false;
  private again = false;
  /**
   * Whether a claim may find work: false after a claim came back short (every due subscription was
   * taken) until something signals new work: wake(), or a claim released with rows left. A
   * finished delivery then does not run a claim that would come back empty (they were half of all
   * claims under load, and claims run one at a time).
   */
  private maybeMore = true;
  /** counts wake-ups, so that a claim that came back short does not hide one that came meanwhile */
  private signals = 0;
  private pollTimer?: NodeJS.Timeout;
  private wakeTimers = new Set<NodeJS.Timeout>();
  private lastHousekeeping = 0;
  private listener?: PgListener;
  private schema?: string;
  private readonly jobs = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  /** acknowledgements of successful sends; the answer is the subscription's next batch ([]: released or not ours) */
  private readonly acks: StatementBatcher<Ack, OutboxRow[]>;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.id = opts.workerId ?? `worker-${randomUUID()}`;
    this.db = opts.db;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.timeoutMs = timeoutMs;
    this.ownsSender = !opts.sender;
    this.sender = opts.sender ?? new Senders({ policy: opts.policy, timeoutMs });
    this.concurrency = opts.concurrency ?? 128;
    this.batchSize = opts.batchSize ?? 100;
    this.batchesPerClaim = opts.batchesPerClaim ?? 20;
    this.pollMs = opts.pollMs ?? (opts.db.kind === 'pglite' ? 250 : 1000);
    this.leaseMs = Math.max(opts.leaseMs ?? 60_000, opts.leaseMs !== undefined ? 0 : 3 * timeoutMs);
    this.backoff = { baseMs: opts.backoff?.baseMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 5 * 60_000 };
    this.housekeepingMs = opts.housekeepingMs ?? 60_000;
    // under load, dozens of deliveries finishing at about the same time share one statement instead of
    // queueing one each on the pool (each with its parse, plan and commit)
    this.acks = new StatementBatcher({ maxInFlight: 2, maxBatch: this.concurrency, run: (batch) => this.acknowledge(batch) });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.killed = false;
    if (this.opts.listenUrl && this.db.kind === 'postgres') await this.listen(this.opts.listenUrl);
    this.pollTimer = setInterval(() => this.wake(), this.pollMs);
    this.pollTimer.unref?.();
    this.wake();
  }

  /** Graceful stop: no new claims; waits for the deliveries in flight, which release their claims. */
  async stop(): Promise<void> {
    if (this.killed || (!this.running && this.jobs.size === 0)) return;
    this.running = false;
    this.clearTimers();
    await Promise.allSettled([...this.jobs]);
    await this.unlisten();
    if (this.ownsSender) await this.sender.close();
  }

  /**
   * Abrupt stop, as if the process died: no new database writes, claims are NOT released (their
   * leases expire). For tests of crash recovery.
   */
  async kill(): Promise<void> {
    this.killed = true;
    this.running = false;
    this.clearTimers();
    await this.unlisten();
    // the sockets die with the "process": requests in flight fail, their jobs write nothing
    if (this.ownsSender) await this.sender.close();
  }

  /** Whether LISTEN/NOTIFY is connected: then every queued row (this process's too) wakes the worker. */
  get listening(): boolean {
    return this.listener?.connected === true;
  }

  /** Asks for a claim round now (after a commit that queued rows, on a LISTEN notification, on poll). */
  wake(): void {
    if (!this.running) return;
    this.signals++;
    this.maybeMore = true;
    void this.pump();
  }

  /** Resolves when nothing is in flight and a claim round found nothing to do (tests, bench). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && !this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private clearTimers(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    for (const t of this.wakeTimers) clearTimeout(t);
    this.wakeTimers.clear();
  }

  private wakeAt(at: number): void {
    if (!this.running) return;
    const delay = Math.max(0, at - Date.now()) + 2;
    const t = setTimeout(() => {
      this.wakeTimers.delete(t);
      this.wake();
    }, delay);
    t.unref?.();
    this.wakeTimers.add(t);
  }

  // --- LISTEN/NOTIFY ---------------------------------------------------------------------------

  /** LISTEN for outbox inserts of this schema (the trigger's payload); the poll covers the gaps. */
  private async listen(url: string): Promise<void> {
    this.schema ??= await currentSchema(this.db);
    this.listener = new PgListener(url, NOTIFY_CHANNEL, (payload) => {
      if (payload === this.schema) this.wake();
    }, this.opts.logger);
    await this.listener.start();
  }

  private async unlisten(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    await l?.close();
  }

  // --- claiming --------------------------------------------------------------------------------

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (!this.running) break;
        await this.housekeeping();
        const free = this.concurrency - this.inFlight;
        if (free <= 0) break;
        const signals = this.signals;
        const claimed = await this.claim(free);
        for (const row of claimed) this.dispatch(row);
        if (claimed.length === free) this.again = true;
        else if (signals === this.signals) this.maybeMore = false;
      } while (this.again && this.running);
    } catch (err) {
      if (!this.killed) this.opts.logger?.error({ err }, 'notification worker: claim failed');
    } finally {
      this.pumping = false;
      if (this.inFlight === 0) this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private dispatch(row: ClaimedRow): void {
    this.inFlight++;
    const job = (row.periodic ? this.runPeriodic(row) : this.runQueue(row))
      .catch((err) => {
        if (!this.killed) this.opts.logger?.error({ err, subscription: row.id }, 'notification worker: delivery failed');
        this.maybeMore = true;
        return this.release(row).catch(() => undefined);
      })
      .finally(() => {
        this.inFlight--;
        this.jobs.delete(job);
        if (this.running && this.maybeMore) void this.pump();
        else if (this.inFlight === 0) this.notifyIdle();
      });
    this.jobs.add(job);
  }

  /**
   * One statement: the due subscriptions (queued rows whose head is due, not throttled; or
   * periodic ones whose next run has come), oldest work first (the head row's created_at, or
   * next_run_at), locked with SKIP LOCKED, leased to this worker, each with its first batch of
   * queued rows.
   */
  private async claim(limit: number): Promise<ClaimedRow[]> {
    const claimedAt = Date.now();
    const { rows } = await this.db.query<Omit<ClaimedRow, 'rows' | 'claimedAt'> & { rows: OutboxRow[] | string | null }>(
      `WITH c AS (
         SELECT s.tenant, s.id FROM subscriptions s
           LEFT JOIN LATERAL (SELECT o.created_at, o.next_attempt_at FROM notification_outbox o
                               WHERE o.tenant = s.tenant AND o.subscription_id = s.id ORDER BY o.seq LIMIT 1) h ON NOT s.periodic
          WHERE s.is_active
            AND (s.expires_at IS NULL OR s.expires_at > now())
            AND (s.delivery_until IS NULL OR s.delivery_until < now())
            AND CASE WHEN s.periodic THEN s.next_run_at <= now()
                ELSE h.next_attempt_at <= now()
                     AND (s.last_notification IS NULL OR s.doc->'throttling' IS NULL OR jsonb_typeof(s.doc->'throttling') <> 'number'
                          OR s.last_notification + (s.doc->>'throttling')::float8 * interval '1 second' <= now())
                END
          ORDER BY CASE WHEN s.periodic THEN s.next_run_at ELSE h.created_at END, s.last_notification NULLS FIRST
          LIMIT $1
          FOR UPDATE OF s SKIP LOCKED
       ), u AS (
         UPDATE subscriptions s SET delivery_owner = $2, delivery_until = now() + $3::int * interval '1 millisecond'
           FROM c WHERE s.tenant = c.tenant AND s.id = c.id
         RETURNING s.tenant, s.id, s.doc, s.periodic, s.next_run_at
       )
       SELECT u.tenant, u.id, u.doc, u.periodic, u.next_run_at, b.rows
         FROM u LEFT JOIN LATERAL (${BATCH_SQL('u.tenant', 'u.id', '$4', 'NULL')}) b ON NOT u.periodic`,
      [limit, this.id, this.leaseMs, this.batchSize],
    );
    return rows.map((r) => ({
      ...r,
      doc: typeof r.doc === 'string' ? JSON.parse(r.doc) : r.doc,
      rows: parseRows(r.rows),
      claimedAt,
    }));
  }

  private async release(row: ClaimedRow): Promise<void> {
    if (this.killed) return;
    await this.db.query(
      'UPDATE subscriptions SET delivery_owner = NULL, delivery_until = NULL WHERE tenant = $1 AND id = $2 AND delivery_owner = $3',
      [row.tenant, row.id, this.id],
    );
  }

  private subscriptionOf(row: ClaimedRow): Subscription {
    return { ...SUB_STATUS_DEFAULTS, ...row.doc, tenant: row.tenant, id: row.id } as Subscription;
  }

  // --- on-change deliveries --------------------------------------------------------------------

  private async runQueue(row: ClaimedRow): Promise<void> {
    const sub = this.subscriptionOf(row);
    const throttleMs = typeof sub.throttling === 'number' && sub.throttling > 0 ? sub.throttling * 1000 : 0;
    // a batch is started only while the lease outlasts a whole send (timeout) with a margin
    const leaseMarginMs = Math.min(this.timeoutMs + 1000, this.leaseMs / 2);
    let leaseFrom = row.claimedAt;
    let rows = row.rows;
    let released = false;
    for (let batch = 1; rows.length > 0 && !this.killed; batch++) {
      const items: ChangeItem[] = rows.map((r) => {
        const payload = typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload;
        return { trigger: r.trigger, after: payload?.after ?? undefined, before: payload?.before ?? undefined, at: isoTime(r.created_at) };
      });
      const result = await this.deliver(sub, items);
      if (this.killed) return; // as if the process had died here: nothing is written
      const seqs = rows.map((r) => String(r.seq));
      if (result.ok) {
        const sentAt = Date.now();
        // go on with this subscription: more batches allowed, not throttled, the lease still long enough
        const more = batch < this.batchesPerClaim && !throttleMs && sentAt + leaseMarginMs < leaseFrom + this.leaseMs;
        // delete the delivered rows, update the status, and either fetch the next batch and renew
        // the lease, or (nothing more to send now) release the claim: one statement, shared with
        // the acknowledgements of other subscriptions made meanwhile
        const next = await this.acks.submit({ tenant: row.tenant, id: row.id, seqs, more });
        this.stats.notificationsSent++;
        this.stats.rowsDelivered += rows.length;
        leaseFrom = sentAt;
        // no rows: the statement released the claim (or it was not ours any more)
        rows = next;
        if (rows.length === 0) {
          released = true;
          // put back before its queue was empty: the next claim may take it (or another's rows)
          if (!more) this.maybeMore = true;
        }
        if (throttleMs) this.wakeAt(Date.now() + throttleMs);
      } else {
        const attempts = Number(rows[0].attempts) + 1;
        const delay = this.backoffMs(attempts);
        await this.db.query(
          `WITH u AS (UPDATE notification_outbox SET attempts = attempts + 1,
                        next_attempt_at = now() + $4::int * interval '1 millisecond', last_error = $5
                       WHERE seq = ANY($6::bigint[]) RETURNING 1)
           UPDATE subscriptions SET times_sent = times_sent + 1, times_failed = times_failed + 1, last_notification = now(),
                  last_failure = now(), notification_status = 'failed', delivery_owner = NULL, delivery_until = NULL
            WHERE tenant = $1 AND id = $2 AND delivery_owner = $3 AND (SELECT count(*) FROM u) >= 0`,
          [row.tenant, row.id, this.id, delay, (result.error ?? 'failed').slice(0, 1000), seqs],
        );
        released = true;
        this.stats.notificationsFailed++;
        this.opts.logger?.warn({ subscription: row.id, error: result.error, attempts, retryInMs: delay }, 'notification failed');
        this.wakeAt(Date.now() + delay);
        break;
      }
    }
    if (!released && !this.killed) await this.release(row);
  }

  /**
   * One statement for many subscriptions' successful sends: deletes their delivered rows, updates
   * each one's status and, where `more`, returns its next batch and renews its lease, else
   * releases its claim (also when it has no next batch). A subscription whose lease is no longer
   * ours is not touched and gets [] (its rows are deleted all the same: they were delivered).
   * nx is MATERIALIZED: inlined, its batch query would run once per use (three times per row).
   */
  private async acknowledge(batch: Ack[]): Promise<OutboxRow[][]> {
    // as if the process had died while these waited for their turn: nothing is written
    if (this.killed) throw new Error('the worker was killed');
    const { rows } = await this.db.query<{ tenant: string; id: string; rows: OutboxRow[] | string | null }>(
      `WITH a AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(tenant text, id text, seqs bigint[], more boolean)),
       d AS (DELETE FROM notification_outbox WHERE seq = ANY($5::bigint[]) RETURNING 1),
       nx AS MATERIALIZED (SELECT a.tenant, a.id, CASE WHEN a.more THEN (${BATCH_SQL('a.tenant', 'a.id', '$4', 'a.seqs')}) END AS rows FROM a),
       u AS (UPDATE subscriptions s SET times_sent = times_sent + 1, last_notification = now(), last_success = now(),
                    notification_status = 'ok',
                    delivery_owner = CASE WHEN nx.rows IS NOT NULL THEN s.delivery_owner END,
                    delivery_until = CASE WHEN nx.rows IS NOT NULL THEN now() + $3::int * interval '1 millisecond' END
               FROM nx
              WHERE s.tenant = nx.tenant AND s.id = nx.id AND s.delivery_owner = $2 AND (SELECT count(*) FROM d) >= 0
             RETURNING s.tenant, s.id, nx.rows)
       SELECT tenant, id, rows FROM u`,
      [JSON.stringify(batch), this.id, this.leaseMs, this.batchSize, batch.flatMap((a) => a.seqs)],
      { name: 'notification_ack' },
    );
    const next = new Map(rows.map((r) => [`${r.tenant}\u0000${r.id}`, parseRows(r.rows)]));
    return batch.map((a) => next.get(`${a.tenant}\u0000${a.id}`) ?? []);
  }

  private backoffMs(attempts: number): number {
    const exp = Math.min(this.backoff.baseMs * 2 ** Math.max(0, attempts - 1), this.backoff.maxMs);
    // +-10 % jitter, so that replicas retrying one endpoint do not stampede
    return Math.max(1, Math.round(exp * (0.9 + Math.random() * 0.2)));
  }

  private async deliver(sub: Subscription, items: ChangeItem[]): Promise<SendResult> {
    try {
      const message = await renderNotification(sub, items, this.opts.contexts);
      return await this.sender.send(sub.notification.endpoint, message);
    } catch (err) {
      return { ok: false, error: `notification could not be built: ${(err as Error).message}` };
    }
  }

  // --- periodic (timeInterval) -----------------------------------------------------------------

  private async runPeriodic(row: ClaimedRow): Promise<void> {
    const sub = this.subscriptionOf(row);
    const interval = Number(sub.timeInterval);
    let result: SendResult | undefined;
    try {
      const entities = await this.queryMatching(sub);
      if (entities.length) result = await this.deliver(sub, entities.map((after) => ({ after })));
    } catch (err) {
      result = { ok: false, error: `periodic query failed: ${(err as Error).message}` };
    }
    if (this.killed) return;
    if (result && !result.ok) {
      this.stats.notificationsFailed++;
      this.opts.logger?.warn({ subscription: sub.id, error: result.error }, 'periodic notification failed');
    } else if (result) this.stats.notificationsSent++;
    const status = !result
      ? ''
      : result.ok
        ? `, times_sent = times_sent + 1, last_notification = now(), last_success = now(), notification_status = 'ok'`
        : `, times_sent = times_sent + 1, times_failed = times_failed + 1, last_notification = now(), last_failure = now(), notification_status = 'failed'`;
    const { rows } = await this.db.query<{ next_run_at: Date | string }>(
      `UPDATE subscriptions
          SET next_run_at = next_run_at + $4::float8 * interval '1 second'
                * GREATEST(1, floor(extract(epoch FROM (now() - next_run_at)) / $4::float8) + 1),
              delivery_owner = NULL, delivery_until = NULL${status}
        WHERE tenant = $1 AND id = $2 AND delivery_owner = $3
        RETURNING next_run_at`,
      [row.tenant, row.id, this.id, interval > 0 ? interval : 1],
    );
    if (rows[0]) this.wakeAt(new Date(rows[0].next_run_at).getTime());
  }

  /** The entities a periodic subscription notifies about: its selectors, q, geoQ and scopeQ. */
  private async queryMatching(sub: Subscription): Promise<Entity[]> {
    const tm = await this.opts.contexts.resolve(sub.jsonldContext as ContextValue);
    const expand = (t: string) => tm.expand(t);
    const selectors: EntitySelector[] = (sub.entities ?? []).map((e) => ({
      types: e.type ? { anyOf: [[e.type]] } : undefined,
      ids: e.id ? [e.id] : undefined,
      idPattern: e.idPattern,
    }));
    const query: EntityQuery = {
      selectors,
      q: sub.q ? parseQ(sub.q) : undefined,
      scopeQ: sub.scopeQ ? parseScopeQ(sub.scopeQ) : undefined,
      geo: sub.geoQ ? parseGeoQuery(sub.geoQ, expand) : undefined,
      attrs: !selectors.length && sub.watchedAttributes?.length ? sub.watchedAttributes : undefined,
      limit: 1000,
      offset: 0,
      count: false,
      expand,
    };
    const out: Entity[] = [];
    for (let page = 0; page < 100; page++) {
      const { entities } = await this.opts.broker.queryEntities(sub.tenant, { ...query, offset: page * query.limit });
      out.push(...entities);
      if (entities.length < query.limit) break;
    }
    return out;
  }

  // --- housekeeping ----------------------------------------------------------------------------

  private async housekeeping(): Promise<void> {
    const now = Date.now();
    if (now - this.lastHousekeeping < this.housekeepingMs) return;
    this.lastHousekeeping = now;
    await this.db.query(
      `DELETE FROM notification_outbox o
        WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant = o.tenant AND s.id = o.subscription_id)`,
    );
  }
}

/**
 * The next batch of a subscription's queued rows, in seq order, as one json array (NULL when
 * there is none), leaving out `exclude` (the rows this very statement deletes: its snapshot still
 * sees them).
 */
const BATCH_SQL = (tenant: string, id: string, limit: string, exclude: string): string =>
  `SELECT json_agg(json_build_object('seq', o.seq, 'trigger', o.trigger, 'entity_id', o.entity_id, 'payload', o.payload,
                                     'created_at', o.created_at, 'attempts', o.attempts) ORDER BY o.seq) AS rows
     FROM (SELECT o.* FROM notification_outbox o
            WHERE o.tenant = ${tenant} AND o.subscription_id = ${id}${exclude === 'NULL' ? '' : ` AND NOT (o.seq = ANY(${exclude}))`}
            ORDER BY o.seq LIMIT ${limit}) o`;

function parseRows(v: OutboxRow[] | string | null | undefined): OutboxRow[] {
  if (v === null || v === undefined) return [];
  return typeof v === 'string' ? (JSON.parse(v) as OutboxRow[]) : v;
}
