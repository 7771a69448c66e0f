import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPglite, openPostgres, type Db } from '../../src/store/db';
import { migrate } from '../../src/store/migrations';

/**
 * A migrated, empty store for one test file: a fresh schema on the PostgreSQL server named by
 * DATABASE_URL (CI), or else a PGlite instance started from a migrated template data folder
 * (creating PGlite + PostGIS from scratch takes 10+ s; loading the template ~3 s).
 */
export async function openTestDb(): Promise<Db> {
  if (process.env.DATABASE_URL) {
    const db = await openUnmigratedTestDb();
    await migrate(db);
    return db;
  }
  await ensurePgliteTemplate();
  const db = await openPglite({ loadDataDir: new Blob([readFileSync(templatePath())]) });
  await migrate(db);
  return db;
}

/**
 * A store with no migration applied yet (migration tests): a fresh schema on DATABASE_URL's
 * server (dropped on close), else a PGlite created from scratch (slow: 10+ s).
 */
export async function openUnmigratedTestDb(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (!url) return openPglite({});
  const schema = 'test_' + randomBytes(6).toString('hex');
  const db = await openPostgres({ url, schema, poolSize: 4 });
  const close = db.close.bind(db);
  return Object.assign(db, {
    close: async () => {
      await db.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await close();
    },
  });
}

// The template is keyed by the migrations' source, so a changed schema never loads a stale one.
const templatePath = (): string => {
  const migrations = readFileSync(join(__dirname, '..', '..', 'src', 'store', 'migrations.ts'));
  const key = createHash('sha256').update(migrations).digest('hex').slice(0, 12);
  return join(__dirname, '..', '..', 'node_modules', '.cache', 'smartland', `pglite-template-${key}.tar`);
};

/** Builds the migrated PGlite template once (jest's globalSetup calls this before the workers start). */
export async function ensurePgliteTemplate(): Promise<void> {
  const path = templatePath();
  if (existsSync(path)) return;
  const db = await openPglite({});
  await migrate(db);
  const dump = await (db as unknown as { dump: () => Promise<Blob> }).dump();
  mkdirSync(join(path, '..'), { recursive: true });
  // write to a temp name and rename, so a reader never sees half a file
  const tmp = `${path}.${process.pid}`;
  writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
  renameSync(tmp, path);
  await db.close();
}

/**
 * A store for a service started as a child process (it opens the store itself): a schema of its own
 * on DATABASE_URL's server, else a PGlite data folder; `remove` drops it after the test.
 */
export function processStore(prefix: string): { env: Record<string, string>; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `smartland-${prefix}-`));
  const url = process.env.DATABASE_URL;
  const schema = url ? `test_${prefix.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}` : undefined;
  return {
    env: url && schema ? { DATABASE_URL: url, DATABASE_SCHEMA: schema } : { DATA_DIR: join(dir, 'data') },
    remove: async () => {
      if (url && schema) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
