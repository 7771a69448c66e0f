import { isoTime as iso, type Queryable } from './db';
import type { ContextKind, ContextStore, StoredContext } from '../ngsi-ld/context/registry';

interface Row {
  id: string;
  url: string;
  kind: string;
  body: unknown;
  created_at: Date | string;
  last_usage: Date | string | null;
  hits: number | bigint | string;
}

const COLUMNS = 'id, url, kind, body, created_at, last_usage, hits';

/** Stored @contexts in table jsonld_contexts (global, not per tenant: contexts are public documents). */
export class SqlContextStore implements ContextStore {
  constructor(private readonly db: Queryable) {}

  async get(url: string): Promise<StoredContext | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM jsonld_contexts WHERE url = $1`, [url]);
    return rows[0] && toStored(rows[0]);
  }

  async getById(id: string): Promise<StoredContext | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM jsonld_contexts WHERE id = $1`, [id]);
    return rows[0] && toStored(rows[0]);
  }

  // A second download of the same URL (another replica, a reload) replaces the body but keeps
  // the id that clients may already know.
  async put(c: StoredContext): Promise<void> {
    await this.db.query(
      `INSERT INTO jsonld_contexts (id, url, kind, body, created_at, last_usage, hits)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
       ON CONFLICT (url) DO UPDATE SET kind = EXCLUDED.kind, body = EXCLUDED.body, created_at = EXCLUDED.created_at`,
      [c.id, c.url, c.kind, JSON.stringify(c.body), c.createdAt, c.lastUsage ?? null, c.numberOfHits],
    );
  }

  async list(kind?: string): Promise<StoredContext[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM jsonld_contexts WHERE $1::text IS NULL OR kind = $1 ORDER BY created_at, id`,
      [kind ?? null],
    );
    return rows.map(toStored);
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM jsonld_contexts WHERE id = $1', [id]);
    return rowCount > 0;
  }

  async touch(url: string): Promise<void> {
    await this.db.query('UPDATE jsonld_contexts SET hits = hits + 1, last_usage = now() WHERE url = $1', [url]);
  }
}


function toStored(r: Row): StoredContext {
  return {
    id: r.id,
    url: r.url,
    kind: r.kind as ContextKind,
    // pg and PGlite both parse jsonb; a string here would be a double-encoded body
    body: r.body,
    createdAt: iso(r.created_at),
    ...(r.last_usage !== null ? { lastUsage: iso(r.last_usage) } : {}),
    numberOfHits: Number(r.hits),
  };
}
