import { Pool, types as pgTypes } from 'pg';

/** What a query needs: both pg and PGlite answer this shape. */
export interface QueryOptions {
  /**
   * PostgreSQL: run as a named prepared statement (parsed and planned once per connection). Only
   * for fixed SQL text: one name, one text. PGlite ignores it.
   */
  name?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<{ rows: T[]; rowCount: number }>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** human-readable location for start-up logs (no credentials) */
  readonly location: string;
  /** runs fn in one transaction; rolls back if it throws */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** runs several statements without parameters (migrations) */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

// timestamptz/timestamp as ISO strings in both stores would differ in format; keep them as Date in
// pg (its default) and convert explicitly where needed. int8 (count(*)) as number: our counts fit.
pgTypes.setTypeParser(20, (v) => Number(v));

export interface PostgresOptions {
  url: string;
  /** schema to work in (created if missing); PostGIS stays in public */
  schema: string;
  poolSize: number;
}

export async function openPostgres(opts: PostgresOptions): Promise<Db> {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    // jit off: JIT compilation costs ~130 ms on jsonpath-heavy queries that run in a few ms without it;
    // no parallel workers: PostGIS's high function costs make the planner start one, which costs
    // 20-30 ms per query on a small API machine (measured: 35 ms vs 5.7 ms for a geo count)
    options: `-c search_path=${quoteIdent(opts.schema)},public -c jit=off -c max_parallel_workers_per_gather=0`,
  });
  const query: Queryable['query'] = async (sql, params, opts) => {
    const r = opts?.name ? await pool.query({ name: opts.name, text: sql, values: params as unknown[] }) : await pool.query(sql, params as unknown[]);
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  };
  const url = new URL(opts.url);
  url.password = '';
  url.username = '';
  const db: Db = {
    kind: 'postgres',
    location: `${url.host}${url.pathname} (schema ${opts.schema})`,
    query,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: async (sql, params, opts) => {
            const r = opts?.name
              ? await client.query({ name: opts.name, text: sql, values: params as unknown[] })
              : await client.query(sql, params as unknown[]);
            return { rows: r.rows, rowCount: r.rowCount ?? 0 };
          },
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
  await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
  return db;
}

export interface PgliteOptions {
  /** data folder; undefined = in memory */
  dataDir?: string;
  /** a dumped data folder (tar) to start from, e.g. a migrated template in tests */
  loadDataDir?: Blob;
}

export async function openPglite(opts: PgliteOptions): Promise<Db> {
  // PGlite ships as an ES module; import() keeps this file CommonJS.
  const { PGlite } = await import('@electric-sql/pglite');
  const { postgis } = await import('@electric-sql/pglite-postgis');
  const pg = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    extensions: { postgis },
  });
  type PgliteLike = { query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[]; affectedRows?: number }> };
  const wrap = (q: PgliteLike): Queryable['query'] => async <T>(sql: string, params?: unknown[]) => {
    const r = await q.query(sql, params);
    return { rows: r.rows as T[], rowCount: r.affectedRows ?? r.rows.length };
  };
  return {
    kind: 'pglite',
    location: opts.dataDir ?? 'memory',
    query: wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn({ query: wrap(tx) })),
    async exec(sql) {
      await pg.exec(sql);
    },
    async close() {
      await pg.close();
    },
    // exposed for the test helper that builds a migrated template once
    ...({ dump: () => pg.dumpDataDir('none') } as object),
  };
}

/** A timestamptz as the drivers return it (node-postgres: Date, PGlite: Date or string) → ISO 8601 UTC. */
export const isoTime = (t: Date | string): string => (typeof t === 'string' ? new Date(t).toISOString() : t.toISOString());

export const quoteIdent = (s: string): string => '"' + s.replace(/"/g, '""') + '"';
