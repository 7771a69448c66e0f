import type { Entity } from '../ngsi-ld/types';
import { isoTime as iso, type Queryable } from './db';
import { geometrySql, locationFromAttrsSql, validateGeometry } from '../ngsi-ld/query/geo';
import { LOCATION } from '../ngsi-ld/types';

/**
 * Row-level access to the entities table. One statement per batch, never one per entity:
 * batches travel as one jsonb array parameter and are unpacked with jsonb_array_elements.
 */

// Timestamps travel as timestamptz (pg and PGlite hand them over as Date) and are formatted here:
// to_char on the server cost more than toISOString (both keep milliseconds, which is all we store).
export const ENTITY_COLUMNS = `e.id, e.types, e.scopes, e.created_at, e.modified_at, e.attrs`;

export interface EntityRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: Date | string;
  modified_at: Date | string;
  attrs: Entity['attrs'];
}

export const rowToEntity = (r: EntityRow): Entity => ({
  id: r.id,
  type: r.types,
  ...(r.scopes && r.scopes.length ? { scope: r.scopes } : {}),
  createdAt: iso(r.created_at),
  modifiedAt: iso(r.modified_at),
  attrs: r.attrs,
});

export async function ensureTenant(tx: Queryable, tenant: string): Promise<void> {
  await tx.query('INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING', [tenant]);
}

export async function tenantExists(db: Queryable, tenant: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM tenants WHERE name = $1', [tenant]);
  return rows.length > 0;
}

/** Loads entities by id; with forUpdate the rows stay locked until the transaction ends. */
export async function loadEntities(
  tx: Queryable,
  tenant: string,
  ids: string[],
  forUpdate: boolean,
): Promise<Map<string, Entity>> {
  const { rows } = await tx.query<EntityRow>(
    `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE e.tenant = $1 AND e.id = ANY($2::text[])${forUpdate ? ' FOR UPDATE' : ''}`,
    [tenant, ids],
    // a named (prepared once per connection) statement: parsed and planned once, not per read
    { name: forUpdate ? 'entities_by_ids_for_update' : 'entities_by_ids' },
  );
  return new Map(rows.map((r) => [r.id, rowToEntity(r)]));
}

/**
 * The GeoJSON of the `location` column: the first instance of the location attribute when it is a
 * GeoProperty with a valid geometry (what locationFromAttrsSql computes in SQL; parsing has already
 * validated it, so checking here costs little and spares the server a jsonpath per row).
 */
function locationOf(e: Entity): unknown {
  const first = e.attrs[LOCATION]?.[0];
  return first?.type === 'GeoProperty' && validateGeometry(first.value) === undefined ? first.value : undefined;
}

const serialise = (entities: Entity[]): string =>
  JSON.stringify(
    entities.map((e) => ({
      id: e.id, type: e.type, scope: e.scope ?? null, createdAt: e.createdAt, modifiedAt: e.modifiedAt, attrs: e.attrs, loc: locationOf(e),
    })),
  );

const ROWS_FROM_JSON = `SELECT $1::text, x->>'id', ARRAY(SELECT jsonb_array_elements_text(x->'type')),
    CASE WHEN jsonb_typeof(x->'scope') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(x->'scope')) END,
    (x->>'createdAt')::timestamptz, (x->>'modifiedAt')::timestamptz, x->'attrs', ${geometrySql("x->'loc'")}
  FROM jsonb_array_elements($2::jsonb) AS x`;

const INSERT = `INSERT INTO entities (tenant, id, types, scopes, created_at, modified_at, attrs, location)`;

/** Inserts new entities; returns the ids that were inserted (the others already existed). */
export async function insertEntities(tx: Queryable, tenant: string, entities: Entity[]): Promise<Set<string>> {
  if (entities.length === 0) return new Set();
  const { rows } = await tx.query<{ id: string }>(
    `${INSERT} ${ROWS_FROM_JSON} ON CONFLICT (tenant, id) DO NOTHING RETURNING id`,
    [tenant, serialise(entities)],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Writes entities whole (insert or overwrite), keeping the first createdAt. With mergeAttributes
 * an existing row's attributes are kept under the new ones: a concurrent writer that inserted the
 * row after we read it (so we computed from "absent") does not lose its attributes.
 */
export async function writeEntities(
  tx: Queryable,
  tenant: string,
  entities: Entity[],
  opts: { mergeAttributes: boolean } = { mergeAttributes: false },
): Promise<void> {
  if (entities.length === 0) return;
  const attrs = opts.mergeAttributes ? 'entities.attrs || EXCLUDED.attrs' : 'EXCLUDED.attrs';
  await tx.query(
    `${INSERT} ${ROWS_FROM_JSON}
     ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
       modified_at = EXCLUDED.modified_at, attrs = ${attrs},
       location = ${opts.mergeAttributes ? locationFromAttrsSql(attrs) : 'EXCLUDED.location'}`,
    [tenant, serialise(entities)],
  );
}

/** Deletes entities; returns the ids that existed. */
export async function deleteEntities(tx: Queryable, tenant: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await tx.query<{ id: string }>(
    'DELETE FROM entities WHERE tenant = $1 AND id = ANY($2::text[]) RETURNING id',
    [tenant, ids],
  );
  return new Set(rows.map((r) => r.id));
}
