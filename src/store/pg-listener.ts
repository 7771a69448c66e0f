import pg from 'pg';
import type { Queryable } from './db';

export interface PgListenerLogger {
  warn: (o: unknown, m?: string) => void;
}

/**
 * PostgreSQL LISTEN on one channel over a dedicated connection (a pooled one cannot keep
 * listening), reconnected every `retryMs` after a failure; `connected` says whether notifications
 * arrive right now, so that callers can fall back (poll, in-process signals) meanwhile.
 */
/** The store's schema: replicas of other schemas share a channel, so payloads name the schema. */
export async function currentSchema(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ s: string }>('SELECT current_schema() AS s');
  return rows[0].s;
}

export class PgListener {
  private client?: pg.Client;
  private retry?: NodeJS.Timeout;
  private open = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
    private readonly logger?: PgListenerLogger,
    private readonly retryMs = 2000,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    this.open = true;
    await this.connect();
  }

  async close(): Promise<void> {
    this.open = false;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.onPayload(msg.payload ?? '');
    });
    client.on('error', (err) => {
      this.logger?.warn({ err, channel: this.channel }, 'LISTEN connection lost; reconnecting');
      this.reconnectLater(client);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (!this.open) return void (await client.end().catch(() => undefined));
      this.client = client;
    } catch (err) {
      this.logger?.warn({ err, channel: this.channel }, 'LISTEN failed; retrying');
      this.reconnectLater(client);
    }
  }

  private reconnectLater(failed: pg.Client): void {
    if (this.client === failed) this.client = undefined;
    failed.end().catch(() => undefined);
    if (!this.open || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.open) void this.connect();
    }, this.retryMs);
    this.retry.unref?.();
  }
}
