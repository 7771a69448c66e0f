import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP notification receiver on 127.0.0.1 that records what it accepted. */
export interface Received {
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export class Receiver {
  readonly got: Received[] = [];
  /** answers each request: a status, or 'hang' (never answers) */
  behaviour: (n: number) => number | 'hang' = () => 204;
  /** how long each answer takes (a slow endpoint keeps deliveries in flight) */
  delayMs = 0;
  private server!: http.Server;
  private requests = 0;
  private hanging: http.ServerResponse[] = [];
  url = '';

  /** port 0: any free port; a fixed port brings an endpoint back where it was */
  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = this.behaviour(this.requests++);
        if (answer === 'hang') {
          this.hanging.push(res);
          return;
        }
        setTimeout(() => {
          if (answer >= 200 && answer < 300) this.got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()), at: Date.now() });
          res.statusCode = answer;
          res.end();
        }, this.delayMs);
      });
    });
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/notify`;
    return this;
  }

  /** every entity delivered, in arrival order */
  get data(): any[] {
    return this.got.flatMap((g) => g.body.data);
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

