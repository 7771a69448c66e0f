import type { Db, Queryable } from '../../store/db';
import { SqlParams } from '../../store/sql';
import {
  ensureTenant, tenantExists, loadEntities, insertEntities, writeEntities,
  ENTITY_COLUMNS, rowToEntity, type EntityRow,
} from '../../store/entity-store';
import { alreadyExists, badRequestData, notFound, NgsiError } from '../../ngsi-ld/errors';
import { LOCATION, type Attributes, type AttributeInstance, type Entity } from '../../ngsi-ld/types';
import {
  stampNew, appendAttributes, updateAttributes, partialUpdateAttribute, replaceAttribute,
  deleteAttribute, mergeEntity, replaceEntity, upsertEntity,
} from '../../ngsi-ld/entity/mutate';
import { qToSql } from '../../ngsi-ld/query/q-sql';
import { geoQueryToSql } from '../../ngsi-ld/query/geo';
import { scopeQToSql } from '../../ngsi-ld/query/scope';
import { typeExprToSql } from '../../ngsi-ld/query/type-expr';
import { assertFiltersEvaluable, matchSubscriptions, type EntityChange } from '../../notify/matcher';
import { recordEntityWrites } from '../../temporal/history-store';
import { StatementBatcher } from '../../store/statement-batcher';
import type { Subscription } from '../../notify/types';
import { applySubscriptionPatch, type SubscriptionPatch } from '../../notify/subscription-parse';
import {
  deleteSubscriptionRow, insertSubscription, listSubscriptions, loadSubscription, updateSubscriptionRow,
} from '../../store/subscription-store';
import type {
  AttributeSummary, BatchResult, ContextBroker, EntityQuery, EntitySelector, QueryResult, SubscriptionList,
  SubscriptionPage, TypeSummary, UpdateResult,
} from '../context-broker';

const entityNotFound = (id: string) => notFound(`Entity '${id}' not found`);
const subscriptionNotFound = (id: string) => notFound(`Subscription '${id}' not found`);

/** PostgreSQL errors caused by user input that slipped past validation (e.g. a regex PostgreSQL rejects). */
const USER_INPUT_SQLSTATES = new Set(['2201B', '22P02', '22023', '2203A', '2203B', '2203C', '2203D', '2203E', '2203F', '22030', '22031', '22032', '22033', '22034', '22035', '22036', '22037', '22038', '22039', '22018', '22007', '22008']);

function asUserError(err: unknown): never {
  const e = err as { code?: string; message?: string };
  if (!(err instanceof NgsiError) && e && typeof e.code === 'string' && USER_INPUT_SQLSTATES.has(e.code)) {
    throw badRequestData(`query could not be evaluated: ${e.message}`);
  }
  throw err;
}

/**
 * The embedded NGSI-LD engine: entity state in PostgreSQL/PGlite. Every write is read-modify-write
 * inside one transaction with the affected rows locked; the mutation rules are pure functions
 * (ngsi-ld/entity/mutate) and SQL is one statement per batch.
 */
export class EmbeddedBroker implements ContextBroker {
  /** tenants are never deleted, so remembering that one exists cannot go stale */
  private readonly knownTenants = new Set<string>(['']);

  /**
   * GET /entities/{id}: lookups made while others run go out together in one statement (one
   * tenant per statement). Under load this turns n PostgreSQL round trips into one; a read still
   * never returns older state than a write that committed before it was asked for.
   */
  private readonly reads: StatementBatcher<{ tenant: string; id: string }, Entity | undefined>;

  constructor(private readonly db: Db) {
    this.reads = new StatementBatcher({
      maxInFlight: 2,
      maxBatch: 200,
      groupOf: (r) => r.tenant,
      run: async (batch) => {
        const found = await loadEntities(db, batch[0].tenant, [...new Set(batch.map((r) => r.id))], false);
        return batch.map((r) => found.get(r.id));
      },
    });
  }

  async tenantExists(tenant: string): Promise<boolean> {
    if (this.knownTenants.has(tenant)) return true;
    const exists = await tenantExists(this.db, tenant);
    if (exists) this.knownTenants.add(tenant);
    return exists;
  }

  /**
   * One write transaction. `fn` records the entities it changed in `changes` (before/after); at
   * the end, in the same transaction, the instances written go to the attribute history and the
   * changes are matched against the tenant's subscriptions, so that history and outbox rows commit
   * (or roll back) with the entity write.
   */
  private async write<T>(tenant: string, fn: (tx: Queryable, now: string, changes: EntityChange[]) => Promise<T>): Promise<T> {
    const now = new Date().toISOString();
    const result = await this.db.transaction(async (tx) => {
      if (!this.knownTenants.has(tenant)) await ensureTenant(tx, tenant);
      const changes: EntityChange[] = [];
      const r = await fn(tx, now, changes);
      await recordEntityWrites(tx, tenant, changes, now);
      await matchSubscriptions(tx, tenant, changes, now);
      return r;
    });
    this.knownTenants.add(tenant);
    return result;
  }

  /** Loads one entity locked, applies a pure change, writes it back. */
  private async modify<T>(
    tenant: string,
    id: string,
    change: (e: Entity, now: string) => { entity: Entity; result: T },
  ): Promise<T> {
    return this.write(tenant, async (tx, now, changes) => {
      const existing = (await loadEntities(tx, tenant, [id], true)).get(id);
      if (!existing) throw entityNotFound(id);
      const { entity, result } = change(existing, now);
      await writeEntities(tx, tenant, [entity]);
      changes.push({ before: existing, after: entity });
      return result;
    });
  }

  async createEntity(tenant: string, entity: Entity): Promise<void> {
    await this.write(tenant, async (tx, now, changes) => {
      const stamped = stampNew(entity, now);
      const inserted = await insertEntities(tx, tenant, [stamped]);
      if (!inserted.has(entity.id)) throw alreadyExists(`Entity '${entity.id}' already exists`);
      changes.push({ after: stamped });
    });
  }

  async getEntity(tenant: string, id: string): Promise<Entity> {
    const e = await this.reads.submit({ tenant, id });
    if (!e) throw entityNotFound(id);
    return e;
  }

  async replaceEntity(tenant: string, entity: Entity): Promise<void> {
    await this.modify(tenant, entity.id, (e, now) => ({ entity: replaceEntity(e, entity, now), result: undefined }));
  }

  async mergeEntity(tenant: string, id: string, patch: Attributes, members: { type?: string[]; scope?: string[] }): Promise<void> {
    await this.modify(tenant, id, (e, now) => ({ entity: mergeEntity(e, patch, now, members), result: undefined }));
  }

  async deleteEntity(tenant: string, id: string): Promise<void> {
    await this.write(tenant, async (tx, _now, changes) => {
      const deleted = await deleteReturning(tx, tenant, [id]);
      if (!deleted.has(id)) throw entityNotFound(id);
      changes.push({ before: deleted.get(id) });
    });
  }

  appendAttributes(tenant: string, id: string, attrs: Attributes, opts: { noOverwrite: boolean }): Promise<UpdateResult> {
    return this.modify(tenant, id, (e, now) => {
      const { entity, updated, notUpdated } = appendAttributes(e, attrs, now, opts);
      return { entity, result: { updated, notUpdated } };
    });
  }

  updateAttributes(tenant: string, id: string, attrs: Attributes): Promise<UpdateResult> {
    return this.modify(tenant, id, (e, now) => {
      const { entity, updated, notUpdated } = updateAttributes(e, attrs, now);
      return { entity, result: { updated, notUpdated } };
    });
  }

  async partialUpdateAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.modify(tenant, id, (e, now) => ({ entity: partialUpdateAttribute(e, attr, instances, now), result: undefined }));
  }

  async replaceAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.modify(tenant, id, (e, now) => ({ entity: replaceAttribute(e, attr, instances, now), result: undefined }));
  }

  async deleteAttribute(tenant: string, id: string, attr: string, opts: { datasetId?: string; deleteAll?: boolean }): Promise<void> {
    await this.modify(tenant, id, (e, now) => ({ entity: deleteAttribute(e, attr, opts, now), result: undefined }));
  }

  async batchCreate(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.write(tenant, async (tx, now, changes) => {
      const result: BatchResult = { success: [], errors: [] };
      const firsts = new Map<string, Entity>();
      for (const e of entities) {
        if (firsts.has(e.id)) result.errors.push(conflict(e.id, 'appears more than once in the batch'));
        else firsts.set(e.id, stampNew(e, now));
      }
      const inserted = await insertEntities(tx, tenant, [...firsts.values()]);
      for (const [id, e] of firsts) {
        if (inserted.has(id)) {
          result.success.push(id);
          changes.push({ after: e });
        } else {
          result.errors.push(conflict(id, 'already exists'));
        }
      }
      return result;
    });
  }

  async batchUpsert(tenant: string, entities: Entity[], mode: 'replace' | 'update'): Promise<BatchResult> {
    return this.write(tenant, async (tx, now, changes) => {
      const existing = await loadEntities(tx, tenant, uniqueIds(entities), true);
      const created = new Set<string>();
      const next = new Map<string, Entity>();
      for (const e of entities) {
        const before = next.get(e.id) ?? existing.get(e.id);
        if (!before) created.add(e.id);
        next.set(e.id, upsertEntity(before, e, now, mode));
      }
      await writeEntities(tx, tenant, [...next.values()], { mergeAttributes: mode === 'update' });
      for (const [id, after] of next) changes.push({ before: existing.get(id), after });
      return { success: [...next.keys()], errors: [], created: [...created] };
    });
  }

  async batchUpdate(tenant: string, entities: Entity[], opts: { noOverwrite: boolean }): Promise<BatchResult> {
    return this.batchModify(tenant, entities, (before, e, now) => appendAttributes(before, e.attrs, now, opts).entity);
  }

  async batchMerge(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.batchModify(tenant, entities, (before, e, now) =>
      mergeEntity(before, e.attrs, now, { type: e.type.length ? e.type : undefined, scope: e.scope }),
    );
  }

  /** Batch operations that only change existing entities: missing ones are reported per entity. */
  private batchModify(tenant: string, entities: Entity[], change: (before: Entity, e: Entity, now: string) => Entity): Promise<BatchResult> {
    return this.write(tenant, async (tx, now, changes) => {
      const existing = await loadEntities(tx, tenant, uniqueIds(entities), true);
      const result: BatchResult = { success: [], errors: [] };
      const next = new Map<string, Entity>();
      for (const e of entities) {
        const before = next.get(e.id) ?? existing.get(e.id);
        if (!before) {
          result.errors.push({ entityId: e.id, error: entityNotFound(e.id).toProblem() });
          continue;
        }
        try {
          next.set(e.id, change(before, e, now));
        } catch (err) {
          if (!(err instanceof NgsiError)) throw err;
          result.errors.push({ entityId: e.id, error: err.toProblem() });
        }
      }
      await writeEntities(tx, tenant, [...next.values()]);
      for (const [id, after] of next) changes.push({ before: existing.get(id), after });
      result.success = [...next.keys()];
      return result;
    });
  }

  async batchDelete(tenant: string, ids: string[]): Promise<BatchResult> {
    return this.write(tenant, async (tx, _now, changes) => {
      const deleted = await deleteReturning(tx, tenant, [...new Set(ids)]);
      for (const before of deleted.values()) changes.push({ before });
      const result: BatchResult = { success: [...deleted.keys()], errors: [] };
      for (const id of new Set(ids)) if (!deleted.has(id)) result.errors.push({ entityId: id, error: entityNotFound(id).toProblem() });
      return result;
    });
  }

  async queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult> {
    const params = new SqlParams([tenant]);
    const where = ['e.tenant = $1'];
    // With a geo-query on the location column the GiST index finds few rows; a type that most
    // entities have would only add a costly bitmap of the types index (BitmapAnd), so the types are
    // then checked as a filter (measured at 100k rows, 70 % one type: 24-27 ms -> 9 ms).
    const typesAsFilter = query.geo?.geoproperty === LOCATION;
    const selectors = query.selectors.map((s) => selectorToSql(s, params, typesAsFilter)).filter(Boolean);
    if (selectors.length) where.push(selectors.length === 1 ? selectors[0] : `(${selectors.join(' OR ')})`);
    if (query.attrs) where.push(`e.attrs ?| ${params.add(query.attrs)}::text[]`);
    if (query.q) where.push(qToSql(query.q, { expand: query.expand, params, attrsColumn: 'e.attrs' }));
    if (query.scopeQ) where.push(scopeQToSql(query.scopeQ, { params, scopesColumn: 'e.scopes' }));
    if (query.geo) where.push(geoQueryToSql(query.geo, { params, locationColumn: 'e.location', attrsColumn: 'e.attrs' }));
    const filter = where.join(' AND ');
    try {
      const entities: Entity[] = [];
      if (query.limit > 0) {
        const page = new SqlParams(params.values);
        const { rows } = await this.db.query<EntityRow>(
          `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE ${filter} ORDER BY e.id LIMIT ${page.add(query.limit)} OFFSET ${page.add(query.offset)}`,
          page.values,
        );
        for (const r of rows) entities.push(rowToEntity(r));
      }
      let count: number | undefined;
      if (query.count) {
        const { rows } = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM entities e WHERE ${filter}`, params.values);
        count = Number(rows[0].n);
      }
      return { entities, count };
    } catch (err) {
      return asUserError(err);
    }
  }

  async listTypes(tenant: string): Promise<TypeSummary[]> {
    const { rows } = await this.db.query<{ type: string; n: number; attrs: { name: string; kinds: string[] }[] | null }>(
      `WITH t AS (SELECT unnest(types) AS type, attrs FROM entities WHERE tenant = $1),
            a AS (SELECT t.type, k.key AS name, array_agg(DISTINCT i->>'type') AS kinds
                    FROM t, jsonb_each(t.attrs) k, jsonb_array_elements(k.value) i GROUP BY t.type, k.key)
       SELECT c.type, c.n, (SELECT json_agg(json_build_object('name', a.name, 'kinds', a.kinds) ORDER BY a.name) FROM a WHERE a.type = c.type) AS attrs
         FROM (SELECT type, count(*)::int AS n FROM t GROUP BY type) c ORDER BY c.type`,
      [tenant],
    );
    return rows.map((r) => ({ type: r.type, entityCount: Number(r.n), attributes: r.attrs ?? [] }));
  }

  async listAttributes(tenant: string): Promise<AttributeSummary[]> {
    const { rows } = await this.db.query<{ name: string; n: number; kinds: string[]; types: string[] }>(
      `SELECT k.key AS name, count(DISTINCT e.id)::int AS n,
              array_agg(DISTINCT i->>'type') AS kinds,
              (SELECT array_agg(DISTINCT t) FROM entities e2, unnest(e2.types) t WHERE e2.tenant = $1 AND e2.attrs ? k.key) AS types
         FROM entities e, jsonb_each(e.attrs) k, jsonb_array_elements(k.value) i
        WHERE e.tenant = $1 GROUP BY k.key ORDER BY k.key`,
      [tenant],
    );
    return rows.map((r) => ({ name: r.name, count: Number(r.n), kinds: r.kinds, types: r.types ?? [] }));
  }

  // --- subscriptions (spec 5.8) ------------------------------------------------------------------

  async createSubscription(tenant: string, sub: Subscription): Promise<void> {
    await assertFiltersEvaluable(this.db, sub).catch(asUserError);
    await this.db.transaction(async (tx) => {
      if (!this.knownTenants.has(tenant)) await ensureTenant(tx, tenant);
      if (!(await insertSubscription(tx, { ...sub, tenant }))) throw alreadyExists(`Subscription '${sub.id}' already exists`);
    });
    this.knownTenants.add(tenant);
  }

  async getSubscription(tenant: string, id: string): Promise<Subscription> {
    const sub = await loadSubscription(this.db, tenant, id);
    if (!sub) throw subscriptionNotFound(id);
    return sub;
  }

  listSubscriptions(tenant: string, page: SubscriptionPage): Promise<SubscriptionList> {
    return listSubscriptions(this.db, tenant, page);
  }

  async updateSubscription(tenant: string, id: string, patch: SubscriptionPatch): Promise<Subscription> {
    const now = new Date().toISOString();
    return this.db.transaction(async (tx) => {
      const before = await loadSubscription(tx, tenant, id, true);
      if (!before) throw subscriptionNotFound(id);
      const after = applySubscriptionPatch(before, patch, now);
      if (after.q !== before.q) await assertFiltersEvaluable(tx, after).catch(asUserError);
      await updateSubscriptionRow(tx, before, after);
      return after;
    });
  }

  async deleteSubscription(tenant: string, id: string): Promise<void> {
    const deleted = await this.db.transaction((tx) => deleteSubscriptionRow(tx, tenant, id));
    if (!deleted) throw subscriptionNotFound(id);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Deletes entities and returns them as they were (the state subscriptions see deleted). */
async function deleteReturning(tx: Queryable, tenant: string, ids: string[]): Promise<Map<string, Entity>> {
  if (ids.length === 0) return new Map();
  const { rows } = await tx.query<EntityRow>(
    `DELETE FROM entities AS e WHERE e.tenant = $1 AND e.id = ANY($2::text[]) RETURNING ${ENTITY_COLUMNS}`,
    [tenant, ids],
  );
  return new Map(rows.map((r) => [r.id, rowToEntity(r)]));
}

/** One entity selector as SQL on alias `e` (columns id, types): also used by the temporal queries. */
export function selectorToSql(s: EntitySelector, params: SqlParams, typesAsFilter = false): string {
  const parts: string[] = [];
  // `(…) IS TRUE` is the same test (WHERE drops NULL as it drops false) that no index can serve
  if (s.types) parts.push(typesAsFilter ? `(${typeExprToSql(s.types, params, 'e.types')}) IS TRUE` : typeExprToSql(s.types, params, 'e.types'));
  if (s.ids) parts.push(`e.id = ANY(${params.add(s.ids)}::text[])`);
  if (s.idPattern) parts.push(`e.id ~ ${params.add(s.idPattern)}`);
  return parts.length > 1 ? `(${parts.join(' AND ')})` : parts[0] ?? '';
}

const uniqueIds = (entities: Entity[]): string[] => [...new Set(entities.map((e) => e.id))];

const conflict = (entityId: string, why: string) => ({
  entityId,
  error: alreadyExists(`Entity '${entityId}' ${why}`).toProblem(),
});
