import type { Queryable } from '../store/db';
import { insertAuditRecords, pruneAuditRecords, type AuditRecord } from '../store/audit-store';

/**
 * The audit trail's writer. A write request's record is committed before its response goes out
 * (the audit plugin awaits record() in onSend), so an answered write always has its record, also
 * when the process is killed right after. Records of concurrent requests are grouped: record()
 * queues the entry and the next flush, started on the following turn of the event loop, inserts
 * everything queued in one statement (up to `maxBatch` per statement); each caller waits for the
 * flush that carries its record. A failed flush keeps its records, reports the error, and is
 * retried after `retryMs` (and before close), up to `maxBuffered` records (then the oldest are
 * dropped, and that is reported); the requests waiting on it are answered anyway: their writes
 * already happened.
 */

export interface AuditLogOptions {
  db: Queryable;
  maxBatch?: number;
  maxBuffered?: number;
  retryMs?: number;
  onError?: (err: unknown, dropped: number) => void;
}

export class AuditLog {
  private buffer: AuditRecord[] = [];
  private scheduled?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly retryMs: number;

  constructor(private readonly opts: AuditLogOptions) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxBuffered = opts.maxBuffered ?? 100_000;
    this.retryMs = opts.retryMs ?? 1000;
  }

  /** Queues a record; resolves once the flush that carries it has run. */
  record(entry: AuditRecord): Promise<void> {
    this.buffer.push(entry);
    this.scheduled ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.scheduled = undefined;
      return this.flush();
    });
    return this.scheduled;
  }

  /** Writes everything queued so far (flushes run one after another). */
  flush(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.flushing = this.flushing.then(() => this.writeBuffered());
    return this.flushing;
  }

  private async writeBuffered(): Promise<void> {
    while (this.buffer.length) {
      const batch = this.buffer.splice(0, this.maxBatch);
      try {
        await insertAuditRecords(this.opts.db, batch);
      } catch (err) {
        this.buffer.unshift(...batch);
        const dropped = Math.max(this.buffer.length - this.maxBuffered, 0);
        if (dropped) this.buffer.splice(0, dropped);
        this.opts.onError?.(err, dropped);
        this.retryTimer ??= setTimeout(() => void this.flush(), this.retryMs).unref();
        return;
      }
    }
  }

  prune(retentionDays: number, now = Date.now()): Promise<number> {
    return pruneAuditRecords(this.opts.db, new Date(now - retentionDays * 86_400_000));
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

/** At most this many entity ids and attribute names per record (a batch may have 1000 entities). */
export const AUDIT_MAX_NAMES = 100;

const NAME_MAX_LENGTH = 512;
const RESERVED = new Set(['id', 'type', '@context', 'scope', 'createdAt', 'modifiedAt', 'deviceId']);

/**
 * Which entities and attributes a write touched, from its path parameters and body: entity and
 * device ids, subscription ids, attribute names (bounded; text bodies such as CSV are not read).
 */
export function auditSubject(params: unknown, body: unknown): { entityIds: string[]; attributes: string[] } {
  const ids = new Set<string>();
  const attrs = new Set<string>();
  const add = (set: Set<string>, v: unknown) => {
    if (typeof v === 'string' && v && set.size < AUDIT_MAX_NAMES) set.add(v.slice(0, NAME_MAX_LENGTH));
  };
  const p = (params ?? {}) as Record<string, unknown>;
  for (const key of ['entityId', 'subscriptionId', 'deviceId', 'projectId', 'contextId']) add(ids, p[key]);
  add(attrs, p.attrId);
  const items = Array.isArray(body) ? body : body !== null && typeof body === 'object' ? [body] : [];
  for (const item of items) {
    if (typeof item === 'string') add(ids, item);
    if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
    const o = item as Record<string, unknown>;
    add(ids, o.id ?? o.deviceId);
    for (const name of Object.keys(o)) if (!RESERVED.has(name)) add(attrs, name);
  }
  return { entityIds: [...ids], attributes: [...attrs] };
}

/**
 * "From where" without personal data (MIM4): the client's network, not its address: IPv4 to /24,
 * IPv6 to /48 (the last octet / 80 bits zeroed), as web analytics anonymise addresses.
 */
export function networkOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+)\.\d+$/i.exec(ip);
  if (v4) return `${v4[1]}.0/24`;
  if (!ip.includes(':')) return 'unknown';
  const [head] = ip.split('::');
  const groups = head.split(':').filter(Boolean).slice(0, 3);
  while (groups.length < 3) groups.push('0');
  return `${groups.join(':')}::/48`;
}
