/**
 * The NGSI-LD HTTP client of the Orion-LD backend against a real HTTP server on 127.0.0.1 that
 * answers what each test wants: problem details passed through, 4xx never retried, 5xx, 429 and
 * timeouts retried for idempotent calls only, headers, batch chunking and 207 merging, pagination.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BrokerProblem, BrokerUnavailable, NgsiLdClient } from '../../src/broker/orion-ld/client';
import { failure } from '../helpers/errors';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

/** A broker stand-in: answers each request with `answer(n, request)`; records what it got. */
class ScriptedBroker {
  seen: Seen[] = [];
  answer: (n: number, req: Seen) => Answer = () => ({ status: 204 });
  private server!: http.Server;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const seen = { method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined };
        this.seen.push(seen);
        const a = this.answer(this.seen.length - 1, seen);
        if (a === 'hang') return;
        res.writeHead(a.status, { ...(a.body !== undefined ? { 'content-type': 'application/json' } : {}), ...a.headers });
        res.end(a.body === undefined ? undefined : typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let broker: ScriptedBroker;
beforeEach(async () => {
  broker = await new ScriptedBroker().start();
});
afterEach(async () => broker.stop());

const client = (extra: Partial<ConstructorParameters<typeof NgsiLdClient>[0]> = {}) =>
  new NgsiLdClient({ baseUrl: broker.url, timeoutMs: 300, retries: 2, retryBaseMs: 10, ...extra });

const NOT_FOUND = {
  type: 'https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound', title: 'Entity Not Found', status: 404, detail: 'urn:ngsi-ld:X:1',
};

describe('error answers', () => {
  test('a 4xx problem is passed through unchanged and not retried', async () => {
    broker.answer = () => ({ status: 404, body: NOT_FOUND, headers: { 'content-type': 'application/problem+json' } });
    const err = await failure(client().request({ method: 'GET', path: '/entities/x', tenant: '', idempotent: true }));
    expect(err).toBeInstanceOf(BrokerProblem);
    expect(err.status).toBe(404);
    expect(err.problemType).toBe('ResourceNotFound');
    expect(err.toProblem()).toEqual(NOT_FOUND);
    expect(broker.seen).toHaveLength(1);
  });

  test('a problem type outside ETSI\'s keeps its URI; a body that is no problem is described', async () => {
    broker.answer = (n) => n === 0
      ? { status: 422, body: { type: 'https://orion.example/errors/Custom', title: 'Custom', status: 422, detail: 'nope' } }
      : { status: 400, body: 'plain text refusal' };
    const custom = await failure(client().request({ method: 'POST', path: '/entities', tenant: '', body: {}, idempotent: false }));
    expect(custom.toProblem()).toEqual({ type: 'https://orion.example/errors/Custom', title: 'Custom', status: 422, detail: 'nope' });
    const plain = await failure(client().request({ method: 'POST', path: '/entities', tenant: '', body: {}, idempotent: false }));
    expect(plain.toProblem()).toMatchObject({ type: 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData', status: 400, detail: 'plain text refusal' });
  });

  test('5xx and 429 are retried for idempotent calls until an answer comes', async () => {
    broker.answer = (n) => (n === 0 ? { status: 503, body: { detail: 'busy' } } : n === 1 ? { status: 429 } : { status: 200, body: [{ id: 'urn:x' }] });
    const res = await client().request({ method: 'GET', path: '/entities', tenant: '', idempotent: true });
    expect(res.body).toEqual([{ id: 'urn:x' }]);
    expect(broker.seen).toHaveLength(3);
  });

  test('after the last retry the broker\'s own 5xx problem is passed through', async () => {
    const problem = { type: 'https://uri.etsi.org/ngsi-ld/errors/InternalError', title: 'Internal Error', status: 500, detail: 'mongo down' };
    broker.answer = () => ({ status: 500, body: problem });
    const err = await failure(client().request({ method: 'GET', path: '/entities', tenant: '', idempotent: true }));
    expect(err.toProblem()).toEqual(problem);
    expect(broker.seen).toHaveLength(3);
  });

  test('non-idempotent calls are sent once, whatever happens', async () => {
    broker.answer = () => ({ status: 502, body: { title: 'Bad Gateway', detail: 'upstream' } });
    const err = await failure(client().request({ method: 'POST', path: '/entities', tenant: '', body: {}, idempotent: false }));
    expect(err.status).toBe(502);
    expect(broker.seen).toHaveLength(1);
    broker.answer = () => 'hang';
    const timedOut = await failure(client().request({ method: 'POST', path: '/entities', tenant: '', body: {}, idempotent: false }));
    expect(timedOut).toBeInstanceOf(BrokerUnavailable);
    expect(timedOut.status).toBe(503);
    expect(timedOut.detail).toMatch(/no answer within 300 ms/);
    expect(broker.seen).toHaveLength(2);
  });

  test('a timeout is retried for idempotent calls', async () => {
    broker.answer = (n) => (n === 0 ? 'hang' : { status: 200, body: { id: 'urn:x' } });
    const res = await client().request({ method: 'GET', path: '/entities/urn%3Ax', tenant: '', idempotent: true });
    expect(res.body).toEqual({ id: 'urn:x' });
    expect(broker.seen).toHaveLength(2);
  });

  test('a broker that is not listening: BrokerUnavailable after the retries', async () => {
    const url = broker.url;
    await broker.stop();
    const err = await failure(new NgsiLdClient({ baseUrl: url, retries: 2, retryBaseMs: 10 }).request({ method: 'GET', path: '/types', tenant: '', idempotent: true }));
    expect(err).toBeInstanceOf(BrokerUnavailable);
    expect(err.detail).toMatch(/ECONNREFUSED/);
    broker = await new ScriptedBroker().start();
  });
});

describe('requests', () => {
  test('tenant, token, extra headers, Link and the ld+json body', async () => {
    const c = client({ token: 's3cret', headers: { 'x-gateway-key': 'k1' } });
    await c.request({ method: 'POST', path: '/entities', tenant: 'valmalenco', body: { id: 'urn:x' }, context: 'https://ctx.example/c.jsonld', idempotent: false });
    await c.request({ method: 'POST', path: '/entityOperations/query', tenant: '', body: { '@context': {} }, ldJson: true, query: { limit: 5, local: undefined }, idempotent: true });
    const [first, second] = broker.seen;
    expect(first.url).toBe('/ngsi-ld/v1/entities');
    expect(first.headers).toMatchObject({
      'ngsild-tenant': 'valmalenco', authorization: 'Bearer s3cret', 'x-gateway-key': 'k1', 'content-type': 'application/json',
      link: '<https://ctx.example/c.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
    });
    expect(second.url).toBe('/ngsi-ld/v1/entityOperations/query?limit=5');
    expect(second.headers['content-type']).toBe('application/ld+json');
    expect(second.headers.link).toBeUndefined();
    expect(second.headers['ngsild-tenant']).toBeUndefined();
  });

  test('batches are chunked and their results merged, 207 problems kept', async () => {
    const conflict = { type: 'https://uri.etsi.org/ngsi-ld/errors/AlreadyExists', title: 'Already Exists', status: 409, detail: 'exists' };
    broker.answer = (n, req) => n === 1
      ? { status: 207, body: { success: [req.body[0].id], errors: [{ entityId: req.body[1].id, error: conflict }] } }
      : { status: 201, body: req.body.map((e: { id: string }) => e.id) };
    const items = Array.from({ length: 5 }, (_, i) => ({ id: `urn:ngsi-ld:T:${i}`, type: 'T' }));
    const r = await client({ batchSize: 2 }).batch('create', 't', items, items.map((i) => i.id));
    expect(broker.seen.map((s) => s.body.length)).toEqual([2, 2, 1]);
    expect(r.success).toEqual(['urn:ngsi-ld:T:0', 'urn:ngsi-ld:T:1', 'urn:ngsi-ld:T:2', 'urn:ngsi-ld:T:4']);
    expect(r.errors).toEqual([{ entityId: 'urn:ngsi-ld:T:3', error: conflict }]);
  });

  test('pages are followed until the limit is reached or the broker has no more', async () => {
    const all = Array.from({ length: 10 }, (_, i) => ({ id: `urn:x:${i}` }));
    // a broker with a smaller page size than asked for
    broker.answer = (_n, req) => {
      const q = new URL(req.url, 'http://x').searchParams;
      const offset = Number(q.get('offset'));
      const limit = Math.min(Number(q.get('limit')), 3);
      return { status: 200, body: all.slice(offset, offset + limit), headers: { 'NGSILD-Results-Count': String(all.length) } };
    };
    const c = client();
    const seven = await c.paged({ method: 'GET', path: '/entities', tenant: '', idempotent: true }, 7, 1);
    expect(seven.items.map((e: any) => e.id)).toEqual(all.slice(1, 8).map((e) => e.id));
    expect(seven.count).toBe(10);
    expect(broker.seen.map((s) => new URL(s.url, 'http://x').searchParams.get('offset'))).toEqual(['1', '4', '7']);
    broker.seen = [];
    const rest = await c.paged({ method: 'GET', path: '/entities', tenant: '', idempotent: true }, 100, 8);
    expect(rest.items).toHaveLength(2);
    expect(broker.seen).toHaveLength(1);
  });
});
