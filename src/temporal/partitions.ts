/**
 * The monthly partitions of attribute_instances (migration 50): created ahead of time and for the
 * rows that landed in the DEFAULT partition, dropped whole by retention. A partition is named
 * after its UTC month, attribute_instances_yYYYYmMM, and covers [first of the month, first of the
 * next); attribute_instances_add_partition() (SQL, migration 50) is the one place that creates them.
 */
import { quoteIdent, type Queryable } from '../store/db';

const PARTITION_NAME = /^attribute_instances_y(\d{4})m(\d{2})$/;

/** The first instant of t's UTC month, plus `months` months. */
const monthStart = (t: Date, months = 0): Date => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + months, 1));

/**
 * Creates the partitions of this month and the next, so that writes find them; returns how many
 * were created. Rows of other months that landed in DEFAULT (a backfill of older history, a
 * far-off observedAt) stay there, still indexed and pruned row by row: moving them would hold the
 * whole history locked, and so block every entity write (each inserts history), for as long as
 * the move takes, however large the backfill. This month's and next month's DEFAULT rows (only
 * written while the service was down over a month's start) are few and do move.
 */
export async function ensurePartitions(db: Queryable, now: Date): Promise<number> {
  let created = 0;
  for (const m of [monthStart(now), monthStart(now, 1)]) {
    const { rows } = await db.query<{ created: boolean }>('SELECT attribute_instances_add_partition($1::timestamptz) AS created', [m.toISOString()]);
    if (rows[0].created) created++;
  }
  return created;
}

/**
 * Drops the partitions that lie entirely before `before` (retention without a row-by-row DELETE);
 * returns how many rows they held.
 */
export async function dropPartitionsBefore(db: Queryable, before: Date): Promise<number> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = 'attribute_instances'::regclass`,
  );
  let dropped = 0;
  for (const { schema, name } of rows) {
    const m = PARTITION_NAME.exec(name);
    // the DEFAULT partition (and anything not named by month) is pruned row by row; the 1-based
    // month taken as Date.UTC's 0-based index is the next month: the partition's upper bound
    if (!m || Date.UTC(Number(m[1]), Number(m[2]), 1) > before.getTime()) continue;
    const table = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    const { rows: n } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    await db.query(`DROP TABLE ${table}`);
    dropped += Number(n[0].n);
  }
  return dropped;
}
