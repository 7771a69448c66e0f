import { openTestDb } from '../helpers/db';
import type { Db } from '../../src/store/db';
import { SqlParams } from '../../src/store/sql';
import { LOCATION } from '../../src/ngsi-ld/types';
import { geoQueryToSql, locationFromAttrsSql, parseGeoQuery, type GeoQueryInput } from '../../src/ngsi-ld/query/geo';

const EX = 'https://example.org/';
const SERVICE_AREA = EX + 'serviceArea';
const expand = (term: string) => (term === 'location' ? LOCATION : EX + term);

// (lon, lat) of the four municipalities of the ITI "In Valmalenco"
const CHIESA = [9.8499, 46.2664];
const CASPOGGIO = [9.8617, 46.2651];
const LANZADA = [9.872, 46.2696];
const SPRIANA = [9.865, 46.22];

const box = (west: number, south: number, east: number, north: number) => ({
  type: 'Polygon',
  coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
});
// the northern three villages, not Spriana
const NORTH_BOX = box(9.84, 46.26, 9.88, 46.28);
const VALLEY = box(9.8, 46.2, 9.95, 46.3);

const geo = (value: unknown) => [{ type: 'GeoProperty', value }];
const point = (coordinates: number[]) => geo({ type: 'Point', coordinates });

let db: Db;

async function insert(id: string, attrs: Record<string, unknown>, tenant = 't'): Promise<void> {
  await db.query(
    `INSERT INTO entities (tenant, id, types, created_at, modified_at, attrs, location)
     VALUES ($3, $1, ARRAY['${EX}Place'], now(), now(), $2::jsonb, ${locationFromAttrsSql('$2::jsonb')})`,
    [id, JSON.stringify(attrs), tenant],
  );
}

function whereSql(input: GeoQueryInput, params: SqlParams): string {
  const q = parseGeoQuery(input, expand);
  if (!q) throw new Error('no geo-query');
  return geoQueryToSql(q, { params, locationColumn: 'e.location', attrsColumn: 'e.attrs' });
}

async function ids(input: GeoQueryInput, tenant = 't'): Promise<string[]> {
  const params = new SqlParams([tenant]);
  const where = whereSql(input, params);
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM entities e WHERE e.tenant = $1 AND ${where} ORDER BY e.id`,
    params.values,
  );
  return rows.map((r) => r.id);
}

const near = (georel: string, coordinates = CHIESA) => ({ georel, geometry: 'Point', coordinates: JSON.stringify(coordinates) });
const rel = (georel: string, geometry: { type: string; coordinates: unknown }, geoproperty?: string) => ({
  georel,
  geometry: geometry.type,
  coordinates: geometry.coordinates,
  geoproperty,
});

beforeAll(async () => {
  db = await openTestDb();
  await insert('chiesa', { [LOCATION]: point(CHIESA) });
  await insert('caspoggio', { [LOCATION]: point(CASPOGGIO), [SERVICE_AREA]: geo(box(9.855, 46.26, 9.87, 46.27)) });
  await insert('lanzada', {
    [LOCATION]: point([...LANZADA, 983]), // with altitude: stored in 2D
    // two datasets: one valid polygon, one that is not a GeoProperty
    [SERVICE_AREA]: [{ type: 'Property', value: 'north' }, { type: 'GeoProperty', value: box(9.865, 46.266, 9.9, 46.29), datasetId: 'urn:ds:2' }],
  });
  await insert('spriana', { [LOCATION]: point(SPRIANA) });
  await insert('valley', { [LOCATION]: geo(VALLEY) });
  await insert('no-location', { [EX + 'name']: [{ type: 'Property', value: 'nowhere' }] });
  // Malformed values written behind the validator's back: they must never match nor raise an error.
  await insert('broken', {
    [LOCATION]: geo({ type: 'Polygon', coordinates: [[[9.85, 46.26], [9.86, 46.26], [9.86, 46.27], [9.85, 46.27]]] }),
    [SERVICE_AREA]: geo({ type: 'Point', coordinates: [9.85, 146.26] }),
  });
  await insert('broken-2', {
    [LOCATION]: [{ type: 'Property', value: { type: 'Point', coordinates: CHIESA } }],
    [SERVICE_AREA]: { type: 'GeoProperty', value: { type: 'Point', coordinates: CHIESA } }, // not an array
  });
  await insert('broken-3', {
    [LOCATION]: geo({ type: 'Point', coordinates: ['9.85', 46.26] }),
    [SERVICE_AREA]: geo({ type: 'LineString', coordinates: [[9.85, 46.26]] }),
  });
});
afterAll(() => db.close());

test('the location column is filled only from a valid first location GeoProperty, in 2D', async () => {
  const { rows } = await db.query<{ id: string; wkt: string | null }>(
    `SELECT id, ST_AsText(location) AS wkt FROM entities ORDER BY id`,
  );
  expect(Object.fromEntries(rows.map((r) => [r.id, r.wkt]))).toEqual({
    broken: null,
    'broken-2': null,
    'broken-3': null,
    caspoggio: 'POINT(9.8617 46.2651)',
    chiesa: 'POINT(9.8499 46.2664)',
    lanzada: 'POINT(9.872 46.2696)',
    'no-location': null,
    spriana: 'POINT(9.865 46.22)',
    valley: 'POLYGON((9.8 46.2,9.95 46.2,9.95 46.3,9.8 46.3,9.8 46.2))',
  });
});

describe('near (distances on the spheroid, from Chiesa)', () => {
  // Chiesa → Caspoggio ≈ 920 m, → Lanzada ≈ 1.75 km, → Spriana ≈ 5.3 km
  test('maxDistance', async () => {
    expect(await ids(near('near;maxDistance==1000'))).toEqual(['caspoggio', 'chiesa', 'valley']);
    expect(await ids(near('near;maxDistance==2000'))).toEqual(['caspoggio', 'chiesa', 'lanzada', 'valley']);
    expect(await ids(near('near;maxDistance==0'))).toEqual(['chiesa', 'valley']);
  });
  test('minDistance', async () => {
    expect(await ids(near('near;minDistance==1000'))).toEqual(['lanzada', 'spriana']);
    expect(await ids(near('near;minDistance==5000'))).toEqual(['spriana']);
  });
  test('both bounds', async () => {
    expect(await ids(near('near;minDistance==1000;maxDistance==2000'))).toEqual(['lanzada']);
  });
  test('a 3D reference point compares in 2D', async () => {
    expect(await ids(near('near;maxDistance==10', [...LANZADA, 2000]))).toEqual(['lanzada', 'valley']);
  });
});

describe('topological relations on the location column', () => {
  test('within: the entity lies within the reference geometry', async () => {
    expect(await ids(rel('within', NORTH_BOX))).toEqual(['caspoggio', 'chiesa', 'lanzada']);
    expect(await ids(rel('within', box(9, 46, 10, 47)))).toEqual(['caspoggio', 'chiesa', 'lanzada', 'spriana', 'valley']);
  });
  test('contains: the entity contains the reference geometry', async () => {
    expect(await ids(rel('contains', { type: 'Point', coordinates: CASPOGGIO }))).toEqual(['caspoggio', 'valley']);
    expect(await ids(rel('contains', NORTH_BOX))).toEqual(['valley']);
  });
  test('intersects and disjoint', async () => {
    expect(await ids(rel('intersects', NORTH_BOX))).toEqual(['caspoggio', 'chiesa', 'lanzada', 'valley']);
    // entities without a location are neither
    expect(await ids(rel('disjoint', NORTH_BOX))).toEqual(['spriana']);
  });
  test('overlaps', async () => {
    expect(await ids(rel('overlaps', box(9.9, 46.25, 10, 46.35)))).toEqual(['valley']);
  });
  test('equals', async () => {
    expect(await ids(rel('equals', { type: 'Point', coordinates: LANZADA }))).toEqual(['lanzada']);
    expect(await ids(rel('equals', VALLEY))).toEqual(['valley']);
  });
  test('other reference geometries', async () => {
    const line = { type: 'LineString', coordinates: [CHIESA, LANZADA] };
    expect(await ids(rel('intersects', line))).toEqual(['chiesa', 'lanzada', 'valley']);
    const two = { type: 'MultiPolygon', coordinates: [box(9.84, 46.26, 9.855, 46.27).coordinates, box(9.86, 46.21, 9.87, 46.23).coordinates] };
    expect(await ids(rel('within', two))).toEqual(['chiesa', 'spriana']);
    expect(await ids(rel('intersects', { type: 'MultiPoint', coordinates: [CHIESA, SPRIANA] }))).toEqual(['chiesa', 'spriana', 'valley']);
  });
});

describe('a GeoProperty other than location, read from the attributes', () => {
  test('any valid GeoProperty instance may match', async () => {
    expect(await ids(rel('contains', { type: 'Point', coordinates: CASPOGGIO }, 'serviceArea'))).toEqual(['caspoggio']);
    expect(await ids(rel('contains', { type: 'Point', coordinates: LANZADA }, 'serviceArea'))).toEqual(['lanzada']);
    expect(await ids(rel('intersects', NORTH_BOX, 'serviceArea'))).toEqual(['caspoggio', 'lanzada']);
    expect(await ids(rel('within', NORTH_BOX, 'serviceArea'))).toEqual(['caspoggio']);
    expect(await ids(rel('disjoint', box(9.88, 46.2, 9.95, 46.3), 'serviceArea'))).toEqual(['caspoggio']);
  });
  test('near', async () => {
    const nearArea = (georel: string, coordinates = CHIESA) => ({ ...near(georel, coordinates), geoproperty: 'serviceArea' });
    expect(await ids(nearArea('near;maxDistance==1', CASPOGGIO))).toEqual(['caspoggio']);
    // from Chiesa: Caspoggio's area ≈ 390 m, Lanzada's ≈ 1.16 km
    expect(await ids(nearArea('near;maxDistance==600'))).toEqual(['caspoggio']);
    expect(await ids(nearArea('near;minDistance==600'))).toEqual(['lanzada']);
  });
  test('location named explicitly uses the column', async () => {
    expect(await ids(rel('within', NORTH_BOX, 'location'))).toEqual(['caspoggio', 'chiesa', 'lanzada']);
  });
  test('an attribute no entity has matches nothing', async () => {
    expect(await ids(rel('intersects', VALLEY, 'nothing'))).toEqual([]);
  });
});

test('GeometryCollections are stored and queried without errors', async () => {
  const collection = geo({ type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: SPRIANA }, NORTH_BOX] });
  await insert('collection', { [LOCATION]: collection, [SERVICE_AREA]: collection }, 'gc');
  for (const geoproperty of ['location', 'serviceArea']) {
    expect(await ids(rel('intersects', { type: 'Point', coordinates: SPRIANA }, geoproperty), 'gc')).toEqual(['collection']);
    expect(await ids(rel('within', VALLEY, geoproperty), 'gc')).toEqual(['collection']);
    expect(await ids(rel('contains', { type: 'Point', coordinates: CHIESA }, geoproperty), 'gc')).toEqual(['collection']);
    expect(await ids({ ...near('near;maxDistance==10', SPRIANA), geoproperty }, 'gc')).toEqual(['collection']);
    for (const georel of ['disjoint', 'overlaps', 'equals']) {
      expect(await ids(rel(georel, VALLEY, geoproperty), 'gc')).toEqual([]);
    }
  }
});

describe('the indexes can serve the queries', () => {
  async function plan(input: GeoQueryInput): Promise<string> {
    const params = new SqlParams(['t']);
    const where = whereSql(input, params);
    return db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT e.id FROM entities e WHERE e.tenant = $1 AND ${where}`,
        params.values,
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
  }
  test('near;maxDistance uses the geometry index (with a lon/lat box)', async () => {
    expect(await plan(near('near;maxDistance==1000'))).toMatch(/entities_location\b/);
  });
  test.each(['within', 'contains', 'intersects', 'overlaps', 'equals'])('%s uses the geometry index', async (georel) => {
    expect(await plan(rel(georel, NORTH_BOX))).toMatch(/entities_location\b(?!_geog)/);
  });
  test('another GeoProperty narrows rows with the attributes index', async () => {
    expect(await plan(rel('intersects', NORTH_BOX, 'serviceArea'))).toContain('entities_attrs');
  });
});
