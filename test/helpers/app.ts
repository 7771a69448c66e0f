import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { openTestDb } from './db';

/** A service on a fresh test store, for inject() tests. */
export async function openTestApp(env: Record<string, string> = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  const db = await openTestDb();
  const app = await buildApp(config, { db });
  await app.ready();
  return { app, config };
}

export const CORE_V18 = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld';
export const linkHeader = (url: string) => `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
