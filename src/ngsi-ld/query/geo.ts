/**
 * NGSI-LD geo-queries (ETSI GS CIM 009 clause 4.10) and GeoJSON geometry validation (RFC 7946).
 *
 * Geometries are validated in TypeScript on write and on query; the SQL side repeats the same
 * structural checks in jsonpath before handing a stored value to PostGIS, so a malformed value in
 * the store can never turn a query into an SQL error.
 */
import { badRequestData } from '../errors';
import { LOCATION } from '../types';
import type { SqlParams } from '../../store/sql';
import { isRecord } from '../json';

// ---------------------------------------------------------------------------------------------
// GeoJSON geometries

export type Position = number[];

/** The geometries a geo-query may use as reference (the spec's `geometry` enumeration). */
export type GeoJsonGeometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint' | 'LineString'; coordinates: Position[] }
  | { type: 'MultiLineString' | 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] };

export type GeometryType = GeoJsonGeometry['type'];

/** Upper bound on positions in one geometry: keeps validation, storage and PostGIS work bounded. */
export const MAX_POSITIONS = 10_000;

type Check = string | undefined;

/** Counts positions across one geometry (all members of a GeometryCollection). */
interface Budget {
  positions: number;
}

/** A short description of a value for an error message (long strings are cut: they are echoed). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

const mismatch = (path: string, expected: string, v: unknown): string =>
  v === undefined ? `${path} is missing (expected ${expected})` : `${path} must be ${expected}, not ${describe(v)}`;

function checkPosition(p: unknown, path: string): Check {
  if (!Array.isArray(p)) return mismatch(path, 'a position [longitude, latitude]', p);
  if (p.length < 2 || p.length > 3) return `${path} must have 2 or 3 numbers, not ${p.length}`;
  const bad = p.findIndex((n) => typeof n !== 'number' || !Number.isFinite(n));
  if (bad >= 0) return mismatch(`${path}[${bad}]`, 'a finite number', p[bad]);
  const [lon, lat] = p as number[];
  if (lon < -180 || lon > 180) return `${path}[0] (longitude) must be within [-180, 180], not ${lon}`;
  if (lat < -90 || lat > 90) return `${path}[1] (latitude) must be within [-90, 90], not ${lat}`;
  return undefined;
}

/**
 * Checks an array of at least `min` items, each with `item`; stops at the first problem. Items
 * are checked before the length so that a wrongly nested array is reported as such.
 */
function checkArray(a: unknown, path: string, min: number, what: string, item: (v: unknown, path: string) => Check): Check {
  if (!Array.isArray(a)) return mismatch(path, `an array of ${what}`, a);
  for (let i = 0; i < a.length; i++) {
    const problem = item(a[i], `${path}[${i}]`);
    if (problem) return problem;
  }
  if (a.length === 0) return `${path} must not be empty`;
  return a.length < min ? `${path} must have at least ${min} ${what}, not ${a.length}` : undefined;
}

// The budget is charged before the positions are walked, so a huge array is refused at once.
function checkPositions(a: unknown, path: string, min: number, budget: Budget): Check {
  if (Array.isArray(a)) {
    budget.positions += a.length;
    if (budget.positions > MAX_POSITIONS) return `geometry has more than ${MAX_POSITIONS} positions`;
  }
  return checkArray(a, path, min, 'positions', checkPosition);
}

const samePosition = (a: Position, b: Position): boolean =>
  a.length === b.length && a.every((n, i) => n === b[i]);

function checkRing(r: unknown, path: string, budget: Budget): Check {
  const problem = checkPositions(r, path, 4, budget);
  if (problem) return problem;
  const ring = r as Position[];
  return samePosition(ring[0], ring[ring.length - 1])
    ? undefined
    : `${path} must be a closed linear ring (its last position must equal its first)`;
}

const checkPolygon = (p: unknown, path: string, budget: Budget): Check =>
  checkArray(p, path, 1, 'linear rings', (r, rp) => checkRing(r, rp, budget));

/** The coordinates check of each geometry type (RFC 7946 clause 3.1). */
const COORDINATES: Record<GeometryType, (c: unknown, path: string, budget: Budget) => Check> = {
  Point: (c, path, budget) => {
    budget.positions += 1;
    return checkPosition(c, path);
  },
  MultiPoint: (c, path, budget) => checkPositions(c, path, 1, budget),
  LineString: (c, path, budget) => checkPositions(c, path, 2, budget),
  MultiLineString: (c, path, budget) =>
    checkArray(c, path, 1, 'line strings', (l, lp) => checkPositions(l, lp, 2, budget)),
  Polygon: checkPolygon,
  MultiPolygon: (c, path, budget) =>
    checkArray(c, path, 1, 'polygons', (p, pp) => checkPolygon(p, pp, budget)),
};

const GEOMETRY_TYPES = Object.keys(COORDINATES) as GeometryType[];
const isGeometryType = (t: unknown): t is GeometryType => GEOMETRY_TYPES.includes(t as GeometryType);

// RFC 7946 clause 3.1.8: collections SHOULD NOT nest; we refuse nesting, which bounds the depth.
function checkCollection(geometries: unknown, budget: Budget): Check {
  return checkArray(geometries, 'geometries', 1, 'geometries', (member, path) => {
    if (!isRecord(member)) return mismatch(path, 'a GeoJSON geometry object', member);
    if (!isGeometryType(member.type)) {
      return mismatch(`${path}.type`, `one of ${GEOMETRY_TYPES.join(', ')} (collections do not nest)`, member.type);
    }
    return COORDINATES[member.type](member.coordinates, `${path}.coordinates`, budget);
  });
}

/**
 * Checks that g is a valid RFC 7946 geometry with WGS84 positions and at most MAX_POSITIONS
 * positions. Returns what is wrong and where, or undefined when it is valid.
 */
export function validateGeometry(g: unknown): string | undefined {
  if (!isRecord(g)) return mismatch('geometry', 'a GeoJSON geometry object', g);
  const budget: Budget = { positions: 0 };
  if (g.type === 'GeometryCollection') return checkCollection(g.geometries, budget);
  if (!isGeometryType(g.type)) {
    return mismatch('type', `one of ${[...GEOMETRY_TYPES, 'GeometryCollection'].join(', ')}`, g.type);
  }
  return COORDINATES[g.type](g.coordinates, 'coordinates', budget);
}

// ---------------------------------------------------------------------------------------------
// Geo-query parsing

export type GeoRelation = 'near' | 'within' | 'contains' | 'intersects' | 'disjoint' | 'overlaps' | 'equals';

export interface GeoQuery {
  georel: GeoRelation;
  /** metres; only with `near` (at least one of the two is set) */
  maxDistance?: number;
  minDistance?: number;
  /** the reference geometry, validated */
  geometry: GeoJsonGeometry;
  /** expanded IRI of the GeoProperty to test */
  geoproperty: string;
}

/**
 * A geo-query as it arrives: strings from a query string, or the members of a `geoQ` object in a
 * POST /entityOperations/query body or a subscription (there `coordinates` may be an array, and
 * nothing is guaranteed to be a string).
 */
export interface GeoQueryInput {
  georel?: unknown;
  geometry?: unknown;
  coordinates?: unknown;
  geoproperty?: unknown;
}

const RELATIONS: readonly GeoRelation[] = ['near', 'within', 'contains', 'intersects', 'disjoint', 'overlaps', 'equals'];
const DISTANCE = /^(maxDistance|minDistance)==(\d+(?:\.\d+)?)$/;

type Distances = Pick<GeoQuery, 'maxDistance' | 'minDistance'>;

function parseDistances(modifiers: string[]): Distances {
  if (modifiers.length === 0) {
    throw badRequestData("georel 'near' needs a distance: near;maxDistance==<metres> or near;minDistance==<metres>");
  }
  const distances: Distances = {};
  for (const modifier of modifiers) {
    const m = DISTANCE.exec(modifier);
    if (!m) {
      const expected = 'maxDistance==<metres> or minDistance==<metres>';
      throw badRequestData(`Invalid georel modifier ${describe(modifier)}: expected ${expected}`);
    }
    const name = m[1] as keyof Distances;
    if (distances[name] !== undefined) throw badRequestData(`georel gives ${name} twice`);
    distances[name] = Number(m[2]);
  }
  return distances;
}

function parseGeorel(georel: unknown): { georel: GeoRelation } & Distances {
  if (typeof georel !== 'string') throw badRequestData(`georel must be a string, not ${describe(georel)}`);
  const [name, ...modifiers] = georel.split(';');
  const relation = RELATIONS.find((r) => r === name);
  if (!relation) throw badRequestData(`Invalid georel ${describe(georel)}: expected one of ${RELATIONS.join(', ')}`);
  if (relation === 'near') return { georel: relation, ...parseDistances(modifiers) };
  if (modifiers.length > 0) throw badRequestData(`georel '${relation}' takes no modifiers, got ${describe(georel)}`);
  return { georel: relation };
}

// Geometry names are GeoJSON's; a differently-cased name ('point', as in NGSIv2) is accepted.
function parseGeometryType(geometry: unknown): GeometryType {
  const type = typeof geometry === 'string' ? GEOMETRY_TYPES.find((t) => t.toLowerCase() === geometry.toLowerCase()) : undefined;
  if (!type) throw badRequestData(`Invalid geometry ${describe(geometry)}: expected one of ${GEOMETRY_TYPES.join(', ')}`);
  return type;
}

function parseCoordinates(coordinates: unknown): unknown {
  if (Array.isArray(coordinates)) return coordinates;
  if (typeof coordinates === 'string') {
    try {
      return JSON.parse(coordinates);
    } catch {
      // reported below
    }
  }
  throw badRequestData(mismatch('coordinates', 'a JSON array such as [9.85,46.26]', coordinates));
}

function parseGeoproperty(geoproperty: unknown, expand: (term: string) => string): string {
  if (geoproperty === undefined) return expand('location');
  if (typeof geoproperty !== 'string' || geoproperty === '') {
    throw badRequestData(`geoproperty must be an attribute name, not ${describe(geoproperty)}`);
  }
  return expand(geoproperty);
}

/**
 * Parses georel, geometry, coordinates and geoproperty. Returns undefined when there is no
 * geo-query (none of the first three given); throws BadRequestData when it is incomplete or invalid.
 */
export function parseGeoQuery(input: GeoQueryInput, expand: (term: string) => string): GeoQuery | undefined {
  const parts = { georel: input.georel, geometry: input.geometry, coordinates: input.coordinates };
  const missing = Object.entries(parts).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length === 3) return undefined;
  if (missing.length > 0) {
    throw badRequestData(`Incomplete geo-query: georel, geometry and coordinates go together (missing: ${missing.join(', ')})`);
  }
  const relation = parseGeorel(input.georel);
  const type = parseGeometryType(input.geometry);
  if (relation.georel === 'near' && type !== 'Point') {
    throw badRequestData(`georel 'near' needs geometry Point, not ${type}`);
  }
  const geometry = { type, coordinates: parseCoordinates(input.coordinates) };
  const problem = validateGeometry(geometry);
  if (problem) throw badRequestData(`Invalid geo-query coordinates: ${problem}`);
  return { ...relation, geometry: geometry as GeoJsonGeometry, geoproperty: parseGeoproperty(input.geoproperty, expand) };
}

// ---------------------------------------------------------------------------------------------
// SQL (PostGIS)

/**
 * jsonpath (strict) predicates on the current item `@` that mirror validateGeometry: a value that
 * passes is one ST_GeomFromGeoJSON parses and GEOS accepts (closed rings, positions in range for
 * geography). The position limit is not repeated: it bounds work, it does not prevent errors.
 */
const POSITION_OK =
  '(@.type() == "array" && @.size() >= 2 && @.size() <= 3 && !exists(@[*] ? (@.type() != "number"))' +
  ' && @[0] >= -180 && @[0] <= 180 && @[1] >= -90 && @[1] <= 90)';
const allOf = (min: number, itemOk: string): string =>
  `(@.type() == "array" && @.size() >= ${min} && !exists(@[*] ? (!${itemOk})))`;
// Closed in 2D is enough: stored geometries are forced to 2D before GEOS sees them.
const RING_OK = `(${allOf(4, POSITION_OK)} && @[0][0] == @[last][0] && @[0][1] == @[last][1])`;
const POLYGON_OK = allOf(1, RING_OK);
const COORDINATES_OK: Record<GeometryType, string> = {
  Point: POSITION_OK,
  MultiPoint: allOf(1, POSITION_OK),
  LineString: allOf(2, POSITION_OK),
  MultiLineString: allOf(1, allOf(2, POSITION_OK)),
  Polygon: POLYGON_OK,
  MultiPolygon: allOf(1, POLYGON_OK),
};
const SIMPLE_GEOMETRY_OK =
  '(' + GEOMETRY_TYPES.map((t) => `(@.type == "${t}" && exists(@.coordinates ? ${COORDINATES_OK[t]}))`).join(' || ') + ')';
const GEOMETRY_OK =
  `(${SIMPLE_GEOMETRY_OK} || (@.type == "GeometryCollection" && exists(@.geometries ? ${allOf(1, SIMPLE_GEOMETRY_OK)})))`;

/** Selects the valid GeoJSON values of the GeoProperty instances of an attribute (an array). */
const GEO_VALUES_PATH = `strict $[*] ? (@.type == "GeoProperty").value ? ${GEOMETRY_OK}`;
/** The value of the first instance, if that is a GeoProperty with a valid GeoJSON value. */
const FIRST_GEO_VALUE_PATH = `strict $[0] ? (@.type == "GeoProperty").value ? ${GEOMETRY_OK}`;
/** The value of one instance (the item itself), if it is a GeoProperty with a valid GeoJSON value. */
const INSTANCE_GEO_VALUE_PATH = `strict $ ? (@.type == "GeoProperty").value ? ${GEOMETRY_OK}`;

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Applies one of the paths above to a jsonb expression; silent, so it never raises an error. */
const jsonPathSql = (fn: 'jsonb_path_query' | 'jsonb_path_query_first', target: string, path: string): string =>
  `${fn}(${target}, ${sqlString(path)}::jsonpath, '{}'::jsonb, true)`;

/**
 * A 2D EPSG:4326 geometry from an SQL expression holding GeoJSON (text, json or jsonb; e.g. a `$n`
 * parameter). 2D because the location column is 2D and mixed dimensions compare oddly.
 */
export const geometrySql = (geojsonExpr: string): string =>
  `ST_SetSRID(ST_Force2D(ST_GeomFromGeoJSON((${geojsonExpr})::text)), 4326)`;

/**
 * The value for the `location` column: the first instance of the location attribute in an
 * expanded jsonb attributes expression, when it is a GeoProperty with a valid geometry; else NULL.
 */
export const locationFromAttrsSql = (attrsExpr: string): string =>
  geometrySql(jsonPathSql('jsonb_path_query_first', `(${attrsExpr}) -> ${sqlString(LOCATION)}`, FIRST_GEO_VALUE_PATH));

// OGC Simple Features predicates, entity geometry first: `within` = the entity lies within the
// reference geometry, `contains` = the entity contains it.
const PREDICATES: Record<Exclude<GeoRelation, 'near'>, string> = {
  within: 'ST_Within',
  contains: 'ST_Contains',
  intersects: 'ST_Intersects',
  disjoint: 'ST_Disjoint',
  overlaps: 'ST_Overlaps',
  equals: 'ST_Equals',
};

/**
 * The relation between an entity geometry expression and the reference geometry. Distances are
 * on the spheroid (geography). `(x)::geography` matches the expression index on the location column.
 */
function relationSql(q: GeoQuery, geom: string, reference: string, params: SqlParams): string {
  if (q.georel !== 'near') return `${PREDICATES[q.georel]}(${geom}, ${reference})`;
  const conditions: string[] = [];
  if (q.maxDistance !== undefined) {
    conditions.push(`ST_DWithin((${geom})::geography, (${reference})::geography, ${params.add(q.maxDistance)}::float8)`);
  }
  if (q.minDistance !== undefined) {
    conditions.push(`ST_Distance((${geom})::geography, (${reference})::geography) >= ${params.add(q.minDistance)}::float8`);
  }
  return conditions.join(' AND ');
}

/**
 * A boolean SQL expression for one geo-query. The default geoproperty uses the indexed location
 * column; any other one is read from the jsonb attributes and matches when any of its instances
 * does (the GIN index narrows the rows to entities that have such a GeoProperty).
 */
export function geoQueryToSql(
  q: GeoQuery,
  ctx: { params: SqlParams; locationColumn: string; attrsColumn: string },
): string {
  const reference = geometrySql(ctx.params.add(JSON.stringify(q.geometry)));
  if (q.geoproperty === LOCATION) {
    const relation = relationSql(q, ctx.locationColumn, reference, ctx.params);
    const box = q.georel === 'near' && q.maxDistance !== undefined ? nearBox(q.geometry, q.maxDistance) : undefined;
    if (!box) return `(${relation})`;
    // the GiST index on the geometry column serves `&&` with a lon/lat box around the circle
    const b = ctx.params.add(box);
    return `(${ctx.locationColumn} && ST_MakeEnvelope((${b}::float8[])[1], (${b}::float8[])[2], (${b}::float8[])[3], (${b}::float8[])[4], 4326) AND ${relation})`;
  }
  const attrs = ctx.attrsColumn;
  const hasGeoProperty = `${attrs} @> ${ctx.params.add(JSON.stringify({ [q.geoproperty]: [{ type: 'GeoProperty' }] }))}::jsonb`;
  const values = jsonPathSql('jsonb_path_query', `${attrs} -> ${ctx.params.add(q.geoproperty)}::text`, GEO_VALUES_PATH);
  const instanceMatches = relationSql(q, geometrySql('geo_value.v'), reference, ctx.params);
  return `(${hasGeoProperty} AND EXISTS (SELECT 1 FROM ${values} AS geo_value(v) WHERE ${instanceMatches}))`;
}

/**
 * A geo-query on one attribute instance (a jsonb expression, e.g. a row of the temporal history):
 * true when the instance is a GeoProperty whose valid value stands in the relation; for any other
 * instance the geometry is NULL, so the test is not true, and never an SQL error.
 */
export function geoQueryOnInstanceSql(q: GeoQuery, ctx: { params: SqlParams; instance: string }): string {
  const reference = geometrySql(ctx.params.add(JSON.stringify(q.geometry)));
  const value = geometrySql(jsonPathSql('jsonb_path_query_first', ctx.instance, INSTANCE_GEO_VALUE_PATH));
  return `(${relationSql(q, value, reference, ctx.params)})`;
}

/**
 * A lon/lat box [xmin, ymin, xmax, ymax] that holds every point within `metres` (on the WGS84
 * spheroid) of a Point, with a margin; undefined when the box would not narrow anything (near a
 * pole, across the antimeridian). Metres per degree are taken at their smallest: 110,574 m per
 * degree of latitude (at the equator) and 111,319.49·cos(φ) m per degree of longitude at the
 * latitude φ of the box edge farthest from the equator (the spheroid's is never smaller).
 */
export function nearBox(reference: GeoJsonGeometry, metres: number): number[] | undefined {
  if (reference.type !== 'Point') return undefined;
  const [lon, lat] = reference.coordinates;
  const margin = 1.01;
  const dLat = (metres / 110_574) * margin + 1e-9;
  const south = lat - dLat;
  const north = lat + dLat;
  if (south <= -89 || north >= 89) return undefined;
  const farthest = Math.max(Math.abs(south), Math.abs(north));
  const dLon = (metres / (111_319.49 * Math.cos((farthest * Math.PI) / 180))) * margin + 1e-9;
  if (lon - dLon < -180 || lon + dLon > 180) return undefined;
  return [lon - dLon, south, lon + dLon, north];
}
