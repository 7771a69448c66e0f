import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { openTestDb } from './db';

/**
 * Test defaults, overridable per suite: authentication off (the auth suites turn it on), no rate
 * limit and no load shedding (thousands of inject() calls; PGlite blocks the event loop).
 */
const TEST_DEFAULTS = { LOG_LEVEL: 'silent', AUTH: 'off', RATE_LIMIT_MAX: '0', MAX_EVENT_LOOP_DELAY_MS: '0' };

/** A service on a fresh test store, for inject() tests. */
export async function openTestApp(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = loadConfig({ ...TEST_DEFAULTS, ...env });
  const db = await openTestDb();
  const app = await buildApp(config, { db });
  await app.ready();
  return { app, config };
}

export const CORE_V18 = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld';
export const linkHeader = (url: string) => `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
