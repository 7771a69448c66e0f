import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config';
import { openPglite, openPostgres, type Db } from './db';

/**
 * Opens the store the configuration names: PostgreSQL when DATABASE_URL is set, else PGlite in
 * DATA_DIR (created if missing). Used by the server and the CLI, so both write to the same place.
 * Not migrated here: buildApp's store plugin (server) and the CLI migrate before use.
 */
export async function openStore(config: Config): Promise<Db> {
  if (config.databaseUrl) {
    return openPostgres({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize });
  }
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  return openPglite({ dataDir });
}
