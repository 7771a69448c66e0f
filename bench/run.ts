/**
 * `npm run bench`: one reproducible run that measures the service against raw baselines taken in
 * the same run on the same machine (a bare Fastify route, a raw PostgreSQL COPY), so the ratios
 * survive a noisy machine.
 *
 *   baseline 1  bare Fastify GET /ping → {}                      autocannon, 10 connections
 *   baseline 2  raw COPY of the loaded entity rows into a scratch table with the same indexes
 *   baseline 3  bare Fastify route + one primary-key SELECT of a loaded row (PostgreSQL; before (b))
 *   (a)         batch upsert over HTTP, 1000 entities per call, 3 calls in flight
 *   (b)         GET /entities/{id}, random loaded ids             autocannon, 10 connections
 *   (c)         type + q + near-query, random centres             sequential, ~300 requests
 *   (d)         contractor ingestion: BENCH_ENTITIES keyValues measurements as NDJSON bodies of
 *               1000 rows to POST /api/v1/entities/WeatherObserved (bench/ingest.ts), rows/s
 *   (e)         notifications: 100 subscriptions (HTTP receiver in a forked load process),
 *               BENCH_NOTIFY_UPDATES entity updates by batch upsert (bench/notify.ts), twice:
 *               paced at BENCH_NOTIFY_RATE/s (latency commit → receiver p50/p95/p99 at the target
 *               rate), then unpaced (the most delivered/s); lost and duplicates in both
 *   (f)         temporal API: BENCH_TEMPORAL_INSTANCES attribute instances loaded in bulk in the
 *               store (bench/temporal.ts), then one sensor's hourly average over a month through
 *               GET /temporal/entities/{id}, BENCH_TEMPORAL_REQUESTS sequential requests, p50/p95/p99
 *
 * The store is PostgreSQL when DATABASE_URL is set (a fresh schema bench_<random>, dropped at the
 * end), else PGlite in a temporary folder. The service runs in this process (buildApp + listen on
 * 127.0.0.1:0); the load client is a forked process (bench/client.ts) so that making load does
 * not compete with the service for its event loop.
 *
 * Environment (bench only): BENCH_ENTITIES (100000), BENCH_SECONDS (bare 5 s, GET 10 s),
 * BENCH_QUERIES (300), BENCH_CONCURRENCY (3 upsert calls in flight), BENCH_NOTIFY_UPDATES (50000),
 * BENCH_NOTIFY_RATE (3000 updates/s: the target rate), BENCH_TEMPORAL_INSTANCES (1000000),
 * BENCH_TEMPORAL_SENSORS (250), BENCH_TEMPORAL_REQUESTS (200), BENCH_PHASES (abcdef: the phases to
 * run; b and c need a), BENCH_TIMEOUT (330 s), BENCH_STRICT=1 (exit 1 when a target is missed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { openPglite, openPostgres, type Db } from '../src/store/db';
import type { AutocannonSummary, Command, QuerySummary, UpsertSummary } from './client';
import { runIngestPhase, type IngestSummary } from './ingest';
import { runNotifyPhase, type NotifySummary } from './notify';
import { runTemporalPhase, type TemporalSummary } from './temporal';
import { fmt, mean, percentile, table } from './stats';

// ---------------------------------------------------------------------------------------------
// settings

function envInt(name: string, def: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got '${raw}'`);
  return Math.floor(n);
}

const ENTITIES = envInt('BENCH_ENTITIES', 100_000);
const SECONDS = process.env.BENCH_SECONDS ? envInt('BENCH_SECONDS', 5) : undefined;
const BARE_SECONDS = SECONDS ?? 5;
const GET_SECONDS = SECONDS ?? 10;
const QUERIES = envInt('BENCH_QUERIES', 300);
const BATCH = 1000;
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 3);
const TIMEOUT_S = envInt('BENCH_TIMEOUT', 330);
const NOTIFY_UPDATES = envInt('BENCH_NOTIFY_UPDATES', 50_000);
const NOTIFY_RATE = envInt('BENCH_NOTIFY_RATE', 3000, 1);
const NOTIFY_SUBSCRIPTIONS = 100;
const NOTIFY_BATCH = 500;
const TEMPORAL_INSTANCES = envInt('BENCH_TEMPORAL_INSTANCES', 1_000_000);
const TEMPORAL_SENSORS = envInt('BENCH_TEMPORAL_SENSORS', 250);
const TEMPORAL_REQUESTS = envInt('BENCH_TEMPORAL_REQUESTS', 200);
const PHASES = new Set((process.env.BENCH_PHASES || 'abcdef').toLowerCase().split(''));
if (!PHASES.has('a')) {
  PHASES.delete('b');
  PHASES.delete('c');
}
const MAX_DISTANCE_M = 500;
const DATABASE_URL = process.env.DATABASE_URL || undefined;

const TARGETS = {
  upsertPerSec: 15_000,
  getRatio: 0.4,
  queryP95Ms: 20,
  notifyPerSec: 3000,
  notifyP99Ms: 250,
  temporalP95Ms: 50,
};

const RESULTS_DIR = join(__dirname, '..', '..', 'bench', 'results');

// ---------------------------------------------------------------------------------------------
// the load client (a child process)

class LoadClient {
  private readonly child: ChildProcess;
  private exited = false;

  constructor() {
    // --cpu-prof of this run profiles the service, not the client
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    this.child = fork(join(__dirname, 'client.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('exit', () => (this.exited = true));
  }

  run<T>(cmd: Command): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error('the load client has exited'));
      const onExit = (code: number | null) => reject(new Error(`the load client exited (code ${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (m: { ok: boolean; result?: T; error?: string }) => {
        this.child.off('exit', onExit);
        if (m.ok) resolve(m.result as T);
        else reject(new Error(`load client: ${m.error}`));
      });
      this.child.send(cmd);
    });
  }

  stop(): void {
    if (!this.exited) this.child.kill();
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting per phase: this process (the service) and, when local, the PostgreSQL server

/**
 * CPU ticks of every postgres process, by pid: its own plus its reaped children's (cutime,
 * cstime), so that backends ending during a phase still count through the postmaster.
 */
function postgresTicks(): Map<string, number> | undefined {
  if (process.platform !== 'linux') return undefined;
  const ticks = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks.set(pid, Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])); // utime, stime, cutime, cstime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks.size ? ticks : undefined;
}

/** Ticks spent between two readings: new processes from zero, a reused pid never negative. */
const ticksBetween = (p0: Map<string, number>, p1: Map<string, number>): number =>
  [...p1].reduce((sum, [pid, t]) => sum + Math.max(0, t - (p0.get(pid) ?? 0)), 0);

interface CpuUse {
  /** CPU of the service process, % of one core */
  servicePct: number;
  /** CPU of all local postgres processes, % of one core (PostgreSQL only) */
  postgresPct?: number;
}

function cpuMeter(withPostgres: boolean): () => CpuUse {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const p0 = withPostgres ? postgresTicks() : undefined;
  return () => {
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const p1 = withPostgres ? postgresTicks() : undefined;
    return {
      servicePct: ((c.user + c.system) / 1000 / wallMs) * 100,
      // Linux clock ticks are 1/100 s
      postgresPct: p0 !== undefined && p1 !== undefined ? ((ticksBetween(p0, p1) * 10) / wallMs) * 100 : undefined,
    };
  };
}

const cpuText = (c: CpuUse) =>
  `CPU: service ${fmt(c.servicePct)}%` + (c.postgresPct !== undefined ? `, postgres ${fmt(c.postgresPct)}%` : '') + ' of one core';

// ---------------------------------------------------------------------------------------------
// the store

interface Store {
  db: Db;
  kind: 'postgres' | 'pglite';
  version: string;
  schema?: string;
  dataDir?: string;
  env: Record<string, string>;
}

async function openStore(): Promise<Store> {
  // phase (e)'s receiver is on 127.0.0.1: the service may notify private addresses
  // the bench measures the engine: no authentication, rate limit or load shedding in the way
  const env: Record<string, string> = {
    LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', NOTIFY_ALLOW_PRIVATE: 'true', AUTH: 'off', RATE_LIMIT_MAX: '0', MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  for (const name of ['DATABASE_POOL_SIZE', 'NOTIFY_CONCURRENCY']) if (process.env[name]) env[name] = process.env[name]!;
  let store: Store;
  if (DATABASE_URL) {
    const schema = 'bench_' + randomBytes(5).toString('hex');
    Object.assign(env, { DATABASE_URL, DATABASE_SCHEMA: schema });
    const config = loadConfig(env);
    const db = await openPostgres({ url: DATABASE_URL, schema, poolSize: config.databasePoolSize });
    store = { db, kind: 'postgres', version: '', schema, env };
    cleanups.push(() => dropSchema(schema));
  } else {
    const dataDir = mkdtempSync(join(os.tmpdir(), 'smartland-bench-'));
    env.DATA_DIR = dataDir;
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const db = await openPglite({ dataDir });
    store = { db, kind: 'pglite', version: '', dataDir, env };
  }
  await store.db.exec('CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public').catch(() => undefined);
  const { rows } = await store.db.query<{ v: string; g: string }>('SELECT version() AS v, postgis_lib_version() AS g');
  const server = rows[0].v.split(' on ')[0].split(',')[0];
  store.version = `${server}, PostGIS ${rows[0].g}`;
  return store;
}

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------
// raw store baseline: the same rows, written without the service

interface RawLoad {
  method: string;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  bytesPerRow?: number;
}

async function rawCopyPostgres(schema: string): Promise<RawLoad> {
  const c = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path="${schema}",public` });
  await c.connect();
  try {
    await c.query('DROP TABLE IF EXISTS bench_copy');
    await c.query('CREATE TABLE bench_copy (LIKE entities INCLUDING ALL)');
    // the rows exactly as the service stored them, in COPY text format (not timed)
    const chunks: Buffer[] = [];
    await pipeline(
      c.query(copyTo('COPY (SELECT * FROM entities) TO STDOUT')),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    const bytes = chunks.reduce((n, b) => n + b.length, 0);
    const t0 = performance.now();
    await pipeline(Readable.from(chunks), c.query(copyFrom('COPY bench_copy FROM STDIN')));
    const seconds = (performance.now() - t0) / 1000;
    const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM bench_copy');
    await c.query('DROP TABLE bench_copy');
    const n = Number(rows[0].n);
    return { method: 'COPY FROM STDIN (pg-copy-streams)', rows: n, seconds, rowsPerSec: n / seconds, bytesPerRow: bytes / n };
  } finally {
    await c.end();
  }
}

/** PGlite: no COPY stream through our Db; INSERT … SELECT inside the engine is the raw write cost. */
async function rawInsertSelect(db: Db): Promise<RawLoad> {
  await db.exec('DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE entities INCLUDING ALL)');
  const t0 = performance.now();
  await db.exec('INSERT INTO bench_copy SELECT * FROM entities');
  const seconds = (performance.now() - t0) / 1000;
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM bench_copy');
  await db.exec('DROP TABLE bench_copy');
  const n = Number(rows[0].n);
  return { method: 'INSERT … SELECT in the engine (PGlite; COPY stream skipped)', rows: n, seconds, rowsPerSec: n / seconds };
}

// ---------------------------------------------------------------------------------------------
// the run

const cleanups: (() => Promise<void>)[] = [];
let cleanedUp = false;

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

interface Report {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; platform: string; node: string };
  store?: { kind: string; version: string };
  settings: Record<string, number | string>;
  baselines: { bareRoute?: AutocannonSummary; rawLoad?: RawLoad; lookupRoute?: AutocannonSummary & { ratioToBare?: number } };
  upsert?: Omit<UpsertSummary, 'callLatencyMs'> & { callP50Ms: number; callP99Ms: number; cpu: CpuUse; rawLoadRatio?: number };
  getById?: AutocannonSummary & { ratioToBare?: number; cpu: CpuUse };
  query?: {
    requests: number; p50Ms: number; p95Ms: number; p99Ms: number; meanMs: number; meanReturned: number;
    meanMatching: number; statuses: Record<string, number>; firstError?: string; cpu: CpuUse; exampleUrl: string;
  };
  ingest?: Omit<IngestSummary, 'callLatencyMs'> & { callP50Ms: number; callP99Ms: number; cpu: CpuUse; upsertRatio?: number };
  /** paced at the target rate (latency) */
  notify?: NotifySummary & { cpu: CpuUse };
  /** unpaced (throughput) */
  notifyMax?: NotifySummary & { cpu: CpuUse };
  temporal?: TemporalSummary & { cpu: CpuUse };
  targets: { name: string; target: string; measured: string; pass: boolean | null }[];
  errors: string[];
  complete: boolean;
}

const report: Report = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? '?',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  },
  settings: {
    entities: ENTITIES, batch: BATCH, upsertConcurrency: CONCURRENCY, bareSeconds: BARE_SECONDS, getSeconds: GET_SECONDS,
    getConnections: 10, queries: QUERIES, queryConcurrency: 1, maxDistanceM: MAX_DISTANCE_M,
    notifyUpdates: NOTIFY_UPDATES, notifyRate: NOTIFY_RATE, notifySubscriptions: NOTIFY_SUBSCRIPTIONS, notifyBatch: NOTIFY_BATCH,
    temporalInstances: TEMPORAL_INSTANCES, temporalSensors: TEMPORAL_SENSORS, temporalRequests: TEMPORAL_REQUESTS,
    phases: [...PHASES].join(''),
  },
  baselines: {},
  targets: [],
  errors: [],
  complete: false,
};

const log = (s = '') => process.stdout.write(s + '\n');

async function bareRoute(client: LoadClient): Promise<AutocannonSummary> {
  const bare = Fastify({ logger: false });
  bare.get('/ping', async () => ({}));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  try {
    const port = (bare.server.address() as { port: number }).port;
    return await client.run<AutocannonSummary>({
      cmd: 'autocannon', url: `http://127.0.0.1:${port}/ping`, connections: 10, seconds: BARE_SECONDS, warmupSeconds: 1,
    });
  } finally {
    await bare.close();
  }
}

/**
 * Baseline 3 (PostgreSQL): the least any GET by id can cost here. A bare Fastify route that reads
 * one row of the same entities table by primary key (pg pool of the service's size, a named
 * statement) and returns it, with no NGSI-LD work at all; same load client, ids and duration as (b).
 */
async function lookupRoute(client: LoadClient, schema: string, poolSize: number, entityIds: number): Promise<AutocannonSummary> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: poolSize, options: `-c search_path="${schema}",public` });
  const lookup = Fastify({ logger: false });
  lookup.get<{ Params: { id: string } }>('/entities/:id', async (request) => {
    const { rows } = await pool.query({ name: 'lookup', text: "SELECT id, attrs FROM entities WHERE tenant = '' AND id = $1", values: [request.params.id] });
    return rows[0];
  });
  await lookup.listen({ host: '127.0.0.1', port: 0 });
  try {
    const port = (lookup.server.address() as { port: number }).port;
    return await client.run<AutocannonSummary>({
      cmd: 'autocannon', url: `http://127.0.0.1:${port}/entities`, connections: 10, seconds: GET_SECONDS, warmupSeconds: 1, entityIds,
    });
  } finally {
    await lookup.close();
    await pool.end();
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  log(`Smartland bench: ${fmt(ENTITIES)} entities, ${os.cpus().length} CPUs, Node ${process.version}`);
  const client = new LoadClient();
  cleanups.push(async () => client.stop());

  let bare: AutocannonSummary | undefined;
  if (PHASES.has('b')) {
    // baseline 1: a bare Fastify route
    log(`\n[baseline] bare Fastify GET /ping, 10 connections, ${BARE_SECONDS} s …`);
    bare = await bareRoute(client);
    report.baselines.bareRoute = bare;
    log(`  ${fmt(bare.requestsPerSec)} req/s, p50 ${bare.latencyMs.p50} ms, p99 ${bare.latencyMs.p99} ms`);
  }

  // the service
  log(`\n[store] ${DATABASE_URL ? 'PostgreSQL (DATABASE_URL), fresh schema' : 'PGlite in a temporary folder (DATABASE_URL not set)'} …`);
  const tStore = performance.now();
  const store = await openStore();
  report.store = { kind: store.kind, version: store.version };
  const app: FastifyInstance = await buildApp(loadConfig(store.env), { db: store.db });
  cleanups.push(async () => void (await app.close())); // cleanups run in reverse: the app closes before the schema is dropped
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  log(`  ${store.version}${store.schema ? `, schema ${store.schema}` : ''}${store.dataDir ? `, ${store.dataDir}` : ''}`);
  log(`  service listening on ${base} (ready in ${fmt((performance.now() - tStore) / 1000, 1)} s)`);
  const withPg = store.kind === 'postgres' && postgresTicks() !== undefined;

  let up: UpsertSummary | undefined;
  if (PHASES.has('a')) {
    // (a) batch upsert
    log(`\n[a] batch upsert: ${fmt(ENTITIES)} entities, ${BATCH} per call, ${CONCURRENCY} calls in flight …`);
    const cpu = cpuMeter(withPg);
    up = await client.run<UpsertSummary>({
      cmd: 'upsert', base, entities: ENTITIES, batch: BATCH, concurrency: CONCURRENCY, maxSeconds: 150, seed: 1,
    });
    const upCpu = cpu();
    const { callLatencyMs, ...upRest } = up;
    report.upsert = { ...upRest, callP50Ms: percentile(callLatencyMs, 50), callP99Ms: percentile(callLatencyMs, 99), cpu: upCpu };
    log(`  ${fmt(up.entities)} entities in ${fmt(up.seconds, 2)} s = ${fmt(up.entitiesPerSec)} entities/s` +
      ` (${fmt(up.bodyBytesPerEntity)} B/entity; call p50 ${fmt(report.upsert.callP50Ms)} ms, p99 ${fmt(report.upsert.callP99Ms)} ms)`);
    log(`  statuses ${JSON.stringify(up.statuses)}; ${cpuText(upCpu)}`);
    reportTrouble('upsert', up, 'stopped after 150 s');
    const { rows: countRows } = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM entities');
    const loaded = Number(countRows[0].n);
    log(`  rows in the store: ${fmt(loaded)}`);
    if (loaded === 0) throw new Error('no entities were loaded; cannot go on');
    // steady state: autovacuum would analyse the table shortly after such a load
    await store.db.exec('ANALYZE entities');

    // baseline 2: the same rows, raw
    log(`\n[baseline] raw load of the same ${fmt(loaded)} rows into a scratch table with the same indexes …`);
    try {
      const raw = store.kind === 'postgres' ? await rawCopyPostgres(store.schema!) : await rawInsertSelect(store.db);
      report.baselines.rawLoad = raw;
      report.upsert.rawLoadRatio = up.entitiesPerSec / raw.rowsPerSec;
      log(`  ${raw.method}: ${fmt(raw.rows)} rows in ${fmt(raw.seconds, 2)} s = ${fmt(raw.rowsPerSec)} rows/s` +
        (raw.bytesPerRow ? ` (${fmt(raw.bytesPerRow)} B/row)` : ''));
      log(`  HTTP upsert is ${fmt(report.upsert.rawLoadRatio * 100)}% of the raw rate`);
    } catch (err) {
      report.errors.push(`raw load: ${(err as Error).message}`);
      log(`  skipped: ${(err as Error).message}`);
    }

    if (PHASES.has('b') && store.kind === 'postgres') {
      log(`\n[baseline] bare Fastify route + one primary-key SELECT of the same rows (no NGSI-LD work), 10 connections, ${GET_SECONDS} s …`);
      const lookup = await lookupRoute(client, store.schema!, loadConfig(store.env).databasePoolSize, loaded);
      report.baselines.lookupRoute = { ...lookup, ratioToBare: bare ? lookup.requestsPerSec / bare.requestsPerSec : undefined };
      log(`  ${fmt(lookup.requestsPerSec)} req/s (${fmt(report.baselines.lookupRoute.ratioToBare! * 100)}% of the bare route),` +
        ` p50 ${lookup.latencyMs.p50} ms, p99 ${lookup.latencyMs.p99} ms; non-2xx ${lookup.non2xx}`);
    }

    if (PHASES.has('b')) {
      // (b) GET by id
      const sample = await fetch(`${base}/ngsi-ld/v1/entities/${encodeURIComponent('urn:ngsi-ld:WeatherObserved:valmalenco-000000')}`);
      const sampleBody = await sample.text();
      if (sample.status !== 200) report.errors.push(`GET sample: HTTP ${sample.status} ${sampleBody.slice(0, 300)}`);
      log(`\n[b] GET /entities/{id}, random ids among ${fmt(loaded)}, 10 connections, ${GET_SECONDS} s (response ${sampleBody.length} B) …`);
      const cpu = cpuMeter(withPg);
      const get = await client.run<AutocannonSummary>({
        cmd: 'autocannon', url: `${base}/ngsi-ld/v1/entities`, connections: 10, seconds: GET_SECONDS, warmupSeconds: 1, entityIds: loaded,
      });
      const getCpu = cpu();
      report.getById = { ...get, ratioToBare: bare ? get.requestsPerSec / bare.requestsPerSec : undefined, cpu: getCpu };
      log(`  ${fmt(get.requestsPerSec)} req/s (${fmt(report.getById.ratioToBare! * 100)}% of the bare route),` +
        ` p50 ${get.latencyMs.p50} ms, p99 ${get.latencyMs.p99} ms; non-2xx ${get.non2xx}, errors ${get.errors}`);
      log(`  ${cpuText(getCpu)}`);
      if (get.non2xx || get.errors) report.errors.push(`GET by id: ${get.non2xx} non-2xx, ${get.errors} errors`);
    }

    if (PHASES.has('c')) {
      // (c) q + geo
      log(`\n[c] GET /entities?type=WeatherObserved&q=temperature>5;relativeHumidity<80&georel=near;maxDistance==${MAX_DISTANCE_M}` +
        `&geometry=Point&coordinates=[random], ${QUERIES} requests, sequential …`);
      const cpu = cpuMeter(withPg);
      const q = await client.run<QuerySummary>({
        cmd: 'query', base, requests: QUERIES, warmup: 20, concurrency: 1, maxDistance: MAX_DISTANCE_M, countSample: 30, seed: 7,
      });
      const qCpu = cpu();
      report.query = {
        requests: q.latencyMs.length,
        p50Ms: percentile(q.latencyMs, 50),
        p95Ms: percentile(q.latencyMs, 95),
        p99Ms: percentile(q.latencyMs, 99),
        meanMs: mean(q.latencyMs),
        meanReturned: mean(q.returned),
        meanMatching: mean(q.matching),
        statuses: q.statuses,
        firstError: q.firstError,
        cpu: qCpu,
        exampleUrl: q.url.replace(base, ''),
      };
      log(`  p50 ${fmt(report.query.p50Ms, 2)} ms, p95 ${fmt(report.query.p95Ms, 2)} ms, p99 ${fmt(report.query.p99Ms, 2)} ms;` +
        ` mean ${fmt(report.query.meanReturned, 1)} returned (limit 20), ${fmt(report.query.meanMatching, 1)} matching (count=true)`);
      log(`  statuses ${JSON.stringify(q.statuses)}; ${cpuText(qCpu)}`);
      reportTrouble('query', q);
    }
  }

  if (PHASES.has('d')) {
    // (d) contractor ingestion, NDJSON, end to end
    log(`\n[d] contractor ingestion: ${fmt(ENTITIES)} measurements (keyValues WeatherObserved) as NDJSON, ${BATCH} rows per` +
      ` POST /api/v1/entities/WeatherObserved, ${CONCURRENCY} in flight …`);
    const cpu = cpuMeter(withPg);
    const ing = await runIngestPhase({ base, rows: ENTITIES, batch: BATCH, concurrency: CONCURRENCY, maxSeconds: 150, seed: 3 });
    const ingCpu = cpu();
    const { callLatencyMs: ingLatency, ...ingRest } = ing;
    report.ingest = {
      ...ingRest, callP50Ms: percentile(ingLatency, 50), callP99Ms: percentile(ingLatency, 99), cpu: ingCpu,
      upsertRatio: up ? ing.rowsPerSec / up.entitiesPerSec : undefined,
    };
    log(`  ${fmt(ing.accepted)} accepted, ${fmt(ing.rejected)} rejected of ${fmt(ing.rows)} rows in ${fmt(ing.seconds, 2)} s =` +
      ` ${fmt(ing.rowsPerSec)} rows/s (${fmt(ing.bodyBytesPerRow)} B/row; call p50 ${fmt(report.ingest.callP50Ms)} ms,` +
      ` p99 ${fmt(report.ingest.callP99Ms)} ms; ${fmt(report.ingest.upsertRatio! * 100)}% of (a))`);
    log(`  statuses ${JSON.stringify(ing.statuses)}; ${cpuText(ingCpu)}`);
    reportTrouble('ingest', ing, 'stopped after 150 s');
  }

  if (PHASES.has('f')) {
    // (f) temporal API on a bulk-loaded history (before (e): nothing here writes through the API)
    log(`\n[f] temporal: ${fmt(TEMPORAL_INSTANCES)} attribute instances of ${fmt(TEMPORAL_SENSORS)} sensors loaded in the store,` +
      ` then ${TEMPORAL_REQUESTS} sequential hourly averages over a month of one random sensor …`);
    const cpu = cpuMeter(withPg);
    const t = await runTemporalPhase({
      db: store.db, base, instances: TEMPORAL_INSTANCES, sensors: TEMPORAL_SENSORS, requests: TEMPORAL_REQUESTS, warmup: 20, seed: 11,
    });
    report.temporal = { ...t, cpu: cpu() };
    log(`  loaded ${fmt(t.instances)} instances in ${fmt(t.loadSeconds, 1)} s (${fmt(t.loadRowsPerSec)} rows/s, generate_series in the store)`);
    log(`  ${t.requests} requests: p50 ${fmt(t.latencyMs.p50, 2)} ms, p95 ${fmt(t.latencyMs.p95, 2)} ms, p99 ${fmt(t.latencyMs.p99, 2)} ms,` +
      ` max ${fmt(t.latencyMs.max, 1)} ms; ${t.periods} hourly periods, ${fmt(t.responseBytes)} B per answer`);
    log(`  statuses ${JSON.stringify(t.statuses)}; ${cpuText(report.temporal.cpu)}; e.g. ${t.exampleUrl}`);
    reportTrouble('temporal', t);
  }

  if (PHASES.has('e')) {
    // (e) notifications end to end: last, its subscriptions would make the other phases' writes match.
    // Twice: at the target rate for the latency, then unpaced for the most the worker delivers.
    report.notify = await measureNotifications(base, withPg, NOTIFY_RATE);
    report.notifyMax = await measureNotifications(base, withPg, 0);
  }

  report.complete = true;
  log(`\n(total ${fmt((performance.now() - t0) / 1000, 1)} s)`);
}

/** A phase's first error and early stop: into the log and the report's errors. */
function reportTrouble(phase: string, r: { firstError?: string; stoppedEarly?: boolean }, stopped?: string): void {
  if (r.firstError) {
    report.errors.push(`${phase}: ${r.firstError}`);
    log(`  ERROR ${r.firstError}`);
  }
  if (r.stoppedEarly && stopped) {
    report.errors.push(`${phase}: ${stopped}`);
    log(`  ${stopped}`);
  }
}

async function measureNotifications(base: string, withPg: boolean, rate: number): Promise<NotifySummary & { cpu: CpuUse }> {
  log(`\n[e] notifications: ${NOTIFY_SUBSCRIPTIONS} subscriptions (HTTP receiver on 127.0.0.1), ${fmt(NOTIFY_UPDATES)} entity` +
    ` updates, ${NOTIFY_BATCH} per POST /entityOperations/upsert?options=update, ${rate ? `paced at ${fmt(rate)} updates/s` : 'unpaced'} …`);
  const cpu = cpuMeter(withPg);
  const n = await runNotifyPhase({
    base, subscriptions: NOTIFY_SUBSCRIPTIONS, updates: NOTIFY_UPDATES, batch: NOTIFY_BATCH, concurrency: 4, rate,
    pool: Math.min(NOTIFY_UPDATES, 10_000), maxSeconds: 90, drainSeconds: 15,
  });
  const nCpu = cpu();
  log(`  produced ${fmt(n.committed)} updates in ${fmt(n.produceSeconds, 2)} s = ${fmt(n.producedPerSec)} /s (call p50` +
    ` ${fmt(n.callLatencyMs.p50)} ms, p99 ${fmt(n.callLatencyMs.p99)} ms); statuses ${JSON.stringify(n.statuses)}`);
  log(`  delivered ${fmt(n.delivered)} in ${fmt(n.deliverySeconds, 2)} s = ${fmt(n.deliveredPerSec)} /s; latency commit → receiver` +
    ` p50 ${fmt(n.latencyMs.p50)} ms, p95 ${fmt(n.latencyMs.p95)} ms, p99 ${fmt(n.latencyMs.p99)} ms, max ${fmt(n.latencyMs.max)} ms` +
    ` (${fmt(n.early)} before the response; request sent → receiver p50 ${fmt(n.sinceSentMs.p50)}, p99 ${fmt(n.sinceSentMs.p99)} ms)`);
  log(`  lost ${fmt(n.lost)}, duplicates ${fmt(n.duplicates)}, fan-out ${fmt(n.fanOut, 2)}, unexpected ${fmt(n.unexpected)};` +
    ` ${fmt(n.notifications)} notifications, ${fmt(n.meanItemsPerNotification, 1)} entities each; drain ${fmt(n.drainSeconds, 1)} s`);
  log(`  ${cpuText(nCpu)}`);
  const label = rate ? `notify at ${rate}/s` : 'notify unpaced';
  reportTrouble(label, n, 'producer stopped after 90 s');
  return { ...n, cpu: nCpu };
}

function judge(): void {
  const t = report.targets;
  const up = report.upsert;
  t.push({
    name: 'batch upsert (entities/s)',
    target: `>= ${fmt(TARGETS.upsertPerSec)}`,
    measured: up ? fmt(up.entitiesPerSec) : 'n/a',
    pass: up ? up.entitiesPerSec >= TARGETS.upsertPerSec && !up.firstError : null,
  });
  const g = report.getById;
  t.push({
    name: 'GET by id / bare route',
    target: `>= ${TARGETS.getRatio * 100}%`,
    measured: g?.ratioToBare !== undefined ? `${fmt(g.ratioToBare * 100, 1)}%` : 'n/a',
    pass: g?.ratioToBare !== undefined ? g.ratioToBare >= TARGETS.getRatio && g.non2xx === 0 : null,
  });
  const q = report.query;
  t.push({
    name: 'q + geo p95 (ms)',
    target: `<= ${TARGETS.queryP95Ms}`,
    measured: q ? fmt(q.p95Ms, 2) : 'n/a',
    pass: q ? q.p95Ms <= TARGETS.queryP95Ms && !q.firstError : null,
  });
  const n = report.notify;
  const nMax = report.notifyMax;
  t.push({
    name: 'notifications delivered/s (unpaced)',
    target: `>= ${fmt(TARGETS.notifyPerSec)}`,
    measured: nMax ? fmt(nMax.deliveredPerSec) : 'n/a',
    pass: nMax ? nMax.deliveredPerSec >= TARGETS.notifyPerSec : null,
  });
  t.push({
    name: `notification p99 commit → receiver at ${fmt(NOTIFY_RATE)}/s (ms)`,
    target: `<= ${TARGETS.notifyP99Ms}`,
    measured: n ? fmt(n.latencyMs.p99) : 'n/a',
    pass: n ? n.latencyMs.p99 <= TARGETS.notifyP99Ms : null,
  });
  t.push({
    name: 'notifications lost',
    target: '= 0',
    measured: n && nMax ? fmt(n.lost + nMax.lost) : 'n/a',
    pass: n && nMax ? [n, nMax].every((x) => x.lost === 0 && x.committed === x.updates && !x.firstError) : null,
  });
  const tq = report.temporal;
  t.push({
    name: 'temporal hourly avg over a month p95 (ms)',
    target: `<= ${TARGETS.temporalP95Ms}`,
    measured: tq ? fmt(tq.latencyMs.p95, 2) : 'n/a',
    pass: tq ? tq.latencyMs.p95 <= TARGETS.temporalP95Ms && !tq.firstError : null,
  });
}

function printSummary(): void {
  const r = report;
  const b = r.baselines;
  const na = 'n/a';
  const rows: string[][] = [['measure', 'result', 'detail']];
  if (b.bareRoute) rows.push(['bare Fastify route', `${fmt(b.bareRoute.requestsPerSec)} req/s`, `p50 ${b.bareRoute.latencyMs.p50} ms, p99 ${b.bareRoute.latencyMs.p99} ms`]);
  if (b.lookupRoute) {
    rows.push(['bare route + one SELECT', `${fmt(b.lookupRoute.requestsPerSec)} req/s`,
      `${fmt((b.lookupRoute.ratioToBare ?? NaN) * 100, 1)}% of bare, p99 ${b.lookupRoute.latencyMs.p99} ms`]);
  }
  rows.push(['raw store load', b.rawLoad ? `${fmt(b.rawLoad.rowsPerSec)} rows/s` : na, b.rawLoad?.method ?? '']);
  rows.push(['(a) batch upsert', r.upsert ? `${fmt(r.upsert.entitiesPerSec)} entities/s` : na,
    r.upsert ? `${fmt(r.upsert.entities)} in ${fmt(r.upsert.seconds, 1)} s` + (r.upsert.rawLoadRatio ? `, ${fmt(r.upsert.rawLoadRatio * 100)}% of raw` : '') : '']);
  rows.push(['(b) GET by id', r.getById ? `${fmt(r.getById.requestsPerSec)} req/s` : na,
    r.getById ? `${fmt((r.getById.ratioToBare ?? NaN) * 100, 1)}% of bare, p50 ${r.getById.latencyMs.p50} ms, p99 ${r.getById.latencyMs.p99} ms` : '']);
  rows.push(['(c) q + geo', r.query ? `p95 ${fmt(r.query.p95Ms, 2)} ms` : na,
    r.query ? `p50 ${fmt(r.query.p50Ms, 2)}, p99 ${fmt(r.query.p99Ms, 2)} ms; ${fmt(r.query.meanReturned, 1)} returned, ${fmt(r.query.meanMatching, 1)} matching` : '']);
  rows.push(['(d) contractor NDJSON ingest', r.ingest ? `${fmt(r.ingest.rowsPerSec)} rows/s` : na,
    r.ingest ? `${fmt(r.ingest.accepted)} of ${fmt(r.ingest.rows)} accepted in ${fmt(r.ingest.seconds, 1)} s, ${fmt((r.ingest.upsertRatio ?? NaN) * 100)}% of (a)` : '']);
  for (const [label, x] of [[`(e) notifications at ${fmt(NOTIFY_RATE)}/s`, r.notify], ['(e) notifications unpaced', r.notifyMax]] as const) {
    rows.push([label, x ? `${fmt(x.deliveredPerSec)} delivered/s` : na,
      x ? `p50 ${fmt(x.latencyMs.p50)}, p95 ${fmt(x.latencyMs.p95)}, p99 ${fmt(x.latencyMs.p99)} ms;` +
        ` lost ${x.lost}, duplicates ${x.duplicates}, fan-out ${fmt(x.fanOut, 2)}` : '']);
  }
  rows.push(['(f) temporal hourly avg, a month', r.temporal ? `p95 ${fmt(r.temporal.latencyMs.p95, 2)} ms` : na,
    r.temporal ? `p50 ${fmt(r.temporal.latencyMs.p50, 2)}, p99 ${fmt(r.temporal.latencyMs.p99, 2)} ms over ${fmt(r.temporal.instances)} instances` : '']);
  log('\n' + table(rows));
  log('\n' + table([['target', 'wanted', 'measured', ''], ...r.targets.map((t) => [t.name, t.target, t.measured, t.pass === null ? '—' : t.pass ? 'PASS' : 'MISS'])]));
  log(`\nmachine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGb} GB, ${r.machine.platform}, Node ${r.machine.node}`);
  log(`store:   ${r.store ? `${r.store.kind} — ${r.store.version}` : na}`);
  if (r.errors.length) log(`errors:\n  ${r.errors.join('\n  ')}`);
}

function writeJson(): void {
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, 'latest.json');
    writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
    log(`results: ${file}`);
  } catch (err) {
    log(`could not write the results: ${(err as Error).message}`);
  }
}

async function finish(code: number): Promise<never> {
  judge();
  printSummary();
  writeJson();
  await cleanup();
  const strictMiss = process.env.BENCH_STRICT === '1' && report.targets.some((t) => t.pass === false);
  process.exit(code || (strictMiss ? 1 : 0));
}

const watchdog = setTimeout(() => {
  report.errors.push(`stopped by the watchdog after ${TIMEOUT_S} s`);
  log(`\nwatchdog: the run took longer than ${TIMEOUT_S} s; stopping`);
  void finish(1);
}, TIMEOUT_S * 1000);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    report.errors.push(`interrupted (${signal})`);
    void finish(130);
  });
}

main()
  .then(() => {
    clearTimeout(watchdog);
    return finish(0);
  })
  .catch((err: Error) => {
    clearTimeout(watchdog);
    report.errors.push(err.stack ?? String(err));
    log(`\nbench failed: ${err.stack ?? err}`);
    return finish(1);
  });
