import { openTestDb, openUnmigratedTestDb } from '../helpers/db';
import type { Db } from '../../src/store/db';
import { migrate } from '../../src/store/migrations';
import { TemporalHistory, pruneHistory, upsertTemporalEntity } from '../../src/temporal/history-store';
import { ensurePartitions } from '../../src/temporal/partitions';
import type { AttributeInstance } from '../../src/ngsi-ld/types';

/**
 * attribute_instances partitioned by month (migration 50): DEFAULT takes what has no partition, the
 * history job creates this month and the next, retention drops months whole.
 */

const V = 'https://example.org/';
const T = V + 'Meter';
const LEVEL = V + 'level';
const tenant = 'partitions';
// a fixed "now" for the history job: its months are 2026-12 and, ahead, 2027-01
const NOW = new Date('2026-12-06T12:00:00Z');

const reading = (value: number, observedAt: string): AttributeInstance => ({ type: 'Property', value, observedAt });

async function write(db: Db, id: string, readings: AttributeInstance[]): Promise<void> {
  await db.transaction((tx) => upsertTemporalEntity(tx, tenant, id, [T], { [LEVEL]: readings }, NOW.toISOString()));
}

/** value → the partition holding it and its seq (the instanceId's number) */
async function placement(db: Db, id: string): Promise<Record<number, { part: string; seq: string }>> {
  const { rows } = await db.query<{ part: string; seq: string; v: number }>(
    `SELECT tableoid::regclass::text AS part, seq::text, value_num AS v FROM attribute_instances WHERE tenant = $1 AND entity_id = $2`,
    [tenant, id],
  );
  return Object.fromEntries(rows.map((r) => [r.v, { part: r.part, seq: r.seq }]));
}

const partitions = async (db: Db): Promise<string[]> =>
  (await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'attribute_instances'::regclass ORDER BY 1`,
  )).rows.map((r) => r.name);

describe('on a migrated store', () => {
  let db: Db;
  beforeEach(async () => {
    db = await openTestDb();
  });
  afterEach(() => db.close());

  test('rows of a month without partition land in DEFAULT and stay there; the history job makes this month and the next, moving their DEFAULT rows', async () => {
    const id = 'urn:ngsi-ld:Meter:1';
    await write(db, id, [
      reading(1, '2026-03-15T10:00:00Z'), // a backfill: stays in DEFAULT (moving it would lock the history)
      reading(2, '1990-01-01T00:00:00Z'),
      reading(3, '2026-12-01T00:00:00Z'),
      reading(4, '2027-01-31T23:59:59.999Z'),
    ]);
    const before = await placement(db, id);
    expect(Object.values(before).map((p) => p.part)).toEqual(Array(4).fill('attribute_instances_default'));

    expect(await ensurePartitions(db, NOW)).toBe(2);
    const after = await placement(db, id);
    expect([1, 2, 3, 4].map((v) => after[v].part)).toEqual([
      'attribute_instances_default', 'attribute_instances_default', 'attribute_instances_y2026m12', 'attribute_instances_y2027m01',
    ]);
    // moved, not rewritten: the instanceIds stay
    for (const v of [1, 2, 3, 4]) expect(after[v].seq).toBe(before[v].seq);
    expect(await ensurePartitions(db, NOW)).toBe(0);

    // new rows go straight to their month; the history reads across the partitions
    await write(db, id, [reading(5, '2026-12-20T00:00:00Z'), reading(6, '2026-03-20T00:00:00Z')]);
    const placed = await placement(db, id);
    expect([placed[5].part, placed[6].part]).toEqual(['attribute_instances_y2026m12', 'attribute_instances_default']);
    const r = await new TemporalHistory(db).query(tenant, {
      entities: { selectors: [{ ids: [id] }], limit: 1, offset: 0, count: false, expand: (t) => V + t },
      time: { property: 'observedAt', rel: 'between', at: '1980-01-01T00:00:00.000Z', endAt: '2026-12-31T00:00:00.000Z' },
    }, id);
    expect(r.entities[0].instances[LEVEL].map((h) => h.instance.value)).toEqual([2, 1, 6, 3, 5]);
  });

  test('retention drops the months entirely before the cutoff whole, and deletes older rows of the partial month and of DEFAULT', async () => {
    const id = 'urn:ngsi-ld:Meter:2';
    await write(db, id, [
      reading(10, '2026-03-10T00:00:00Z'),
      reading(11, '2026-04-05T00:00:00Z'),
      reading(12, '2026-04-20T00:00:00Z'),
      reading(13, '1990-06-01T00:00:00Z'),
    ]);
    // months of older history get their partitions as migration 50 gives them (the job makes only the current ones)
    for (const m of ['2026-03-01', '2026-04-01']) await db.query('SELECT attribute_instances_add_partition($1::timestamptz)', [m]);
    await ensurePartitions(db, NOW);
    expect(await partitions(db)).toEqual(expect.arrayContaining(['attribute_instances_y2026m03', 'attribute_instances_y2026m04']));
    expect(await pruneHistory(db, new Date('2026-04-15T00:00:00Z'))).toBe(3);
    const left = await partitions(db);
    expect(left).not.toContain('attribute_instances_y2026m03');
    expect(left).toEqual(expect.arrayContaining(['attribute_instances_default', 'attribute_instances_y2026m04', 'attribute_instances_y2026m12']));
    expect(Object.keys(await placement(db, id))).toEqual(['12']);
  });
});

test('migration 50 turns the table of migration 40 into the partitioned one, keeping rows, instanceIds, the sequence; scopes are copied', async () => {
  const db = await openUnmigratedTestDb();
  try {
    // every migration but 50: attribute_instances as migration 40 made it
    await db.exec('CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    await db.query('INSERT INTO schema_migrations (version) VALUES (50)');
    await migrate(db);
    const kind = async () => (await db.query<{ k: string }>(`SELECT relkind::text AS k FROM pg_class WHERE oid = 'attribute_instances'::regclass`)).rows[0].k;
    expect(await kind()).toBe('r');
    const id = 'urn:ngsi-ld:Meter:old';
    await db.query(
      `INSERT INTO entities (tenant, id, types, scopes, created_at, modified_at, attrs) VALUES ($1, $2, $3, $4, now(), now(), '{}')`,
      [tenant, id, [T], ['/Valmalenco/Water']],
    );
    await db.query('INSERT INTO temporal_entities (tenant, id, types, created_at) VALUES ($1, $2, $3, now())', [tenant, id, [T]]);
    // this month, two months ago (both within the window) and 1990 (outside: DEFAULT)
    const month = (back: number) => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - back, 2)).toISOString();
    for (const [v, t] of [[1, month(0)], [2, month(2)], [3, '1990-01-01T00:00:00Z']] as const) {
      await db.query(
        `INSERT INTO attribute_instances (tenant, entity_id, attr, ts, modified_at, value_num, instance) VALUES ($1, $2, $3, $4, now(), $5, $6)`,
        [tenant, id, LEVEL, t, v, JSON.stringify(reading(v, t))],
      );
    }
    const before = await placement(db, id);

    await db.query('DELETE FROM schema_migrations WHERE version = 50');
    await migrate(db);
    expect(await kind()).toBe('p');
    const after = await placement(db, id);
    const monthName = (t: string) => `attribute_instances_y${t.slice(0, 4)}m${t.slice(5, 7)}`;
    expect([1, 2, 3].map((v) => after[v].part)).toEqual([monthName(month(0)), monthName(month(2)), 'attribute_instances_default']);
    for (const v of [1, 2, 3]) expect(after[v].seq).toBe(before[v].seq);
    // the sequence carries on where it was
    await write(db, id, [reading(4, month(0))]);
    expect(BigInt((await placement(db, id))[4].seq)).toBeGreaterThan(BigInt(before[1].seq));
    const { rows } = await db.query<{ scopes: string[] }>('SELECT scopes FROM temporal_entities WHERE tenant = $1 AND id = $2', [tenant, id]);
    expect(rows[0].scopes).toEqual(['/Valmalenco/Water']);
  } finally {
    await db.close();
  }
}, 180_000);
