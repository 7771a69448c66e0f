import { randomUUID } from 'node:crypto';
import { forbidden, NgsiError, type ProblemDetails } from '../../ngsi-ld/errors';
import type { IngestionOutbox, OutboxRow } from '../../store/ingestion-outbox';
import type { BatchResult, ContextBroker } from '../context-broker';
import { storedTypes } from '../../auth/scoped-broker';
import { entityWriteRefusal } from '../../auth/principal';

/**
 * Delivers the ingestion outbox to the external broker: every replica may run one; they share the
 * work through the outbox's leases (IngestionOutbox.claim).
 *
 * A cycle claims up to `maxEntities` entities with up to `perEntity` rows each and sends them in
 * layers: layer k holds the k-th row of every claimed entity, one batch upsert per tenant and mode,
 * so an entity is never twice in one batch and its rows reach the broker in seq order. After each
 * layer its rows are marked (delivered / dead letter), so a crash repeats at most one layer (the
 * upsert is idempotent: the same item applied again gives the same state). Deletions (mode
 * 'delete') go as batch deletes; an entity that is not there any more counts as deleted.
 *
 * - Items queued while the broker could not tell their entity's stored types carry the writer's
 *   scope: the stored types are read just before sending, and an item its writer may not write
 *   (auth/principal.ts) is a dead letter with a 403 problem, as it would have been refused at once.
 *
 * - 4xx for one entity (207 errors) or for a single-entity batch: the row is a dead letter with the
 *   broker's problem; the entity's later rows go on. A 4xx for a whole multi-entity batch is
 *   retried entity by entity to find the culprit.
 * - Network errors, timeouts, 5xx, 429: the entities of that batch stop for this cycle, their current
 *   row waits out an exponential backoff; the circuit breaker counts the failure.
 * - Circuit breaker: after `breakerThreshold` consecutive failed cycles the worker stops sending for
 *   `breakerCooldownMs` (doubling while the broker stays down, up to 8×); then one cycle probes
 *   (half-open) and a success closes it.
 */

export type OutboxWriter = Pick<ContextBroker, 'batchUpsert' | 'batchDelete' | 'queryEntities'>;

export interface OutboxDeliveryOptions {
  outbox: IngestionOutbox;
  broker: OutboxWriter;
  workerId?: string;
  maxEntities?: number;
  perEntity?: number;
  leaseMs?: number;
  pollMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  breakerThreshold?: number;
  breakerCooldownMs?: number;
  /** delivered items are forgotten after this long (0: kept) */
  retentionMs?: number;
  /** how often the worker prunes */
  pruneEveryMs?: number;
  logger?: { warn: (obj: unknown, msg: string) => void; error: (obj: unknown, msg: string) => void; info: (obj: unknown, msg: string) => void };
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Consecutive failures open it; after the cooldown one attempt probes. */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private cooldown: number;
  private state_: BreakerState = 'closed';

  constructor(private readonly threshold: number, private readonly baseCooldownMs: number) {
    this.cooldown = baseCooldownMs;
  }

  get state(): BreakerState {
    if (this.state_ === 'open' && Date.now() - this.openedAt >= this.cooldown) this.state_ = 'half-open';
    return this.state_;
  }

  /** ms until a probe is allowed (0 when sending is allowed now) */
  get waitMs(): number {
    return this.state === 'open' ? this.cooldown - (Date.now() - this.openedAt) : 0;
  }

  success(): void {
    this.failures = 0;
    this.cooldown = this.baseCooldownMs;
    this.state_ = 'closed';
  }

  failure(): void {
    this.failures++;
    if (this.state_ === 'half-open') this.cooldown = Math.min(this.cooldown * 2, this.baseCooldownMs * 8);
    if (this.state_ === 'half-open' || this.failures >= this.threshold) {
      this.state_ = 'open';
      this.openedAt = Date.now();
    }
  }
}

const isTransient = (err: unknown): boolean => !(err instanceof NgsiError) || err.status >= 500 || err.status === 429;

const problemOf = (err: unknown): ProblemDetails =>
  err instanceof NgsiError ? err.toProblem() : { type: 'https://uri.etsi.org/ngsi-ld/errors/InternalError', title: 'Internal Error', status: 500, detail: String((err as Error)?.message ?? err) };

export class OutboxDelivery {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  private readonly o: Required<Omit<OutboxDeliveryOptions, 'logger' | 'workerId'>> & Pick<OutboxDeliveryOptions, 'logger'>;
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;

  constructor(opts: OutboxDeliveryOptions) {
    this.id = opts.workerId ?? `outbox-${randomUUID()}`;
    this.o = {
      maxEntities: 500, perEntity: 20, leaseMs: 60_000, pollMs: 1000,
      backoff: { baseMs: 500, maxMs: 60_000 }, breakerThreshold: 3, breakerCooldownMs: 2000,
      retentionMs: 0, pruneEveryMs: 10 * 60_000,
      ...opts,
    };
    this.breaker = new CircuitBreaker(this.o.breakerThreshold, this.o.breakerCooldownMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the cycle in flight, then gives back the leases still held. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.o.outbox.release(this.id).catch(() => undefined);
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    let prunedAt = 0;
    while (this.running) {
      if (this.o.retentionMs > 0 && Date.now() - prunedAt >= this.o.pruneEveryMs) {
        prunedAt = Date.now();
        await this.o.outbox.prune(new Date(prunedAt - this.o.retentionMs))
          .catch((err: unknown) => this.o.logger?.error({ err }, 'ingestion outbox: pruning failed'));
      }
      let worked = false;
      const wait = this.breaker.waitMs;
      if (wait === 0) {
        try {
          worked = await this.cycle();
        } catch (err) {
          this.o.logger?.error({ err }, 'ingestion outbox: delivery cycle failed');
        }
      }
      if (!worked && this.running) await this.idle(wait || this.o.pollMs);
    }
  }

  /** Waits `ms`, or less when woken (a wake while working makes the next wait return at once). */
  private idle(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        this.wakeUp = undefined;
        resolve();
      };
    }).then(() => {
      this.woken = false;
    });
  }

  /** One claim, sent layer by layer. Returns whether there was anything to do. */
  async cycle(): Promise<boolean> {
    const rows = await this.o.outbox.claim(this.id, this.o.maxEntities, this.o.perEntity, this.o.leaseMs);
    if (rows.length === 0) return false;
    const queues = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      const key = `${r.tenant}\u0000${r.entityId}`;
      const q = queues.get(key);
      if (q) q.push(r);
      else queues.set(key, [r]);
    }
    let failedOnce = false;
    let sentOnce = false;
    try {
      while (queues.size > 0 && this.running) {
        const layer = [...queues.entries()].map(([key, q]) => ({ key, row: q[0] }));
        const groups = new Map<string, { key: string; row: OutboxRow }[]>();
        for (const item of layer) {
          const g = `${item.row.tenant}\u0000${item.row.mode}`;
          groups.get(g)?.push(item) ?? groups.set(g, [item]);
        }
        for (const group of groups.values()) {
          const outcome = await this.send(group.map((g) => g.row));
          for (const { key, row } of group) {
            if (outcome.transient.has(row.seq)) {
              failedOnce = true;
              queues.delete(key);
            } else {
              sentOnce = true;
              queues.get(key)!.shift();
              if (queues.get(key)!.length === 0) queues.delete(key);
            }
          }
        }
      }
    } finally {
      await this.o.outbox.release(this.id);
    }
    if (failedOnce && !sentOnce) this.breaker.failure();
    else if (sentOnce) this.breaker.success();
    return sentOnce;
  }

  /** The rows whose writer may write their entity; the others are marked dead letters (403). */
  private async allowed(rows: OutboxRow[]): Promise<OutboxRow[]> {
    const unchecked = rows.filter((r) => r.scope);
    if (!unchecked.length) return rows;
    const stored = await storedTypes(this.o.broker, rows[0].tenant, unchecked.map((r) => r.entityId));
    const refused: { seq: number; error: ProblemDetails }[] = [];
    for (const r of unchecked) {
      const why = entityWriteRefusal(r.scope!, r.entityId, [...r.entity.type, ...(stored.get(r.entityId) ?? [])]);
      if (why) refused.push({ seq: r.seq, error: forbidden(why).toProblem() });
    }
    await this.o.outbox.deadLetter(refused);
    const gone = new Set(refused.map((d) => d.seq));
    return rows.filter((r) => !gone.has(r.seq));
  }

  /** One batch (one tenant, one mode, each entity once): marks every row; returns the transient ones. */
  private async send(all: OutboxRow[]): Promise<{ transient: Set<number> }> {
    const { tenant, mode } = all[0];
    // deleting what is not there any more is done
    const done = (status: number) => mode === 'delete' && status === 404;
    let rows = all;
    let result: BatchResult;
    try {
      rows = await this.allowed(all);
      if (!rows.length) return { transient: new Set() };
      result = mode === 'delete'
        ? await this.o.broker.batchDelete(tenant, rows.map((r) => r.entityId))
        : await this.o.broker.batchUpsert(tenant, rows.map((r) => r.entity), mode);
    } catch (err) {
      if (isTransient(err)) {
        this.o.logger?.warn({ err: (err as Error).message, rows: rows.length }, 'ingestion outbox: broker unavailable, will retry');
        await this.o.outbox.retryLater(rows.map((r) => r.seq), problemOf(err), this.o.backoff);
        return { transient: new Set(rows.map((r) => r.seq)) };
      }
      if (rows.length === 1) {
        if (done((err as NgsiError).status)) await this.o.outbox.delivered([rows[0].seq]);
        else await this.o.outbox.deadLetter([{ seq: rows[0].seq, error: problemOf(err) }]);
        return { transient: new Set() };
      }
      // the broker refused the whole batch: find the culprit(s) one entity at a time
      const transient = new Set<number>();
      for (const r of rows) for (const s of (await this.send([r])).transient) transient.add(s);
      return { transient };
    }
    const errors = new Map(result.errors.map((e) => [e.entityId, e.error]));
    const delivered: number[] = [];
    const dead: { seq: number; error: ProblemDetails }[] = [];
    const retry: OutboxRow[] = [];
    for (const r of rows) {
      const error = errors.get(r.entityId);
      if (!error || done(error.status)) delivered.push(r.seq);
      else if (error.status >= 500 || error.status === 429) retry.push(r);
      else dead.push({ seq: r.seq, error });
    }
    await this.o.outbox.delivered(delivered);
    await this.o.outbox.deadLetter(dead);
    for (const r of retry) await this.o.outbox.retryLater([r.seq], errors.get(r.entityId)!, this.o.backoff);
    return { transient: new Set(retry.map((r) => r.seq)) };
  }
}
