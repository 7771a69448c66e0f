import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPglite, openPostgres, type Db } from '../../src/store/db';
import { migrate } from '../../src/store/migrations';

/**
 * A migrated, empty store for one test file: a fresh schema on the PostgreSQL server named by
 * DATABASE_URL (CI), or else a PGlite instance started from a migrated template data folder
 * (creating PGlite + PostGIS from scratch takes ~10 s; loading the template ~3 s).
 */
export async function openTestDb(): Promise<Db> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const schema = 'test_' + randomBytes(6).toString('hex');
    const db = await openPostgres({ url, schema, poolSize: 4 });
    await migrate(db);
    const close = db.close.bind(db);
    return Object.assign(db, {
      close: async () => {
        await db.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
        await close();
      },
    });
  }
  const db = await openPglite({ loadDataDir: await pgliteTemplate() });
  await migrate(db);
  return db;
}

const TEMPLATE = join(__dirname, '..', '..', 'node_modules', '.cache', 'smartland', 'pglite-template.tar');

async function pgliteTemplate(): Promise<Blob | undefined> {
  if (!existsSync(TEMPLATE)) {
    const db = await openPglite({});
    await migrate(db);
    const dump = (await (db as unknown as { dump: () => Promise<Blob> }).dump());
    mkdirSync(join(TEMPLATE, '..'), { recursive: true });
    // write to a temp name and rename: two workers may build it at once
    const tmp = TEMPLATE + '.' + process.pid;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    require('node:fs').renameSync(tmp, TEMPLATE);
    await db.close();
  }
  return new Blob([readFileSync(TEMPLATE)]);
}
