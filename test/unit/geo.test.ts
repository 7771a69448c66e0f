import { NgsiError } from '../../src/ngsi-ld/errors';
import { LOCATION } from '../../src/ngsi-ld/types';
import { SqlParams } from '../../src/store/sql';
import {
  MAX_POSITIONS,
  geoQueryToSql,
  nearBox,
  parseGeoQuery,
  validateGeometry,
  type GeoQueryInput,
} from '../../src/ngsi-ld/query/geo';

const CHIESA = [9.8499, 46.2664];
const ring = (west: number, south: number, east: number, north: number) =>
  [[west, south], [east, south], [east, north], [west, north], [west, south]];
const positions = (n: number) => Array.from({ length: n }, (_, i) => [9 + i / 100_000, 46]);

describe('validateGeometry accepts RFC 7946 geometries', () => {
  test.each([
    ['a Point', { type: 'Point', coordinates: CHIESA }],
    ['a Point with altitude', { type: 'Point', coordinates: [9.8499, 46.2664, 960] }],
    ['the corners of the world', { type: 'MultiPoint', coordinates: [[-180, -90], [180, 90], [0, 0]] }],
    ['a LineString', { type: 'LineString', coordinates: [[9.8499, 46.2664], [9.8617, 46.2651]] }],
    ['a MultiLineString', { type: 'MultiLineString', coordinates: [[[9.84, 46.26], [9.85, 46.27]], [[9.86, 46.26], [9.87, 46.27]]] }],
    ['a Polygon', { type: 'Polygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3)] }],
    ['a Polygon with a hole', { type: 'Polygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3), ring(9.84, 46.26, 9.88, 46.28)] }],
    ['a MultiPolygon', { type: 'MultiPolygon', coordinates: [[ring(9.8, 46.2, 9.85, 46.25)], [ring(9.9, 46.2, 9.95, 46.25)]] }],
    [
      'a GeometryCollection',
      { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: CHIESA }, { type: 'Polygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3)] }] },
    ],
    ['a geometry with a bbox and a foreign member', { type: 'Point', coordinates: CHIESA, bbox: [9.8, 46.2, 9.9, 46.3], crsName: 'x' }],
    ['exactly the position limit', { type: 'LineString', coordinates: positions(MAX_POSITIONS) }],
  ])('%s', (_name, geometry) => {
    expect(validateGeometry(geometry)).toBeUndefined();
  });
});

describe('validateGeometry says what is wrong and where', () => {
  const TYPES = 'Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon';
  test.each([
    ['not an object', null, 'geometry must be a GeoJSON geometry object, not null'],
    ['an array', [9.85, 46.26], 'geometry must be a GeoJSON geometry object, not an array'],
    ['a Feature', { type: 'Feature', geometry: null }, `type must be one of ${TYPES}, GeometryCollection, not "Feature"`],
    ['a lower-case type', { type: 'point', coordinates: CHIESA }, `type must be one of ${TYPES}, GeometryCollection, not "point"`],
    ['no coordinates', { type: 'Point' }, 'coordinates is missing (expected a position [longitude, latitude])'],
    ['one number', { type: 'Point', coordinates: [9.85] }, 'coordinates must have 2 or 3 numbers, not 1'],
    ['four numbers', { type: 'Point', coordinates: [9.85, 46.26, 960, 1] }, 'coordinates must have 2 or 3 numbers, not 4'],
    ['a string number', { type: 'Point', coordinates: ['9.85', 46.26] }, 'coordinates[0] must be a finite number, not "9.85"'],
    ['null in a position', { type: 'Point', coordinates: [9.85, null] }, 'coordinates[1] must be a finite number, not null'],
    ['an infinite number', { type: 'Point', coordinates: [Infinity, 46.26] }, 'coordinates[0] must be a finite number, not Infinity'],
    ['longitude out of range', { type: 'Point', coordinates: [200, 46.26] }, 'coordinates[0] (longitude) must be within [-180, 180], not 200'],
    ['latitude out of range', { type: 'Point', coordinates: [9.85, -90.5] }, 'coordinates[1] (latitude) must be within [-90, 90], not -90.5'],
    ['swapped lat/lon far north', { type: 'Point', coordinates: [46.26, 99.85] }, 'coordinates[1] (latitude) must be within [-90, 90], not 99.85'],
    ['an empty MultiPoint', { type: 'MultiPoint', coordinates: [] }, 'coordinates must not be empty'],
    ['a one-position LineString', { type: 'LineString', coordinates: [CHIESA] }, 'coordinates must have at least 2 positions, not 1'],
    [
      'a bad line in a MultiLineString',
      { type: 'MultiLineString', coordinates: [[CHIESA, [9.86, 46.26]], [CHIESA]] },
      'coordinates[1] must have at least 2 positions, not 1',
    ],
    ['a string as polygon coordinates', { type: 'Polygon', coordinates: 'abc' }, 'coordinates must be an array of linear rings, not "abc"'],
    ['a polygon without rings', { type: 'Polygon', coordinates: [] }, 'coordinates must not be empty'],
    [
      'an open ring',
      { type: 'Polygon', coordinates: [[[9.8, 46.2], [9.9, 46.2], [9.9, 46.3], [9.8, 46.3]]] },
      'coordinates[0] must be a closed linear ring (its last position must equal its first)',
    ],
    [
      'a ring closed only in 2D',
      { type: 'Polygon', coordinates: [[[9.8, 46.2, 1], [9.9, 46.2, 1], [9.9, 46.3, 1], [9.8, 46.2, 2]]] },
      'coordinates[0] must be a closed linear ring (its last position must equal its first)',
    ],
    ['a three-position ring', { type: 'Polygon', coordinates: [[[9.8, 46.2], [9.9, 46.2], [9.8, 46.2]]] }, 'coordinates[0] must have at least 4 positions, not 3'],
    [
      'a bad hole',
      { type: 'Polygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3), [[9.84, 46.26], [9.88, 46.26], [9.88, 46.28], [9.84, 46.26, 'x']]] },
      'coordinates[1][3][2] must be a finite number, not "x"',
    ],
    [
      // the shape the 1.8.1 OpenAPI file wrongly gives MultiPolygon (see shared/ngsi-ld/README.md)
      'MultiPolygon coordinates one level too shallow',
      { type: 'MultiPolygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3)] },
      'coordinates[0][0][0] must be a position [longitude, latitude], not 9.8',
    ],
    [
      'a nested GeometryCollection',
      { type: 'GeometryCollection', geometries: [{ type: 'GeometryCollection', geometries: [] }] },
      `geometries[0].type must be one of ${TYPES} (collections do not nest), not "GeometryCollection"`,
    ],
    ['an empty GeometryCollection', { type: 'GeometryCollection', geometries: [] }, 'geometries must not be empty'],
    ['a GeometryCollection without geometries', { type: 'GeometryCollection' }, 'geometries is missing (expected an array of geometries)'],
    [
      'a bad collection member',
      { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: CHIESA }, { type: 'LineString', coordinates: [[9.85, 95]] }] },
      'geometries[1].coordinates[0][1] (latitude) must be within [-90, 90], not 95',
    ],
    ['a number as collection member', { type: 'GeometryCollection', geometries: [5] }, 'geometries[0] must be a GeoJSON geometry object, not 5'],
    ['too many positions', { type: 'MultiPoint', coordinates: positions(MAX_POSITIONS + 1) }, `geometry has more than ${MAX_POSITIONS} positions`],
    [
      'too many positions across a collection',
      {
        type: 'GeometryCollection',
        geometries: [{ type: 'MultiPoint', coordinates: positions(5000) }, { type: 'LineString', coordinates: positions(5001) }],
      },
      `geometry has more than ${MAX_POSITIONS} positions`,
    ],
    [
      'a long string is cut in the message',
      { type: 'Point', coordinates: [9.85, 'x'.repeat(1000)] },
      `coordinates[1] must be a finite number, not "${'x'.repeat(56)}...`,
    ],
  ])('%s', (_name, geometry, message) => {
    expect(validateGeometry(geometry)).toBe(message);
  });
});

const expand = (term: string) => (term === 'location' ? LOCATION : 'https://example.org/' + term);

function badRequest(input: GeoQueryInput): string {
  try {
    parseGeoQuery(input, expand);
  } catch (err) {
    expect(err).toBeInstanceOf(NgsiError);
    expect((err as NgsiError).problemType).toBe('BadRequestData');
    expect((err as NgsiError).status).toBe(400);
    return (err as NgsiError).detail;
  }
  throw new Error('expected BadRequestData');
}

describe('parseGeoQuery', () => {
  const point = { type: 'Point', coordinates: CHIESA };

  test('no geo-query at all', () => {
    expect(parseGeoQuery({}, expand)).toBeUndefined();
    // geoproperty alone is ignored (clause 4.10: only with a geo-query)
    expect(parseGeoQuery({ geoproperty: 'serviceArea' }, expand)).toBeUndefined();
  });

  test('near;maxDistance from a query string', () => {
    expect(parseGeoQuery({ georel: 'near;maxDistance==1000', geometry: 'Point', coordinates: '[9.8499,46.2664]' }, expand)).toEqual({
      georel: 'near',
      maxDistance: 1000,
      geometry: point,
      geoproperty: LOCATION,
    });
  });

  test('near;minDistance, and both bounds in either order, with decimals', () => {
    const base = { geometry: 'Point', coordinates: '[9.8499,46.2664]' };
    expect(parseGeoQuery({ ...base, georel: 'near;minDistance==250.5' }, expand)).toMatchObject({ georel: 'near', minDistance: 250.5 });
    expect(parseGeoQuery({ ...base, georel: 'near;minDistance==10;maxDistance==2000' }, expand)).toMatchObject({
      minDistance: 10,
      maxDistance: 2000,
    });
    expect(parseGeoQuery({ ...base, georel: 'near;maxDistance==0' }, expand)).toMatchObject({ maxDistance: 0 });
  });

  test('the other relations, with a polygon from a query string', () => {
    for (const georel of ['within', 'contains', 'intersects', 'disjoint', 'overlaps', 'equals']) {
      const q = parseGeoQuery({ georel, geometry: 'Polygon', coordinates: JSON.stringify([ring(9.8, 46.2, 9.95, 46.3)]) }, expand);
      expect(q).toEqual({ georel, geometry: { type: 'Polygon', coordinates: [ring(9.8, 46.2, 9.95, 46.3)] }, geoproperty: LOCATION });
    }
  });

  test('a geoQ object from a POST body: coordinates as an array, geoproperty expanded', () => {
    const q = parseGeoQuery(
      { georel: 'intersects', geometry: 'MultiPolygon', coordinates: [[ring(9.8, 46.2, 9.85, 46.25)]], geoproperty: 'serviceArea' },
      expand,
    );
    expect(q).toEqual({
      georel: 'intersects',
      geometry: { type: 'MultiPolygon', coordinates: [[ring(9.8, 46.2, 9.85, 46.25)]] },
      geoproperty: 'https://example.org/serviceArea',
    });
    expect(parseGeoQuery({ georel: 'within', geometry: 'Point', coordinates: '[9.85,46.26]', geoproperty: 'location' }, expand)?.geoproperty).toBe(
      LOCATION,
    );
  });

  test('geometry names in another case are normalised', () => {
    expect(parseGeoQuery({ georel: 'near;maxDistance==5', geometry: 'point', coordinates: '[9.85,46.26]' }, expand)?.geometry.type).toBe(
      'Point',
    );
  });

  test.each<[string, GeoQueryInput, string]>([
    [
      'georel alone',
      { georel: 'within' },
      'Incomplete geo-query: georel, geometry and coordinates go together (missing: geometry, coordinates)',
    ],
    [
      'no coordinates',
      { georel: 'within', geometry: 'Polygon', geoproperty: 'location' },
      'Incomplete geo-query: georel, geometry and coordinates go together (missing: coordinates)',
    ],
    [
      'no georel',
      { geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Incomplete geo-query: georel, geometry and coordinates go together (missing: georel)',
    ],
    [
      'an unknown georel',
      { georel: 'covers', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel "covers": expected one of near, within, contains, intersects, disjoint, overlaps, equals',
    ],
    [
      'a georel in another case',
      { georel: 'Within', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel "Within": expected one of near, within, contains, intersects, disjoint, overlaps, equals',
    ],
    ['an empty georel', { georel: '', geometry: 'Point', coordinates: '[9.85,46.26]' }, 'Invalid georel "": expected one of near, within, contains, intersects, disjoint, overlaps, equals'],
    ['a repeated georel parameter', { georel: ['within', 'near'], geometry: 'Point', coordinates: '[9.85,46.26]' }, 'georel must be a string, not an array'],
    [
      'near without a distance',
      { georel: 'near', geometry: 'Point', coordinates: '[9.85,46.26]' },
      "georel 'near' needs a distance: near;maxDistance==<metres> or near;minDistance==<metres>",
    ],
    [
      'NGSIv2 syntax',
      { georel: 'near;maxDistance:1000', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel modifier "maxDistance:1000": expected maxDistance==<metres> or minDistance==<metres>',
    ],
    [
      'a single equals sign',
      { georel: 'near;maxDistance=1000', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel modifier "maxDistance=1000": expected maxDistance==<metres> or minDistance==<metres>',
    ],
    [
      'a negative distance',
      { georel: 'near;maxDistance==-5', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel modifier "maxDistance==-5": expected maxDistance==<metres> or minDistance==<metres>',
    ],
    [
      'a distance that is not a number',
      { georel: 'near;minDistance==far', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'Invalid georel modifier "minDistance==far": expected maxDistance==<metres> or minDistance==<metres>',
    ],
    [
      'a distance given twice',
      { georel: 'near;maxDistance==5;maxDistance==6', geometry: 'Point', coordinates: '[9.85,46.26]' },
      'georel gives maxDistance twice',
    ],
    [
      'a modifier on within',
      { georel: 'within;maxDistance==5', geometry: 'Polygon', coordinates: JSON.stringify([ring(9.8, 46.2, 9.95, 46.3)]) },
      `georel 'within' takes no modifiers, got "within;maxDistance==5"`,
    ],
    [
      'near a polygon',
      { georel: 'near;maxDistance==5', geometry: 'Polygon', coordinates: JSON.stringify([ring(9.8, 46.2, 9.95, 46.3)]) },
      "georel 'near' needs geometry Point, not Polygon",
    ],
    [
      'an unknown geometry',
      { georel: 'within', geometry: 'Circle', coordinates: '[9.85,46.26]' },
      'Invalid geometry "Circle": expected one of Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon',
    ],
    [
      'a GeometryCollection as reference',
      { georel: 'within', geometry: 'GeometryCollection', coordinates: '[9.85,46.26]' },
      'Invalid geometry "GeometryCollection": expected one of Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon',
    ],
    [
      'coordinates that are not JSON',
      { georel: 'near;maxDistance==5', geometry: 'Point', coordinates: '9.85,46.26' },
      'coordinates must be a JSON array such as [9.85,46.26], not "9.85,46.26"',
    ],
    [
      'coordinates of the wrong type in a body',
      { georel: 'near;maxDistance==5', geometry: 'Point', coordinates: { lon: 9.85, lat: 46.26 } },
      'coordinates must be a JSON array such as [9.85,46.26], not an object',
    ],
    [
      'coordinates that do not fit the geometry',
      { georel: 'within', geometry: 'Polygon', coordinates: '[9.85,46.26]' },
      'Invalid geo-query coordinates: coordinates[0] must be an array of positions, not 9.85',
    ],
    [
      'an open ring',
      { georel: 'within', geometry: 'Polygon', coordinates: '[[[9.8,46.2],[9.9,46.2],[9.9,46.3],[9.8,46.3]]]' },
      'Invalid geo-query coordinates: coordinates[0] must be a closed linear ring (its last position must equal its first)',
    ],
    [
      'latitude and longitude swapped beyond range',
      { georel: 'near;maxDistance==5', geometry: 'Point', coordinates: '[46.26,99.85]' },
      'Invalid geo-query coordinates: coordinates[1] (latitude) must be within [-90, 90], not 99.85',
    ],
    [
      'an empty geoproperty',
      { georel: 'near;maxDistance==5', geometry: 'Point', coordinates: '[9.85,46.26]', geoproperty: '' },
      'geoproperty must be an attribute name, not ""',
    ],
    [
      'a geoproperty that is not a string',
      { georel: 'near;maxDistance==5', geometry: 'Point', coordinates: '[9.85,46.26]', geoproperty: 7 },
      'geoproperty must be an attribute name, not 7',
    ],
  ])('rejects %s', (_name, input, detail) => {
    expect(badRequest(input)).toBe(detail);
  });
});

describe('geoQueryToSql', () => {
  test('puts every value in a parameter, and uses the location column for location', () => {
    const q = parseGeoQuery({ georel: 'near;maxDistance==1000;minDistance==10', geometry: 'Point', coordinates: '[9.85,46.26]' }, expand)!;
    const params = new SqlParams(['tenant']);
    const sql = geoQueryToSql(q, { params, locationColumn: 'e.location', attrsColumn: 'e.attrs' });
    expect(params.values.slice(0, 4)).toEqual(['tenant', '{"type":"Point","coordinates":[9.85,46.26]}', 1000, 10]);
    expect(params.values[4]).toEqual(nearBox({ type: 'Point', coordinates: [9.85, 46.26] }, 1000));
    expect(sql).toContain('ST_DWithin((e.location)::geography,');
    expect(sql).toContain('e.location && ST_MakeEnvelope(');
    expect(sql).not.toContain('9.85');
    expect(sql).not.toContain('e.attrs');
  });

  test('reads another GeoProperty from the attributes, with its name as a parameter', () => {
    const q = parseGeoQuery({ georel: 'within', geometry: 'Point', coordinates: '[9.85,46.26]', geoproperty: "it's" }, expand)!;
    const params = new SqlParams();
    const sql = geoQueryToSql(q, { params, locationColumn: 'e.location', attrsColumn: 'e.attrs' });
    expect(params.values).toEqual([
      '{"type":"Point","coordinates":[9.85,46.26]}',
      JSON.stringify({ "https://example.org/it's": [{ type: 'GeoProperty' }] }),
      "https://example.org/it's",
    ]);
    expect(sql).not.toContain("it's");
    expect(sql).not.toContain('e.location');
  });
});

describe('nearBox', () => {
  // a point at `metres` from (lon, lat) in direction `bearing`, on a sphere slightly larger than the spheroid
  const destination = (lon: number, lat: number, metres: number, bearing: number): [number, number] => {
    const R = 6_378_137 * 1.0001;
    const d = metres / R;
    const [p1, l1, b] = [(lat * Math.PI) / 180, (lon * Math.PI) / 180, (bearing * Math.PI) / 180];
    const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [(l2 * 180) / Math.PI, (p2 * 180) / Math.PI];
  };
  test.each([[9.85, 46.26, 500], [0, 0, 10_000], [-70, -60, 100_000], [170, 80, 50_000]])(
    'holds every point within the distance of (%d, %d), %d m',
    (lon, lat, metres) => {
      const box = nearBox({ type: 'Point', coordinates: [lon, lat] }, metres)!;
      for (let bearing = 0; bearing < 360; bearing += 5) {
        const [x, y] = destination(lon, lat, metres, bearing);
        expect(x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3]).toBe(true);
      }
      expect(box[2] - box[0]).toBeLessThan(((metres / 111_000) * 4) / Math.cos((Math.abs(lat) * Math.PI) / 180) + 1e-6);
    },
  );
  test('no box near a pole or across the antimeridian', () => {
    expect(nearBox({ type: 'Point', coordinates: [0, 88.999] }, 1000)).toBeUndefined();
    expect(nearBox({ type: 'Point', coordinates: [179.999, 0] }, 1000)).toBeUndefined();
  });
});
