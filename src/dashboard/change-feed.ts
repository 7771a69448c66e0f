import type { ServerResponse } from 'node:http';

/**
 * Server-sent events that tell dashboards "data of tenant T changed": one `change` event per
 * burst of writes (coalesced over COALESCE_MS), a comment every HEARTBEAT_MS so that proxies keep
 * the connection, at most maxClients connections. Who calls publish() decides which writes it
 * hears (plugins/dashboard.ts: every replica's, through PostgreSQL NOTIFY).
 */
export class ChangeFeed {
  static readonly COALESCE_MS = 250;
  static readonly HEARTBEAT_MS = 25_000;
  private readonly clients = new Map<ServerResponse, string>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly maxClients: number) {
    this.heartbeat = setInterval(() => {
      for (const res of this.clients.keys()) res.write(': ping\n\n');
    }, ChangeFeed.HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response as an event stream; false when full. */
  subscribe(res: ServerResponse, tenant: string): boolean {
    if (this.clients.size >= this.maxClients) return false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    this.clients.set(res, tenant);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  /** Data of `tenant` changed: its subscribers hear it once the burst is over. */
  publish(tenant: string): void {
    if (this.pending.has(tenant)) return;
    const timer = setTimeout(() => {
      this.pending.delete(tenant);
      const data = `event: change\ndata: ${JSON.stringify({ tenant, at: new Date().toISOString() })}\n\n`;
      for (const [res, t] of this.clients) if (t === tenant) res.write(data);
    }, ChangeFeed.COALESCE_MS);
    timer.unref();
    this.pending.set(tenant, timer);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}
