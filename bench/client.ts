/**
 * The load client: a separate process (forked by run.ts) so that generating load never competes
 * with the service for its event loop. It only talks to 127.0.0.1 and answers one command at a
 * time over IPC.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { entityId, makeEntity, pointNearChiesa, prng } from './data';

export type Command =
  | { cmd: 'autocannon'; url: string; connections: number; seconds: number; warmupSeconds: number; entityIds?: number }
  | { cmd: 'upsert'; base: string; entities: number; batch: number; concurrency: number; maxSeconds: number; seed: number }
  | { cmd: 'query'; base: string; requests: number; warmup: number; concurrency: number; maxDistance: number; countSample: number; seed: number }
  | { cmd: 'exit' };

export interface AutocannonSummary {
  requestsPerSec: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  seconds: number;
}

export interface UpsertSummary {
  entities: number;
  calls: number;
  seconds: number;
  entitiesPerSec: number;
  bodyBytesPerEntity: number;
  callLatencyMs: number[];
  statuses: Record<string, number>;
  firstError?: string;
  stoppedEarly: boolean;
}

export interface QuerySummary {
  latencyMs: number[];
  returned: number[];
  matching: number[];
  statuses: Record<string, number>;
  firstError?: string;
  seconds: number;
  url: string;
}

function ensureLocal(url: string): void {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`the bench only targets 127.0.0.1, not ${u.hostname}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: Buffer; ms: number; headers: http.IncomingHttpHeaders }> {
  ensureLocal(url);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - t0, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

function runAutocannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function cannon(c: Extract<Command, { cmd: 'autocannon' }>): Promise<AutocannonSummary> {
  ensureLocal(c.url);
  const u = new URL(c.url);
  const rand = prng(4242);
  // GET by id: every request picks a random loaded entity
  const requests: autocannon.Request[] | undefined = c.entityIds
    ? [{
        method: 'GET',
        setupRequest: (req: autocannon.Request) => ({
          ...req,
          path: `${u.pathname.replace(/\/$/, '')}/${encodeURIComponent(entityId(Math.floor(rand() * c.entityIds!)))}`,
        }),
      }]
    : undefined;
  const base: autocannon.Options = { url: c.url, connections: c.connections, pipelining: 1, requests, headers: { accept: 'application/json' } };
  if (c.warmupSeconds > 0) await runAutocannon({ ...base, duration: c.warmupSeconds });
  const r = await runAutocannon({ ...base, duration: c.seconds });
  const lat = r.latency as unknown as Record<string, number>;
  return {
    requestsPerSec: r.requests.average,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: { mean: lat.average, p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
    seconds: r.duration,
  };
}

async function upsert(c: Extract<Command, { cmd: 'upsert' }>): Promise<UpsertSummary> {
  // bodies are built before the clock starts: the client's JSON work is not the service's
  const bodies: Buffer[] = [];
  for (let start = 0; start < c.entities; start += c.batch) {
    const batch = [];
    for (let i = start; i < Math.min(c.entities, start + c.batch); i++) batch.push(makeEntity(i, c.seed));
    bodies.push(Buffer.from(JSON.stringify(batch)));
  }
  const totalBytes = bodies.reduce((n, b) => n + b.length, 0);
  const url = `${c.base}/ngsi-ld/v1/entityOperations/upsert`;
  const statuses: Record<string, number> = {};
  const callLatencyMs: number[] = [];
  let firstError: string | undefined;
  let next = 0;
  let done = 0;
  let stoppedEarly = false;
  const t0 = performance.now();
  const deadline = t0 + c.maxSeconds * 1000;
  const worker = async () => {
    while (next < bodies.length) {
      if (performance.now() > deadline) {
        stoppedEarly = true;
        return;
      }
      const k = next++;
      const r = await request('POST', url, { 'content-type': 'application/json', 'content-length': String(bodies[k].length) }, bodies[k]);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      callLatencyMs.push(r.ms);
      if (r.status === 201 || r.status === 204) done += Math.min(c.batch, c.entities - k * c.batch);
      else firstError ??= `HTTP ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`;
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return {
    entities: done,
    calls: callLatencyMs.length,
    seconds,
    entitiesPerSec: done / seconds,
    bodyBytesPerEntity: totalBytes / c.entities,
    callLatencyMs,
    statuses,
    firstError,
    stoppedEarly,
  };
}

function queryUrl(base: string, lon: number, lat: number, maxDistance: number, extra = ''): string {
  const params = [
    'type=WeatherObserved',
    `q=${encodeURIComponent('temperature>5;relativeHumidity<80')}`,
    `georel=${encodeURIComponent(`near;maxDistance==${maxDistance}`)}`,
    'geometry=Point',
    `coordinates=${encodeURIComponent(`[${lon},${lat}]`)}`,
  ];
  return `${base}/ngsi-ld/v1/entities?${params.join('&')}${extra}`;
}

async function query(c: Extract<Command, { cmd: 'query' }>): Promise<QuerySummary> {
  const rand = prng(c.seed);
  // centres spread like the stations (within 4.5 km of Chiesa), so most queries find something
  const centres = Array.from({ length: c.warmup + c.requests + c.countSample }, () => pointNearChiesa(rand, 4500));
  const statuses: Record<string, number> = {};
  let firstError: string | undefined;
  const get = async (url: string) => {
    const r = await request('GET', url, { accept: 'application/json' });
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status !== 200) firstError ??= `HTTP ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`;
    return r;
  };
  for (let k = 0; k < c.warmup; k++) await get(queryUrl(c.base, ...centres[k], c.maxDistance));
  for (const key of Object.keys(statuses)) delete statuses[key];
  const latencyMs: number[] = [];
  const returned: number[] = [];
  let next = c.warmup;
  const end = c.warmup + c.requests;
  const t0 = performance.now();
  const worker = async () => {
    while (next < end) {
      const [lon, lat] = centres[next++];
      const r = await get(queryUrl(c.base, lon, lat, c.maxDistance));
      latencyMs.push(r.ms);
      if (r.status === 200) returned.push((JSON.parse(r.body.toString('utf8')) as unknown[]).length);
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  // how many entities the query really matches (outside the timed part)
  const matching: number[] = [];
  for (let k = end; k < centres.length; k++) {
    const r = await get(queryUrl(c.base, ...centres[k], c.maxDistance, '&count=true&limit=0'));
    const n = Number(r.headers['ngsild-results-count'] ?? NaN);
    if (Number.isFinite(n)) matching.push(n);
  }
  return { latencyMs, returned, matching, statuses, firstError, seconds, url: queryUrl(c.base, ...centres[0], c.maxDistance) };
}

process.on('message', async (msg: Command) => {
  try {
    let result: unknown;
    if (msg.cmd === 'autocannon') result = await cannon(msg);
    else if (msg.cmd === 'upsert') result = await upsert(msg);
    else if (msg.cmd === 'query') result = await query(msg);
    else {
      agent.destroy();
      process.disconnect?.();
      return;
    }
    process.send!({ ok: true, result });
  } catch (err) {
    process.send!({ ok: false, error: (err as Error).stack ?? String(err) });
  }
});
