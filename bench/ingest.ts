/**
 * Bench phase (d): contractor ingestion end to end. A contractor's weather measurements (keyValues
 * WeatherObserved items, as the Smart Data Models schema describes them) are sent as NDJSON bodies
 * of 1000 rows to POST /api/v1/entities/WeatherObserved — the contractor API: parse → ajv-validate
 * → map to normalized NGSI-LD → upsert — with the same calls in flight as phase (a).
 *
 * This file is both the phase's driver (runIngestPhase, called by run.ts) and its load process:
 * run.ts forks it (like bench/client.ts, so making load does not share the service's event loop),
 * the child builds the bodies before the clock starts, sends them and answers a summary over IPC.
 * Ids (urn:ngsi-ld:WeatherObserved:contractor-NNNNNN) are new, distinct from phase (a)'s.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pointNearChiesa, prng } from './data';

export interface IngestCommand {
  base: string;
  /** measurements (rows) to send */
  rows: number;
  /** rows per request */
  batch: number;
  /** requests in flight */
  concurrency: number;
  maxSeconds: number;
  seed: number;
}

export interface IngestSummary {
  rows: number;
  accepted: number;
  rejected: number;
  calls: number;
  seconds: number;
  /** accepted rows per second, wall clock from the first request to the last response */
  rowsPerSec: number;
  bodyBytesPerRow: number;
  callLatencyMs: number[];
  statuses: Record<string, number>;
  firstError?: string;
  stoppedEarly: boolean;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Measurement i: a keyValues WeatherObserved item, deterministic, ~330 bytes of JSON. */
export function measurement(i: number, seed = 1): Record<string, unknown> {
  const rand = prng(seed * 7_000_003 + i);
  const dateObserved = new Date(Date.UTC(2025, 5, 1, 0, 0, 0) + Math.floor(rand() * 86_400) * 1000).toISOString();
  return {
    id: `urn:ngsi-ld:WeatherObserved:contractor-${String(i).padStart(6, '0')}`,
    type: 'WeatherObserved',
    dateObserved,
    location: { type: 'Point', coordinates: pointNearChiesa(rand) },
    temperature: round(-5 + 30 * rand(), 1),
    relativeHumidity: round(0.3 + 0.7 * rand(), 2),
    atmosphericPressure: round(880 + 40 * rand(), 1),
    windSpeed: round(12 * rand(), 1),
    windDirection: Math.floor(360 * rand()),
    precipitation: round(rand() < 0.7 ? 0 : 20 * rand(), 1),
    refDevice: `urn:ngsi-ld:Device:contractor-${String(i % 5000).padStart(4, '0')}`,
  };
}

// --- the load process ----------------------------------------------------------------------------

function post(url: string, body: Buffer, agent: http.Agent): Promise<{ status: number; body: string; ms: number }> {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`the bench only targets 127.0.0.1, not ${u.hostname}`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/x-ndjson', 'content-length': String(body.length), accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function ingestLoad(cmd: IngestCommand): Promise<IngestSummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cmd.concurrency });
  // the bodies, built before the clock starts
  const bodies: Buffer[] = [];
  let bytes = 0;
  for (let start = 0; start < cmd.rows; start += cmd.batch) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(start + cmd.batch, cmd.rows); i++) lines.push(JSON.stringify(measurement(i, cmd.seed)));
    const body = Buffer.from(lines.join('\n') + '\n');
    bytes += body.length;
    bodies.push(body);
  }
  const url = `${cmd.base}/api/v1/entities/WeatherObserved`;
  const s: IngestSummary = {
    rows: 0, accepted: 0, rejected: 0, calls: 0, seconds: 0, rowsPerSec: 0, bodyBytesPerRow: bytes / Math.max(cmd.rows, 1),
    callLatencyMs: [], statuses: {}, stoppedEarly: false,
  };
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + cmd.maxSeconds * 1000;
  const worker = async () => {
    while (next < bodies.length) {
      if (performance.now() > deadline) {
        s.stoppedEarly = true;
        return;
      }
      const k = next++;
      const rows = Math.min(cmd.batch, cmd.rows - k * cmd.batch);
      const res = await post(url, bodies[k], agent);
      s.calls++;
      s.rows += rows;
      s.callLatencyMs.push(res.ms);
      s.statuses[res.status] = (s.statuses[res.status] ?? 0) + 1;
      let parsed: { accepted?: number; rejected?: number; items?: { status: string; errors?: unknown }[] } | undefined;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        parsed = undefined;
      }
      if (typeof parsed?.accepted === 'number') {
        s.accepted += parsed.accepted;
        s.rejected += parsed.rejected ?? rows - parsed.accepted;
      } else {
        s.rejected += rows;
      }
      if (!s.firstError && (res.status >= 300 || (parsed?.rejected ?? 0) > 0)) {
        const item = parsed?.items?.find((it) => it.status === 'rejected');
        s.firstError = `HTTP ${res.status}: ${item ? JSON.stringify(item) : res.body.slice(0, 300)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, worker));
  s.seconds = (performance.now() - t0) / 1000;
  s.rowsPerSec = s.accepted / s.seconds;
  agent.destroy();
  return s;
}

if (require.main === module && process.send) {
  process.once('message', (cmd: IngestCommand) => {
    ingestLoad(cmd).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)),
    );
  });
}

// --- the driver (in the bench process) -----------------------------------------------------------

/** Forks this file as the load process, runs the phase, resolves to its summary. */
export function runIngestPhase(cmd: IngestCommand): Promise<IngestSummary> {
  return new Promise((resolve, reject) => {
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = fork(join(__dirname, 'ingest.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done = false;
    child.once('message', (m: { ok: boolean; result?: IngestSummary; error?: string }) => {
      done = true;
      if (m.ok) resolve(m.result!);
      else reject(new Error(`ingest load process: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`the ingest load process exited (code ${code})`));
    });
    child.once('error', reject);
    child.send(cmd);
  });
}
