import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/store/db';

/**
 * Instances of the service listening on 127.0.0.1 for tests that talk to them over real HTTP
 * (e.g. one instance as the external NGSI-LD broker of another).
 */
export interface Instance {
  app: FastifyInstance;
  url: string;
  port: number;
}

/** The store of an instance that is stopped and started again: closing the app leaves it open. */
export const keptOpen = (db: Db): Db => ({
  kind: db.kind,
  location: db.location,
  query: (sql, params, opts) => db.query(sql, params, opts),
  transaction: (fn) => db.transaction(fn),
  exec: (sql) => db.exec(sql),
  close: async () => undefined,
});

/**
 * buildApp + listen; no port picks a free one, a given one brings an instance back where it was.
 * beforeListen may add hooks (they apply to the routes already registered).
 */
export async function startInstance(
  db: Db,
  env: Record<string, string> = {},
  opts: { port?: number; deps?: Omit<AppDeps, 'db'>; beforeListen?: (app: FastifyInstance) => void } = {},
): Promise<Instance> {
  // as openTestApp: no rate limit or load shedding between test instances (one address, bursts by design)
  const config = loadConfig({ LOG_LEVEL: 'silent', AUTH: 'off', NOTIFY_ALLOW_PRIVATE: 'true', RATE_LIMIT_MAX: '0', MAX_EVENT_LOOP_DELAY_MS: '0', ...env });
  const app = await buildApp(config, { db, ...opts.deps });
  opts.beforeListen?.(app);
  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${address.port}`, port: address.port };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/** fetch with a JSON body; the answer's body parsed when it is JSON. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
