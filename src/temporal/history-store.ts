/**
 * The attribute history (spec 4.5.7, temporal representation) on PostgreSQL/PGlite: one row per
 * attribute instance ever written (attribute_instances, partitioned by month: partitions.ts), and
 * the id, types and scopes of every entity that has history (temporal_entities, kept after the
 * entity is deleted). Migrations 40 and 50 have the tables.
 *
 * Writes of the NGSI-LD entity API record their instances in the same transaction and in one
 * statement per write: the instances a write touched are exactly those whose modifiedAt is the
 * write's time (ngsi-ld/entity/mutate stamps them), so the rows are selected on the server from
 * the entity rows just written: no instance travels twice between Node and the store.
 */
import { isoTime as iso, type Queryable } from '../store/db';
import { SqlParams } from '../store/sql';
import { ensureTenant } from '../store/entity-store';
import type { EntityChange } from '../notify/matcher';
import { qToSql } from '../ngsi-ld/query/q-sql';
import { geoQueryOnInstanceSql } from '../ngsi-ld/query/geo';
import { scopeQToSql } from '../ngsi-ld/query/scope';
import type { ComparisonOp, QTerm } from '../ngsi-ld/query/q';
import { selectorToSql } from '../broker/embedded/engine';
import { notFound, type NgsiError } from '../ngsi-ld/errors';
import { NGSI_LD_NULL, type AttributeInstance, type AttributeKind, type Attributes, type Entity } from '../ngsi-ld/types';
import { periodBoundaries } from './duration';
import { dropPartitionsBefore } from './partitions';
import type {
  AggregatedPeriod, AggregationMethod, TemporalEntity, TemporalQuery, TemporalResult, TimeProperty,
} from './types';

/** Instances of one attribute in one response, at most (spec 6.3.10: more → 206 with Content-Range). */
export const MAX_INSTANCES = 1000;
/** aggregation periods per query, at most (an hourly month is 744) */
export const MAX_PERIODS = 10_000;

const INSTANCE_ID_PREFIX = 'urn:ngsi-ld:attribute:instance:';
export const instanceIdOf = (seq: number | string): string => INSTANCE_ID_PREFIX + String(seq);
/** The row number behind an instanceId, or undefined when it is not one of ours. */
export function seqOf(instanceId: string): string | undefined {
  if (!instanceId.startsWith(INSTANCE_ID_PREFIX)) return undefined;
  const seq = instanceId.slice(INSTANCE_ID_PREFIX.length);
  return /^[1-9]\d{0,17}$/.test(seq) ? seq : undefined;
}

const COLUMNS = 'tenant, entity_id, attr, ts, modified_at, value_num, instance';

/** The stored columns of an instance `i` (jsonb) written at `now` (a timestamptz), after tenant, entity_id, attr. */
const instanceValuesSql = (i: string, now: string): string =>
  `COALESCE((${i}->>'observedAt')::timestamptz, ${now}), ${now},
   CASE WHEN jsonb_typeof(${i}->'value') = 'number' THEN (${i}->>'value')::float8 END, ${i}`;

/** One instance to store: entity id, attribute, the instance. */
interface NewInstance {
  e: string;
  attr: string;
  i: AttributeInstance;
}

/** Stores instances given by the caller (temporal API writes, deletions), in one statement. */
async function insertNewInstances(tx: Queryable, tenant: string, now: string, rows: NewInstance[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO attribute_instances (${COLUMNS})
     SELECT $1, x->>'e', x->>'attr', ${instanceValuesSql("(x->'i')", '$2::timestamptz')} FROM jsonb_array_elements($3::jsonb) x`,
    [tenant, now, JSON.stringify(rows)],
  );
}

const sameList = (a: string[] = [], b: string[] = []): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

/** NGSI-LD Null in the value member of each attribute kind (spec 4.5: how a deleted instance reads). */
const NULL_VALUE_OF: Record<AttributeKind, Partial<AttributeInstance>> = {
  Property: { value: NGSI_LD_NULL },
  GeoProperty: { value: NGSI_LD_NULL },
  Relationship: { object: NGSI_LD_NULL },
  LanguageProperty: { languageMap: { '@none': NGSI_LD_NULL } },
  VocabProperty: { vocab: NGSI_LD_NULL },
  JsonProperty: { json: NGSI_LD_NULL },
  ListProperty: { valueList: [NGSI_LD_NULL] },
  ListRelationship: { objectList: [{ object: NGSI_LD_NULL }] },
};

/** The instances of `before` that `after` (undefined: the entity was deleted) no longer has, as deletion instances. */
function deletionsOf(before: Entity, after: Entity | undefined, now: string): NewInstance[] {
  const out: NewInstance[] = [];
  for (const [attr, instances] of Object.entries(before.attrs)) {
    const kept = after?.attrs[attr] ?? [];
    for (const inst of instances) {
      if (kept.some((k) => k.datasetId === inst.datasetId)) continue;
      const i: AttributeInstance = {
        type: inst.type, ...NULL_VALUE_OF[inst.type], ...(inst.datasetId !== undefined ? { datasetId: inst.datasetId } : {}),
        createdAt: now, modifiedAt: now, deletedAt: now,
      };
      out.push({ e: before.id, attr, i });
    }
  }
  return out;
}

/**
 * Records what one entity-API write changed, in its transaction: every instance it wrote, a
 * deletion instance (deletedAt, NGSI-LD Null) for every instance it deleted (of attributes, or of
 * whole entities: their history is kept), and the types and scopes of entities created or changed.
 */
export async function recordEntityWrites(tx: Queryable, tenant: string, changes: EntityChange[], now: string): Promise<void> {
  const written: string[] = [];
  const typed: string[] = [];
  const deleted: NewInstance[] = [];
  for (const { before, after } of changes) {
    if (before) deleted.push(...deletionsOf(before, after, now));
    if (!after) continue;
    written.push(after.id);
    if (!before || !sameList(before.type, after.type) || !sameList(before.scope, after.scope)) typed.push(after.id);
  }
  await insertNewInstances(tx, tenant, now, deleted);
  if (typed.length) {
    await tx.query(
      `INSERT INTO temporal_entities (tenant, id, types, scopes, created_at)
       SELECT tenant, id, types, scopes, created_at FROM entities WHERE tenant = $1 AND id = ANY($2::text[])
       ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes`,
      [tenant, typed],
    );
  }
  if (written.length) {
    await tx.query(
      `INSERT INTO attribute_instances (${COLUMNS})
       SELECT e.tenant, e.id, k.key, ${instanceValuesSql('i', '$3::text::timestamptz')}
         FROM entities e, jsonb_each(e.attrs) k, jsonb_array_elements(k.value) i
        WHERE e.tenant = $1 AND e.id = ANY($2::text[]) AND i->>'modifiedAt' = $3::text`,
      [tenant, written, now],
    );
  }
}

// --- temporal API writes (spec 5.6.11-5.6.16) -----------------------------------------------------

const entityHistoryNotFound = (id: string) => notFound(`no temporal representation of entity '${id}'`);

/** Instances as written through the temporal API: their own createdAt/modifiedAt are the write time. */
function insertInstances(tx: Queryable, tenant: string, id: string, attrs: Attributes, now: string): Promise<void> {
  const rows: NewInstance[] = [];
  for (const [attr, instances] of Object.entries(attrs)) {
    for (const inst of instances) rows.push({ e: id, attr, i: { ...inst, createdAt: now, modifiedAt: now } });
  }
  return insertNewInstances(tx, tenant, now, rows);
}

/** The stored list `column` of temporal_entities with the upsert's one added (a sorted set). */
const unionSql = (column: string): string =>
  `ARRAY(SELECT DISTINCT unnest(COALESCE(temporal_entities.${column}, '{}') || EXCLUDED.${column}) ORDER BY 1)`;

/**
 * Creates the temporal representation of an entity or adds instances to it (types and scopes
 * given are added); returns whether it was created.
 */
export async function upsertTemporalEntity(
  tx: Queryable, tenant: string, id: string, types: string[], attrs: Attributes, now: string, scopes?: string[],
): Promise<boolean> {
  await ensureTenant(tx, tenant);
  const { rows } = await tx.query<{ created: boolean }>(
    `INSERT INTO temporal_entities (tenant, id, types, scopes, created_at) VALUES ($1, $2, $3::text[], $5::text[], $4::timestamptz)
     ON CONFLICT (tenant, id) DO UPDATE
       SET types = ${unionSql('types')},
           scopes = CASE WHEN EXCLUDED.scopes IS NULL THEN temporal_entities.scopes ELSE ${unionSql('scopes')} END
     RETURNING xmax = 0 AS created`, // a freshly inserted row version has no xmax; an updated one has
    [tenant, id, types, now, scopes?.length ? scopes : null],
  );
  await insertInstances(tx, tenant, id, attrs, now);
  return rows[0].created;
}

/** Adds instances to an existing temporal representation (404 when there is none). */
export async function appendTemporalAttributes(tx: Queryable, tenant: string, id: string, attrs: Attributes, now: string): Promise<void> {
  const { rows } = await tx.query('SELECT 1 FROM temporal_entities WHERE tenant = $1 AND id = $2 FOR UPDATE', [tenant, id]);
  if (rows.length === 0) throw entityHistoryNotFound(id);
  await insertInstances(tx, tenant, id, attrs, now);
}

/** Deletes the whole temporal representation of an entity (its current state is not touched). */
export async function deleteTemporalEntity(tx: Queryable, tenant: string, id: string): Promise<void> {
  const { rowCount } = await tx.query('DELETE FROM temporal_entities WHERE tenant = $1 AND id = $2', [tenant, id]);
  if (rowCount === 0) throw entityHistoryNotFound(id);
  await tx.query('DELETE FROM attribute_instances WHERE tenant = $1 AND entity_id = $2', [tenant, id]);
}

/** Deletes an attribute's history: the default instance's (or datasetId's), or all with deleteAll. */
export async function deleteTemporalAttribute(
  tx: Queryable, tenant: string, id: string, attr: string, opts: { datasetId?: string; deleteAll?: boolean },
): Promise<void> {
  const params = new SqlParams([tenant, id, attr]);
  const dataset = opts.deleteAll ? '' : opts.datasetId === undefined ? ` AND NOT instance ? 'datasetId'` : ` AND instance->>'datasetId' = ${params.add(opts.datasetId)}`;
  const { rowCount } = await tx.query(`DELETE FROM attribute_instances WHERE tenant = $1 AND entity_id = $2 AND attr = $3${dataset}`, params.values);
  if (rowCount === 0) throw notFound(`no history of attribute '${attr}' in entity '${id}'`);
}

const instanceNotFound = (id: string, attr: string, instanceId: string) =>
  notFound(`attribute '${attr}' of entity '${id}' has no instance '${instanceId}'`);

/** Replaces one stored instance (a correction); its instanceId and createdAt stay. */
export async function replaceInstance(
  tx: Queryable, tenant: string, id: string, attr: string, instanceId: string, instance: AttributeInstance, now: string,
): Promise<void> {
  const seq = seqOf(instanceId);
  if (seq === undefined) throw instanceNotFound(id, attr, instanceId);
  const { rowCount } = await tx.query(
    `UPDATE attribute_instances h SET (ts, modified_at, value_num, instance) =
       (SELECT ${instanceValuesSql('x', '$6::timestamptz')} FROM (SELECT $5::jsonb || jsonb_build_object('createdAt', h.instance->'createdAt') AS x) s)
      WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND seq = $4`,
    [tenant, id, attr, seq, JSON.stringify({ ...instance, modifiedAt: now }), now],
  );
  if (rowCount === 0) throw instanceNotFound(id, attr, instanceId);
}

export async function deleteInstance(tx: Queryable, tenant: string, id: string, attr: string, instanceId: string): Promise<void> {
  const seq = seqOf(instanceId);
  const { rowCount } = seq === undefined ? { rowCount: 0 } : await tx.query(
    'DELETE FROM attribute_instances WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND seq = $4',
    [tenant, id, attr, seq],
  );
  if (rowCount === 0) throw instanceNotFound(id, attr, instanceId);
}

/**
 * Retention: drops instances older than `before` (the months entirely before it as whole
 * partitions, the rest row by row), then entities left with neither history nor state.
 */
export async function pruneHistory(db: Queryable, before: Date): Promise<number> {
  const dropped = await dropPartitionsBefore(db, before);
  const { rowCount } = await db.query('DELETE FROM attribute_instances WHERE ts < $1', [before.toISOString()]);
  await db.query(
    `DELETE FROM temporal_entities t
      WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.tenant = t.tenant AND e.id = t.id)
        AND NOT EXISTS (SELECT 1 FROM attribute_instances h WHERE h.tenant = t.tenant AND h.entity_id = t.id)`,
  );
  return dropped + rowCount;
}

// --- queries (spec 5.7.3, 5.7.4) ------------------------------------------------------------------

/** The time of an instance (alias h) per time property; createdAt is read from the instance (no index serves it). */
const TIME_OF: Record<TimeProperty, string> = {
  observedAt: 'h.ts',
  modifiedAt: 'h.modified_at',
  createdAt: `(h.instance->>'createdAt')::timestamptz`,
  // only deletion instances have it: timeproperty=deletedAt selects the deletions
  deletedAt: `(h.instance->>'deletedAt')::timestamptz`,
};

/** The instance filter of a query (attrs, then what selection() selects) on alias `h`. */
function instanceFilter(q: TemporalQuery, params: SqlParams): string {
  return (q.entities.attrs ? ` AND h.attr = ANY(${params.add(q.entities.attrs)}::text[])` : '') + selection(q, params);
}

/** The instances a query selects whatever their attribute (datasetIds, time range), on alias `h`. */
function selection(q: TemporalQuery, params: SqlParams): string {
  const col = TIME_OF[q.time.property];
  const parts: string[] = [];
  if (q.datasetIds) {
    const named = q.datasetIds.filter((d) => d !== '@none');
    const alternatives = named.length ? [`h.instance->>'datasetId' = ANY(${params.add(named)}::text[])`] : [];
    if (named.length < q.datasetIds.length) alternatives.push(`NOT h.instance ? 'datasetId'`);
    parts.push(`(${alternatives.join(' OR ')})`);
  }
  const { rel, at, endAt } = q.time;
  if (rel === 'before') parts.push(`${col} < ${params.add(at)}::timestamptz`);
  if (rel === 'after') parts.push(`${col} >= ${params.add(at)}::timestamptz`);
  if (rel === 'between') parts.push(`${col} >= ${params.add(at)}::timestamptz AND ${col} < ${params.add(endAt)}::timestamptz`);
  return parts.map((p) => ' AND ' + p).join('');
}

/**
 * Which temporal entities a query selects, on alias `e` (temporal_entities, which keeps deleted
 * entities): the selectors (type, id, idPattern) on the kept id and types; scopeQ on the last
 * known scopes (scope is no attribute and has no instances: EntityTemporal's scope is a plain
 * member, spec 5.2.20); q and geo-queries on the history. Spec 5.7.4 takes q, geo-queries and scopeQ
 * in a temporal query (its OpenAPI says no more of how a term meets instances); the semantics here:
 * - a term (`temperature>30`, `status=="ok"`, `name~=…`, `attr`, `attr.observedAt>…`) holds when
 *   some instance of its attribute that the query selects (time range on the timeproperty,
 *   datasetIds), taken alone as the attribute's state, satisfies it. Deletion instances are not
 *   values and never satisfy a term;
 * - `!attr` holds when no selected instance of the attribute exists;
 * - `;` and `|` combine the terms per entity: in `a>1;b<2` each term is satisfied by some instance
 *   in the range, not necessarily at the same moment;
 * - a geo-query holds when some selected instance of the geoproperty stands in the relation.
 * Orion-LD's temporal service Mintaka differs: it tracks the periods in which each term held
 * (carrying the last value before the range in), intersects (`;`) or joins (`|`) the periods, and
 * returns only the instances inside them. Here q and geo select entities, and a selected entity
 * brings all its instances in the range. Each term is one EXISTS on the index (tenant, entity_id,
 * attr, ts). Listed entities also need instances in the selection when attrs, a time range or
 * datasetIds are given; the entity asked for by id only when attrs is given (attrs selects as q).
 */
function entityFilter(q: TemporalQuery, params: SqlParams, byId: boolean): string {
  const where = ['e.tenant = $1'];
  const eq = q.entities;
  const selectors = eq.selectors.map((s) => selectorToSql(s, params)).filter(Boolean);
  if (selectors.length) where.push(selectors.length === 1 ? selectors[0] : `(${selectors.join(' OR ')})`);
  if (eq.scopeQ) where.push(scopeQToSql(eq.scopeQ, { params, scopesColumn: 'e.scopes' }));
  if (eq.q) {
    const someInstanceOf = (term: QTerm, test: (instance: string) => string) =>
      someInstance(q, params, eq.expand(term.path.attribute), instanceTest(term, test, params));
    where.push(qToSql(eq.q, { expand: eq.expand, params, someInstance: someInstanceOf }));
  }
  const geo = eq.geo;
  if (geo) where.push(someInstance(q, params, geo.geoproperty, geoQueryOnInstanceSql(geo, { params, instance: 'h.instance' })));
  if (byId ? eq.attrs : eq.attrs || q.time.rel || q.datasetIds) {
    where.push(`EXISTS (SELECT 1 FROM attribute_instances h WHERE h.tenant = e.tenant AND h.entity_id = e.id${instanceFilter(q, params)})`);
  }
  return where.join(' AND ');
}

/** Some instance of `attr` of entity `e` that the query selects, not a deletion, passes `test` (SQL on alias `h`). */
const someInstance = (q: TemporalQuery, params: SqlParams, attr: string, test: string): string =>
  `EXISTS (SELECT 1 FROM attribute_instances h WHERE h.tenant = e.tenant AND h.entity_id = e.id AND h.attr = ${params.add(attr)}` +
  `${selection(q, params)} AND NOT h.instance ? 'deletedAt' AND ${test})`;

/** The SQL of q's comparison operators on numbers. */
const NUMBER_OPERATORS: Record<ComparisonOp, string> = { '==': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };

/**
 * A q term's test on the instance `h`. A number compared with a whole attribute is read from
 * value_num where the instance has a number value (the jsonpath answers the same there, at a
 * jsonpath evaluation per row: months of readings are thousands of rows); the jsonpath otherwise.
 */
function instanceTest(term: QTerm, test: (instance: string) => string, params: SqlParams): string {
  const { path } = term;
  const number = term.kind === 'compare' && term.operand.kind === 'value' && term.operand.value.type === 'number' ? term.operand.value.value : undefined;
  if (term.kind !== 'compare' || number === undefined || path.subAttributes.length || path.metadata || path.keys.length) return test('h.instance');
  return `CASE WHEN h.value_num IS NULL THEN ${test('h.instance')} ELSE h.value_num ${NUMBER_OPERATORS[term.op]} ${params.add(number)}::float8 END`;
}

interface InstanceRow {
  entity_id: string;
  attr: string;
  seq: string | number;
  at: Date | string;
  instance: AttributeInstance;
  rn: number;
}

interface AggregateRow {
  entity_id: string;
  attr: string;
  kind: AttributeKind;
  bucket: number;
  [method: string]: unknown;
}

/** SQL of each aggregation method over the rows of one period (value_num: numbers only). */
const AGGREGATES: Record<AggregationMethod, string> = {
  // deletion instances (deletedAt, urn:ngsi-ld:null) are not values: not counted; value_num is NULL for them
  totalCount: `count(*) FILTER (WHERE NOT h.instance ? 'deletedAt')`,
  distinctCount: `count(DISTINCT COALESCE(h.instance->'value', h.instance->'object', h.instance->'languageMap', h.instance->'vocab',
                  h.instance->'json', h.instance->'valueList', h.instance->'objectList')) FILTER (WHERE NOT h.instance ? 'deletedAt')`,
  sum: 'sum(h.value_num)',
  avg: 'avg(h.value_num)',
  min: 'min(h.value_num)',
  max: 'max(h.value_num)',
  stddev: 'stddev_samp(h.value_num)',
  sumsq: 'sum(h.value_num * h.value_num)',
};

/**
 * A Property's text value: a string, or the string @value of a value object ({"@type": "DateTime",
 * "@value": …}); NULL for anything else and for deletions (their value is the string urn:ngsi-ld:null).
 */
const TEXT_VALUE = `CASE WHEN NOT h.instance ? 'deletedAt' THEN CASE jsonb_typeof(h.instance->'value')
  WHEN 'string' THEN h.instance->>'value'
  WHEN 'object' THEN CASE WHEN jsonb_typeof(h.instance->'value'->'@value') = 'string' THEN h.instance->'value'->>'@value' END END END`;

/**
 * min and max are not for numbers only (spec 4.5.19; Stellio, for one, answers them for strings,
 * date-times, dates and times): in a period without any number they are the least and greatest
 * text value, compared character by character (COLLATE "C": the same on every server; ISO 8601
 * date-times written alike sort in time order). Booleans, lists and objects have none.
 */
const TEXT_AGGREGATES: Partial<Record<AggregationMethod, string>> = {
  min: `min(${TEXT_VALUE} COLLATE "C")`,
  max: `max(${TEXT_VALUE} COLLATE "C")`,
};
const textColumn = (m: AggregationMethod): string => `${m}:text`;

export class TemporalHistory {
  constructor(private readonly db: Queryable) {}

  /**
   * GET /temporal/entities (a page of entities) or, with `byId`, /temporal/entities/{id}
   * (404 when the entity has no temporal representation).
   */
  async query(tenant: string, q: TemporalQuery, byId?: string): Promise<TemporalResult> {
    const params = new SqlParams([tenant]);
    const filter = entityFilter(q, params, byId !== undefined);
    const page = new SqlParams(params.values);
    const { rows } = await this.db.query<{ id: string; types: string[] }>(
      `SELECT e.id, e.types FROM temporal_entities e WHERE ${filter} ORDER BY e.id
        LIMIT ${page.add(q.entities.limit)} OFFSET ${page.add(q.entities.offset)}`,
      page.values,
    );
    if (byId !== undefined && rows.length === 0) throw await this.notFoundById(tenant, byId);
    let count: number | undefined;
    if (q.entities.count) {
      const { rows: n } = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM temporal_entities e WHERE ${filter}`, params.values);
      count = Number(n[0].n);
    }
    const entities: TemporalEntity[] = rows.map((r) => ({ id: r.id, types: r.types, instances: {}, aggregated: {} }));
    if (entities.length === 0) return { entities, count };
    const byEntity = new Map(entities.map((e) => [e.id, e]));
    const ids = entities.map((e) => e.id);
    if (q.aggregation) {
      await this.aggregate(tenant, q, ids, byEntity);
      return { entities, count };
    }
    const truncated = await this.loadInstances(tenant, q, ids, byEntity);
    return { entities, count, truncated };
  }

  /**
   * Why /temporal/entities/{id} has nothing to answer: no temporal representation, or none of its
   * selected instances is of the attributes asked for (attrs selects entities as a q would; as
   * Orion-LD's "Combination Entity/Attributes Not Found", and Mintaka, this is a 404) or q failed.
   */
  private async notFoundById(tenant: string, id: string): Promise<NgsiError> {
    const { rows } = await this.db.query('SELECT 1 FROM temporal_entities WHERE tenant = $1 AND id = $2', [tenant, id]);
    if (rows.length === 0) return entityHistoryNotFound(id);
    return notFound(`the history of entity '${id}' selected has no instance of the attributes asked for (attrs) or does not match the query`);
  }

  /** The instances in range per (entity, attribute), oldest first; lastN keeps the newest n. */
  private async loadInstances(tenant: string, q: TemporalQuery, ids: string[], byEntity: Map<string, TemporalEntity>): Promise<TemporalResult['truncated']> {
    const params = new SqlParams([tenant, ids]);
    const col = TIME_OF[q.time.property];
    const keep = Math.min(q.lastN ?? MAX_INSTANCES, MAX_INSTANCES);
    // lastN counts from the newest; otherwise from the oldest, one more than fits to see a truncation
    const order = q.lastN !== undefined ? 'DESC' : 'ASC';
    const { rows } = await this.db.query<InstanceRow>(
      `SELECT entity_id, attr, seq, at, instance, rn FROM (
         SELECT h.entity_id, h.attr, h.seq, ${col} AS at, h.instance,
                row_number() OVER (PARTITION BY h.entity_id, h.attr ORDER BY ${col} ${order}, h.seq ${order})::int AS rn
           FROM attribute_instances h WHERE h.tenant = $1 AND h.entity_id = ANY($2::text[])${instanceFilter(q, params)}
       ) x WHERE rn <= ${params.add(keep + (q.lastN !== undefined ? 0 : 1))}
       ORDER BY entity_id, attr, at, seq`,
      params.values,
    );
    let truncated = false;
    let from = '';
    let to = '';
    for (const r of rows) {
      if (r.rn > keep) {
        truncated = true;
        continue;
      }
      const at = iso(r.at);
      if (from === '' || at < from) from = at;
      if (at > to) to = at;
      (byEntity.get(r.entity_id)!.instances[r.attr] ??= []).push({ instanceId: instanceIdOf(r.seq), at, instance: r.instance });
    }
    // the range the response covers: from its oldest instance to its newest
    return truncated ? { from, to } : undefined;
  }

  /** Aggregated values per period of aggrPeriodDuration (spec 4.5.19), computed in SQL. */
  private async aggregate(tenant: string, q: TemporalQuery, ids: string[], byEntity: Map<string, TemporalEntity>): Promise<void> {
    const aggregation = q.aggregation!;
    const range = await this.aggregationRange(tenant, q, ids);
    if (!range) return;
    const boundaries = periodBoundaries(range.start, range.end, aggregation.period, MAX_PERIODS);
    const params = new SqlParams([tenant, ids]);
    const col = TIME_OF[q.time.property];
    const thresholds = params.add(boundaries.map((b) => b.toISOString()));
    const selects = aggregation.methods
      .flatMap((m) => [`${AGGREGATES[m]} AS "${m}"`, ...(TEXT_AGGREGATES[m] ? [`${TEXT_AGGREGATES[m]} AS "${textColumn(m)}"`] : [])])
      .join(', ');
    const { rows } = await this.db.query<AggregateRow>(
      `SELECT h.entity_id, h.attr, max(h.instance->>'type') AS kind, width_bucket(${col}, ${thresholds}::timestamptz[]) AS bucket, ${selects}
         FROM attribute_instances h
        WHERE h.tenant = $1 AND h.entity_id = ANY($2::text[])${instanceFilter(q, params)}
          AND ${col} >= ${params.add(range.start.toISOString())}::timestamptz AND ${col} < ${params.add(range.end.toISOString())}::timestamptz
        GROUP BY h.entity_id, h.attr, bucket ORDER BY h.entity_id, h.attr, bucket`,
      params.values,
    );
    for (const r of rows) {
      const e = byEntity.get(r.entity_id)!;
      const attr = (e.aggregated[r.attr] ??= { kind: r.kind, periods: [] });
      const bucket = Number(r.bucket);
      const period: AggregatedPeriod = { start: boundaries[bucket - 1].toISOString(), end: boundaries[bucket].toISOString(), values: {} };
      for (const m of aggregation.methods) {
        const text = r[textColumn(m)];
        period.values[m] = r[m] !== null && r[m] !== undefined ? Number(r[m]) : typeof text === 'string' ? text : null;
      }
      attr.periods.push(period);
    }
  }

  /** [start, end) of an aggregation: the query's bounds, else the oldest / just after the newest instance. */
  private async aggregationRange(tenant: string, q: TemporalQuery, ids: string[]): Promise<{ start: Date; end: Date } | undefined> {
    const { rel, at, endAt } = q.time;
    let start = rel === 'after' || rel === 'between' ? new Date(at!) : undefined;
    let end = rel === 'between' ? new Date(endAt!) : rel === 'before' ? new Date(at!) : undefined;
    if (!start || !end) {
      const params = new SqlParams([tenant, ids]);
      const col = TIME_OF[q.time.property];
      const { rows } = await this.db.query<{ first: Date | string | null; last: Date | string | null }>(
        `SELECT min(${col}) AS first, max(${col}) AS last FROM attribute_instances h
          WHERE h.tenant = $1 AND h.entity_id = ANY($2::text[])${instanceFilter(q, params)}`,
        params.values,
      );
      if (rows[0].first === null || rows[0].last === null) return undefined;
      start ??= new Date(iso(rows[0].first));
      end ??= new Date(new Date(iso(rows[0].last)).getTime() + 1);
    }
    return { start, end };
  }
}

