/**
 * Bench phase (e): notification delivery end to end. `subscriptions` (100) subscriptions are
 * created through POST /ngsi-ld/v1/subscriptions, each watching its own slice of `NotifyProbe`
 * entities by idPattern (`^urn:ngsi-ld:NotifyProbe:sNNN-`), so every update matches exactly one
 * subscription (the fan-out is measured, not assumed). Their endpoint is a real HTTP receiver
 * (node:http) on 127.0.0.1 in the load process, one path per subscription (/notify/sNNN); the
 * service needs NOTIFY_ALLOW_PRIVATE=true to send there.
 *
 * Then `updates` entity updates go through the real API: POST /entityOperations/upsert?options=update
 * with `batch` entities per call, paced at `rate` updates/s (0: as fast as `concurrency` calls in
 * flight allow). Each updated entity carries `u` (the update's number, unique) and `sentAt` (ms
 * since epoch when the request was sent). The commit time of an update is taken when its HTTP
 * response came back (the upsert answers after its transaction committed); the receiver's clock
 * is the same process's Date.now(), so latency = receive time − commit time needs no clock sync.
 * A notification can arrive before the response that reports the commit: such latencies count as
 * 0 ms ("early"). Latency is taken on the first delivery of each update.
 *
 * lost = committed updates never delivered to their subscription after the drain (it ends when
 * everything arrived or nothing arrived for `drainSeconds`); duplicates = deliveries of an
 * (update, subscription) pair beyond the first; fan-out = distinct (update, subscription) pairs
 * delivered / distinct updates delivered.
 *
 * The entities (`pool` of them, created before the subscriptions so their creation notifies
 * nobody) are updated round-robin; a call never names an entity twice. Subscriptions are deleted
 * at the end.
 *
 * Like bench/ingest.ts, this file is both the phase's driver (runNotifyPhase, called by run.ts)
 * and its load process (forked, so making load and receiving notifications do not share the
 * service's event loop).
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { percentile } from './stats';

export interface NotifyCommand {
  base: string;
  subscriptions: number;
  updates: number;
  /** entities per upsert call */
  batch: number;
  /** calls in flight at most */
  concurrency: number;
  /** updates per second the producer aims at; 0 = unpaced */
  rate: number;
  /** distinct entities updated round-robin */
  pool: number;
  /** the producer stops after this */
  maxSeconds: number;
  /** the drain ends after this long without a new delivery */
  drainSeconds: number;
}

export interface NotifySummary {
  subscriptions: number;
  updates: number;
  /** updates whose call answered 2xx */
  committed: number;
  calls: number;
  produceSeconds: number;
  /** committed updates / produce time */
  producedPerSec: number;
  /** distinct (update, subscription) pairs delivered as expected */
  delivered: number;
  /** delivered / (last delivery − first request), s⁻¹ */
  deliveredPerSec: number;
  deliverySeconds: number;
  lost: number;
  duplicates: number;
  /** distinct (update, subscription) pairs delivered / distinct updates delivered */
  fanOut: number;
  /** deliveries to a subscription that should not have matched */
  unexpected: number;
  notifications: number;
  meanItemsPerNotification: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  /** deliveries received before the response that reported their commit (counted as 0 ms) */
  early: number;
  /** receive time − sentAt (request sent), p50 / p99: an upper bound including the write itself */
  sinceSentMs: { p50: number; p99: number };
  callLatencyMs: { p50: number; p99: number };
  drainSeconds: number;
  statuses: Record<string, number>;
  receiverErrors: number;
  firstError?: string;
  stoppedEarly: boolean;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const subName = (s: number) => `s${pad(s, 3)}`;
const subId = (s: number) => `urn:ngsi-ld:Subscription:bench-notify-${subName(s)}`;
const entityIdOf = (idx: number, subs: number) => `urn:ngsi-ld:NotifyProbe:${subName(idx % subs)}-${pad(idx, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the load process ----------------------------------------------------------------------------

function call(
  agent: http.Agent,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`the bench only targets 127.0.0.1, not ${u.hostname}`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function notifyLoad(cmd: NotifyCommand): Promise<NotifySummary> {
  const subs = cmd.subscriptions;
  const pool = Math.max(cmd.pool, cmd.batch);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(cmd.concurrency, 4) });
  const upsertUrl = `${cmd.base}/ngsi-ld/v1/entityOperations/upsert?options=update`;
  const statuses: Record<string, number> = {};
  let firstError: string | undefined;
  const check = (what: string, r: { status: number; body: string }, ok: number[]) => {
    if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  };

  // the receiver
  const commitAt = new Float64Array(cmd.updates).fill(NaN);
  const sentAt = new Float64Array(cmd.updates).fill(NaN);
  const firstRecv = new Float64Array(cmd.updates).fill(NaN);
  const recvSinceSent: number[] = [];
  const pairs = new Set<number>();
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let notifications = 0;
  let items = 0;
  let receiverErrors = 0;
  let lastRecv = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      res.statusCode = 204;
      res.end();
      try {
        const m = /\/notify\/s(\d+)$/.exec(req.url ?? '');
        const s = m ? Number(m[1]) : -1;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { u?: number; sentAt?: number }[] };
        notifications++;
        lastRecv = now;
        for (const e of body.data) {
          items++;
          const u = Number(e.u);
          if (!Number.isInteger(u) || u < 0 || u >= cmd.updates) {
            unexpected++;
            continue;
          }
          const key = u * 1000 + s;
          if (pairs.has(key)) {
            duplicates++;
            continue;
          }
          pairs.add(key);
          if (s !== (u % pool) % subs) {
            unexpected++;
            continue;
          }
          delivered++;
          firstRecv[u] = now;
          if (typeof e.sentAt === 'number') recvSinceSent.push(now - e.sentAt);
        }
      } catch {
        receiverErrors++;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  try {
    // the entities, before the subscriptions (their creation notifies nobody)
    for (let start = 0; start < pool; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(pool, start + 1000); i++) {
        batch.push({ id: entityIdOf(i, subs), type: 'NotifyProbe', u: { type: 'Property', value: -1 }, sentAt: { type: 'Property', value: 0 } });
      }
      check('creating the entities', await call(agent, 'POST', `${cmd.base}/ngsi-ld/v1/entityOperations/upsert`, batch), [201, 204]);
    }
    // the subscriptions
    for (let s = 0; s < subs; s++) {
      check('creating a subscription', await call(agent, 'POST', `${cmd.base}/ngsi-ld/v1/subscriptions`, {
        id: subId(s),
        type: 'Subscription',
        entities: [{ type: 'NotifyProbe', idPattern: `^urn:ngsi-ld:NotifyProbe:${subName(s)}-` }],
        notification: {
          format: 'keyValues',
          attributes: ['u', 'sentAt'],
          endpoint: { uri: `http://127.0.0.1:${port}/notify/${subName(s)}`, accept: 'application/json' },
        },
      }), [201]);
    }

    // the updates, paced
    const calls = Math.ceil(cmd.updates / cmd.batch);
    const callMs: number[] = [];
    let next = 0;
    let committed = 0;
    let stoppedEarly = false;
    const t0 = Date.now();
    const deadline = t0 + cmd.maxSeconds * 1000;
    let lastCommit = t0;
    const producer = async () => {
      while (next < calls) {
        const k = next++;
        if (cmd.rate > 0) {
          const due = t0 + (k * cmd.batch * 1000) / cmd.rate;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        if (Date.now() > deadline) {
          stoppedEarly = true;
          return;
        }
        const first = k * cmd.batch;
        const last = Math.min(cmd.updates, first + cmd.batch);
        const sent = Date.now();
        const body = [];
        for (let u = first; u < last; u++) {
          body.push({ id: entityIdOf(u % pool, subs), type: 'NotifyProbe', u: { type: 'Property', value: u }, sentAt: { type: 'Property', value: sent } });
          sentAt[u] = sent;
        }
        const r = await call(agent, 'POST', upsertUrl, body);
        const at = Date.now();
        callMs.push(at - sent);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 201 || r.status === 204) {
          for (let u = first; u < last; u++) commitAt[u] = at;
          committed += last - first;
          lastCommit = Math.max(lastCommit, at);
        } else {
          firstError ??= `HTTP ${r.status}: ${r.body.slice(0, 500)}`;
        }
      }
    };
    await Promise.all(Array.from({ length: cmd.concurrency }, producer));
    const produceSeconds = (lastCommit - t0) / 1000;

    // the drain
    const drainStart = Date.now();
    let seen = delivered;
    let progressAt = Date.now();
    while (delivered < committed) {
      await sleep(50);
      if (delivered !== seen) {
        seen = delivered;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > cmd.drainSeconds * 1000) break;
    }
    const drainSeconds = (Date.now() - drainStart) / 1000;
    await sleep(200); // late duplicates

    const lat: number[] = [];
    let early = 0;
    let lost = 0;
    for (let u = 0; u < cmd.updates; u++) {
      if (Number.isNaN(commitAt[u])) continue;
      if (Number.isNaN(firstRecv[u])) {
        lost++;
        continue;
      }
      const d = firstRecv[u] - commitAt[u];
      if (d < 0) early++;
      lat.push(Math.max(0, d));
    }
    const deliverySeconds = ((lastRecv || Date.now()) - t0) / 1000;
    const distinctUpdates = new Set([...pairs].map((k) => Math.floor(k / 1000))).size;

    for (let s = 0; s < subs; s++) await call(agent, 'DELETE', `${cmd.base}/ngsi-ld/v1/subscriptions/${encodeURIComponent(subId(s))}`).catch(() => undefined);

    return {
      subscriptions: subs,
      updates: cmd.updates,
      committed,
      calls: callMs.length,
      produceSeconds,
      producedPerSec: committed / produceSeconds,
      delivered,
      deliveredPerSec: delivered / deliverySeconds,
      deliverySeconds,
      lost,
      duplicates,
      fanOut: distinctUpdates ? pairs.size / distinctUpdates : NaN,
      unexpected,
      notifications,
      meanItemsPerNotification: notifications ? items / notifications : NaN,
      latencyMs: {
        p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: percentile(lat, 100),
        mean: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : NaN,
      },
      early,
      sinceSentMs: { p50: percentile(recvSinceSent, 50), p99: percentile(recvSinceSent, 99) },
      callLatencyMs: { p50: percentile(callMs, 50), p99: percentile(callMs, 99) },
      drainSeconds,
      statuses,
      receiverErrors,
      firstError,
      stoppedEarly,
    };
  } finally {
    agent.destroy();
    server.closeAllConnections();
    server.close();
  }
}

if (require.main === module && process.send) {
  process.once('message', (cmd: NotifyCommand) => {
    notifyLoad(cmd).then(
      (result) => process.send!({ ok: true, result }, () => process.exit(0)),
      (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)),
    );
  });
}

// --- the driver (in the bench process) -----------------------------------------------------------

/** Forks this file as the load process (producer + receiver), runs the phase, resolves to its summary. */
export function runNotifyPhase(cmd: NotifyCommand): Promise<NotifySummary> {
  return new Promise((resolve, reject) => {
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = fork(join(__dirname, 'notify.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done = false;
    child.once('message', (m: { ok: boolean; result?: NotifySummary; error?: string }) => {
      done = true;
      if (m.ok) resolve(m.result!);
      else reject(new Error(`notify load process: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`the notify load process exited (code ${code})`));
    });
    child.once('error', reject);
    child.send(cmd);
  });
}
