import { openTestDb } from '../helpers/db';
import type { Db } from '../../src/store/db';

let db: Db;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(() => db.close());

test('migrated store has PostGIS and the entities table', async () => {
  const { rows } = await db.query<{ d: boolean }>(
    `SELECT ST_DWithin(ST_SetSRID(ST_MakePoint(9.85, 46.26), 4326)::geography,
                       ST_SetSRID(ST_MakePoint(9.86, 46.26), 4326)::geography, 1000) AS d`,
  );
  expect(rows[0].d).toBe(true);
  const t = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM entities');
  expect(t.rows[0].n).toBe(0);
});

test('transactions roll back on error', async () => {
  await expect(
    db.transaction(async (tx) => {
      await tx.query(`INSERT INTO tenants (name) VALUES ('rollback-me')`);
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  const { rows } = await db.query(`SELECT 1 FROM tenants WHERE name = 'rollback-me'`);
  expect(rows).toHaveLength(0);
});
