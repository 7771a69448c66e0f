/**
 * Fuzz test of the NGSI-LD API: a few thousand mutated payloads, query strings and headers go
 * through app.inject(), and every answer must be
 *   - 2xx or 4xx (never 5xx, never a rejected inject / crash), with two spec-defined exceptions:
 *     503 LdContextNotAvailable (a Link/@context URL we may not download) and 501
 *     OperationNotSupported (nested projections), both as problem details;
 *   - for 4xx: a problem-details body (type https://uri.etsi.org/ngsi-ld/errors/…, title, status, detail);
 *   - for a rejected (4xx) write: the entities table is byte-for-byte what it was before.
 * At the end every stored row must still be well-formed and renderable.
 *
 * Deterministic: every request is generated from prng(seed, iteration), independent of the
 * answers. Reproduce with FUZZ_SEED=<seed> (printed on failure); scale with FUZZ_ITERATIONS.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { openTestApp, CORE_V18, linkHeader } from '../helpers/app';
// the same seedable PRNG (mulberry32) the benchmark data uses
import { prng } from '../../bench/data';

const SEED = (Number(process.env.FUZZ_SEED ?? 0x5eed) >>> 0) || 1;
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const PROBLEM_BASE = 'https://uri.etsi.org/ngsi-ld/errors/';
const BASE = '/ngsi-ld/v1';
const KINDS = ['Property', 'Relationship', 'GeoProperty', 'LanguageProperty', 'VocabProperty', 'JsonProperty', 'ListProperty', 'ListRelationship'];
const VALUE_MEMBER: Record<string, string> = {
  Property: 'value', GeoProperty: 'value', Relationship: 'object', LanguageProperty: 'languageMap',
  VocabProperty: 'vocab', JsonProperty: 'json', ListProperty: 'valueList', ListRelationship: 'objectList',
};

// ---------------------------------------------------------------------------------------------
// PRNG


class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** weighted choice: [weight, value] pairs */
  weighted<T>(items: readonly [number, T][]): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1][1];
  }
}

// ---------------------------------------------------------------------------------------------
// Value generators

/** Sets a key as an own enumerable property (so `__proto__` is a key, not the prototype). */
function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

const WEIRD_NAMES = [
  '@id', '@type', '@context', '@value', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  'valueOf', 'a;b', 'a(b)', 'a<b>', 'a"b', "a'b", 'a=b', 'a b', '', ' ', 'x'.repeat(300), 'ns:foo', 'https://example.org/x',
  'urn:ngsi-ld:attr', 'id', 'type', 'scope', 'createdAt', 'modifiedAt', 'location', 'observationSpace', 'operationSpace',
  'a\u0000b', '\u202e', 'ñandú', '日本', '😀', 'a.b', 'a[b]', 'value', 'object', 'datasetId', 'observedAt', 'unitCode',
  'https://uri.etsi.org/ngsi-ld/default-context/temperature', 'temperature', 'ngsi-ld:location', '_:b0', 'http:', ':', 'a:',
];

const WEIRD_STRINGS = [
  'NaN', 'Infinity', '-Infinity', '-0', '1e999', '0x1F', '', ' ', 'null', 'undefined', 'true', 'urn:ngsi-ld:null',
  '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '😀', '\u202e\u202d', '\\', '\\u0000', '"', "'", '%00', '%', '%zz',
  '<script>', '${x}', '{{x}}', '$.a', '@.type', 'like_regex', "'; DROP TABLE entities; --", '2024-13-45T25:61:61Z',
  '2024-02-30T10:00:00Z', '2024-05-01T10:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z',
];

const WEIRD_NUMBERS = [
  0, -0, 1, -1, 0.1, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-320, Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER - 2, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, 123456789.123456789,
];

function randomString(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return rng.pick(WEIRD_STRINGS);
    case 1: {
      const n = rng.pick([10, 1000, 100_000, 100_001, 200_000]);
      return rng.pick(['a', 'é', '\u0000', '😀', '/']).repeat(n).slice(0, n);
    }
    case 2: {
      let s = '';
      const n = rng.int(20);
      for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0x10000));
      return s;
    }
    case 3:
      return `urn:ngsi-ld:Thing:${rng.int(1000)}`;
    default: {
      let s = '';
      const n = rng.int(12);
      for (let i = 0; i < n; i++) s += String.fromCharCode(32 + rng.int(95));
      return s;
    }
  }
}

function randomJson(rng: Rng, depth = 0): unknown {
  const scalar = depth > 4 || rng.chance(0.55);
  if (scalar) {
    switch (rng.int(6)) {
      case 0:
        return rng.pick(WEIRD_NUMBERS);
      case 1:
        return rng.float() * 1000 - 500;
      case 2:
        return randomString(rng);
      case 3:
        return rng.chance(0.5);
      case 4:
        return null;
      default:
        return rng.pick(WEIRD_STRINGS);
    }
  }
  switch (rng.int(4)) {
    case 0:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
    case 1: {
      const o: Record<string, unknown> = {};
      const n = rng.int(5);
      for (let i = 0; i < n; i++) setKey(o, rng.chance(0.3) ? rng.pick(WEIRD_NAMES) : randomString(rng).slice(0, 20), randomJson(rng, depth + 1));
      return o;
    }
    case 2:
      return deepNest(rng.pick([10, 31, 33, 40, 300]), rng.chance(0.5));
    default:
      return { type: rng.pick([...KINDS, 'Point', 'Polygon', 'Foo', 42, null]), [rng.pick(Object.values(VALUE_MEMBER))]: randomJson(rng, depth + 1) };
  }
}

function deepNest(levels: number, arrays: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = arrays ? [v] : { a: v };
  return v;
}

// --- GeoJSON -----------------------------------------------------------------------------------

const GEO_TYPES = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection'];

function validGeometry(rng: Rng): Record<string, unknown> {
  const p = (): number[] => [9.8 + rng.float() * 0.2, 46.2 + rng.float() * 0.1];
  const ring = (): number[][] => {
    const [x, y] = p();
    return [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y]];
  };
  switch (rng.pick(GEO_TYPES)) {
    case 'Point':
      return { type: 'Point', coordinates: p() };
    case 'MultiPoint':
      return { type: 'MultiPoint', coordinates: [p(), p()] };
    case 'LineString':
      return { type: 'LineString', coordinates: [p(), p()] };
    case 'MultiLineString':
      return { type: 'MultiLineString', coordinates: [[p(), p()], [p(), p()]] };
    case 'Polygon':
      return { type: 'Polygon', coordinates: [ring()] };
    case 'MultiPolygon':
      return { type: 'MultiPolygon', coordinates: [[ring()], [ring()]] };
    default:
      return { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: p() }, { type: 'Polygon', coordinates: [ring()] }] };
  }
}

/** Valid-looking but hostile geometries: self-intersecting, degenerate, antimeridian, 3D, duplicates. */
const NASTY_GEOMETRIES: Record<string, unknown>[] = [
  { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]] }, // bow-tie
  { type: 'Polygon', coordinates: [[[9.8, 46.2], [9.9, 46.3], [9.9, 46.2], [9.8, 46.3], [9.8, 46.2]]] },
  { type: 'Polygon', coordinates: [[[0, 0], [0, 0], [0, 0], [0, 0]]] }, // zero area
  { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [2, 0], [0, 0]]] }, // collinear
  { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 0]], [[20, 20], [30, 20], [30, 30], [20, 20]]] }, // hole outside
  { type: 'MultiPolygon', coordinates: [[[[0, 0], [2, 0], [2, 2], [0, 0]]], [[[0, 0], [2, 0], [2, 2], [0, 0]]]] }, // overlapping parts
  { type: 'LineString', coordinates: [[0, 0], [0, 0]] },
  { type: 'Polygon', coordinates: [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]] },
  { type: 'Polygon', coordinates: [[[179, 0], [-179, 0], [-179, 1], [179, 0]]] },
  { type: 'Point', coordinates: [180, 90, 1e308] },
  { type: 'Point', coordinates: [-180, -90] },
  { type: 'MultiPoint', coordinates: [[0, 0, 1], [1, 1]] },
  { type: 'GeometryCollection', geometries: [{ type: 'Polygon', coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]] }] },
  { type: 'Polygon', coordinates: [[[0, 0], [1e-300, 0], [1e-300, 1e-300], [0, 0]]] },
];

function brokenGeometry(rng: Rng): unknown {
  const g = validGeometry(rng);
  switch (rng.int(14)) {
    case 0:
      return { ...g, type: rng.pick(['point', 'Feature', 'FeatureCollection', 'Circle', '', 42, null, 'GeometryCollection']) };
    case 1:
      return { type: 'Point', coordinates: [rng.pick([181, -181, 1e308, NaN, 'NaN', '9.8', null]), rng.pick([91, -91, 46, 'x'])] };
    case 2:
      return { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }; // open ring
    case 3:
      return { type: 'LineString', coordinates: Array.from({ length: rng.pick([1, 10_001, 20_000]) }, (_, i) => [i % 180, 0]) }; // huge
    case 4:
      return { type: 'Point', coordinates: rng.pick([[], [1], [1, 2, 3, 4], [[1, 2]], 'x', {}, null, [[[[[1]]]]]]) };
    case 5:
      return { type: 'GeometryCollection', geometries: rng.pick([[], [g], [{ type: 'GeometryCollection', geometries: [] }], null, 'x']) };
    case 6:
      return { type: g.type, coordinates: deepNest(rng.pick([5, 40]), true) };
    case 7:
      return rng.pick(NASTY_GEOMETRIES);
    case 8:
      return { type: 'Polygon', coordinates: [Array.from({ length: 6000 }, (_, i) => [0, (i % 3) / 10]).concat([[0, 0]])] };
    case 9:
      return { type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1]]]] };
    case 10:
      return { ...g, coordinates: undefined, geometries: undefined };
    case 11:
      return { ...g, crs: { type: 'name', properties: { name: 'EPSG:3857' } }, bbox: [0, 0, 1, 1] };
    case 12:
      return mutateJson(rng, g, 0);
    default:
      return randomJson(rng);
  }
}

// --- valid seed entities -----------------------------------------------------------------------

const SEED_COUNT = 8;
const seedId = (i: number) => `urn:ngsi-ld:FuzzThing:${i}`;

function seedEntity(i: number): Record<string, unknown> {
  return {
    id: seedId(i),
    type: i % 2 ? 'FuzzThing' : ['FuzzThing', 'Sensor'],
    scope: ['/Valmalenco/Water', `/Valmalenco/Zone${i}`],
    temperature: {
      type: 'Property', value: 20 + i, unitCode: 'CEL', observedAt: '2024-05-01T10:00:00Z',
      accuracy: { type: 'Property', value: 0.1 },
      calibratedBy: { type: 'Relationship', object: 'urn:ngsi-ld:Person:1' },
    },
    humidity: [
      { type: 'Property', value: 40 + i, datasetId: 'urn:ngsi-ld:Dataset:a' },
      { type: 'Property', value: 41 + i, datasetId: 'urn:ngsi-ld:Dataset:b' },
      { type: 'Property', value: 42 + i },
    ],
    refPark: { type: 'Relationship', object: `urn:ngsi-ld:Park:${i}`, objectType: 'Park' },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85 + i / 100, 46.26] } },
    area: { type: 'GeoProperty', value: { type: 'Polygon', coordinates: [[[9.8, 46.2], [9.9, 46.2], [9.9, 46.3], [9.8, 46.2]]] } },
    name: { type: 'LanguageProperty', languageMap: { en: `Lake ${i}`, it: `Lago ${i}`, '@none': 'x' } },
    category: { type: 'VocabProperty', vocab: i % 2 ? 'water' : ['water', 'lake'] },
    config: { type: 'JsonProperty', json: { a: [1, { b: null }], c: 'd' } },
    readings: { type: 'ListProperty', valueList: [1, 'two', { three: 3 }] },
    neighbours: { type: 'ListRelationship', objectList: [{ object: 'urn:ngsi-ld:Park:2' }, { object: 'urn:ngsi-ld:Park:3' }] },
    address: { type: 'Property', value: { city: 'Sondrio', street: 'Via Roma', number: i } },
    status: 'ok',
    tags: ['a', 'b'],
    shape: { type: 'MultiPolygon', coordinates: [[[[9.8, 46.2], [9.9, 46.2], [9.9, 46.3], [9.8, 46.2]]]] },
  };
}

const SEED_ATTRS = ['temperature', 'humidity', 'refPark', 'location', 'area', 'name', 'category', 'config', 'readings', 'neighbours', 'address', 'status', 'tags', 'shape'];

// --- mutations ---------------------------------------------------------------------------------

function brokenId(rng: Rng): unknown {
  return rng.pick<unknown>([
    '', 'not a uri', 'urn', 'urn:', 'urn:' + 'x'.repeat(300), 'a:b c', 'urn:ngsi-ld:\u0000', 'urn:ngsi-ld:x"y', "urn:ngsi-ld:x'y",
    'urn:ngsi-ld:ü', 'http://[::1', '1:2', 'urn:ngsi-ld:null', 42, null, true, [seedId(1)], { id: seedId(1) }, 'urn:ngsi-ld:<x>',
    'urn:ngsi-ld:a/b', 'urn:ngsi-ld:%2F', 'x'.repeat(2000), 'urn:ngsi-ld:\ud800', 'urn:ngsi-ld:a\\b', '//x', 'urn:ngsi-ld:FuzzThing:new' + rng.int(50),
  ]);
}

function mutateJson(rng: Rng, value: unknown, depth: number): unknown {
  if (depth > 6 || rng.chance(0.15)) return rng.chance(0.3) ? brokenGeometry(rng) : randomJson(rng);
  if (Array.isArray(value)) {
    const a = [...value];
    switch (rng.int(5)) {
      case 0:
        if (a.length) a.splice(rng.int(a.length), 1);
        return a;
      case 1:
        if (a.length) a.push(clone(a[rng.int(a.length)]));
        return a;
      case 2:
        if (a.length) a[rng.int(a.length)] = randomJson(rng);
        return a;
      case 3:
        return [a];
      default:
        if (a.length) {
          const i = rng.int(a.length);
          a[i] = mutateJson(rng, a[i], depth + 1);
        }
        return a;
    }
  }
  if (value !== null && typeof value === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setKey(o, k, v);
    const keys = Object.keys(o);
    const key = keys.length ? rng.pick(keys) : 'x';
    switch (rng.int(8)) {
      case 0:
        delete o[key];
        return o;
      case 1: // duplicate under another name (weird or the IRI of the same term)
        setKey(o, rng.chance(0.5) ? rng.pick(WEIRD_NAMES) : `https://uri.etsi.org/ngsi-ld/default-context/${key}`, clone(o[key]));
        return o;
      case 2: // retype
        setKey(o, 'type', rng.pick<unknown>([...KINDS, ...GEO_TYPES, 'Foo', '', 42, null, ['Property'], { a: 1 }]));
        return o;
      case 3:
        setKey(o, key, randomJson(rng));
        return o;
      case 4:
        setKey(o, rng.pick(WEIRD_NAMES), randomJson(rng));
        return o;
      case 5:
        setKey(o, rng.pick(['value', 'object', 'languageMap', 'vocab', 'json', 'valueList', 'objectList', 'datasetId', 'observedAt', 'unitCode', 'objectType', 'createdAt']), randomJson(rng));
        return o;
      case 6:
        setKey(o, key, null);
        return o;
      default:
        setKey(o, key, mutateJson(rng, o[key], depth + 1));
        return o;
    }
  }
  return randomJson(rng);
}

/** A seed entity with 1–3 mutations, sometimes its id broken or its attributes breaking geo. */
function mutatedEntity(rng: Rng): Record<string, unknown> {
  let e = seedEntity(rng.int(SEED_COUNT)) as Record<string, unknown>;
  if (rng.chance(0.4)) {
    // keep a few attributes only, so that the mutation is not drowned
    const keep = new Set(['id', 'type', ...Array.from({ length: rng.range(1, 4) }, () => rng.pick(SEED_ATTRS))]);
    e = Object.fromEntries(Object.entries(e).filter(([k]) => keep.has(k)));
  }
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) {
    switch (rng.int(7)) {
      case 0:
        e.id = brokenId(rng);
        break;
      case 1:
        setKey(e, rng.pick(['location', 'area', 'shape', 'observationSpace']), rng.chance(0.5)
          ? { type: 'GeoProperty', value: brokenGeometry(rng) }
          : brokenGeometry(rng));
        break;
      case 2:
        e.type = rng.pick<unknown>(['', 'a b', 'a;b', '@id', 42, null, [], ['A', 'A'], ['x'.repeat(300)], 'ns:Thing', 'https://x.org/T', Array(101).fill('T')]);
        break;
      case 3:
        e.scope = rng.pick<unknown>(['', '/', '/a//b', '/a/#', '/+', 'a', ['/a', 42], [], 'urn:ngsi-ld:null', '/a b', '/' + 'x'.repeat(300)]);
        break;
      default:
        e = mutateJson(rng, e, 0) as Record<string, unknown>;
        if (e === null || typeof e !== 'object' || Array.isArray(e)) return e as Record<string, unknown>;
    }
  }
  return e;
}

function mutatedAttribute(rng: Rng): unknown {
  const e = seedEntity(rng.int(SEED_COUNT));
  const attr = rng.pick(SEED_ATTRS);
  const v = clone(e[attr]);
  return rng.chance(0.15) ? v : mutateJson(rng, v, 1);
}

// --- query strings -----------------------------------------------------------------------------

const Q_ATTRS = [...SEED_ATTRS, 'humidity.datasetId', 'temperature.accuracy', 'temperature.observedAt', 'temperature.unitCode',
  'address[city]', 'address[number]', 'name[en]', 'config[a]', 'https://uri.etsi.org/ngsi-ld/default-context/temperature',
  'ngsi-ld:location', 'urn:x:y', 'temperature.calibratedBy', 'temperature.createdAt', 'temperature.modifiedAt', 'x.y.z[a][b]'];

const REGEXES = [
  '^Lake', '(?i)lake', 'a.*b', '\\d+', '\\bLake\\b', '[a-z]+', '(?<n>x)', '\\p{L}', '\\P{Lu}', '[z-a]', 'a{2,1}', '\\x',
  '\\k<n>', '\\u{1F600}', '(', ')', '[', '*', '+a', 'a**', 'a{1000}', 'a{256}', '(?=x)', '(?!x)', '(?<=x)', '(?<!x)', '\\1',
  '(a)\\2', '\\c', '\\', '[[:alpha:]]', '[[:foo:]]', '(?x)a b', '(?P<n>x)', '(*)', '\\Z', '\\A', '.{0,65535}', '(a|)+',
  '((((((((((a))))))))))', 'a{,5}', '\\0', '\\o', '[\\d-z]', '\\uD800', '\\cA', '\\Qa\\E', '\\', 'x{1,2}{3}', '(?#c)',
];

const Q_VALUES = [
  '20', '-1', '0.5', '1e3', '1e400', '-1e-400', '99999999999999999999999', 'true', 'false', '"Lake 1"', '"a\\"b"', '"\\\\"',
  '2024-05-01T10:00:00Z', '2024-05-01', '10:00:00', '2024-13-01T25:00:00Z', 'urn:ngsi-ld:Park:1', 'water', '"', "'x'",
  'NaN', 'Infinity', '"\u0000"', '\u0000', '😀', '""', '"\ud800"', '$', '@', '$.a', '\\', 'ngsi-ld:null',
];

const CLEAN_Q_VALUES = ['20', '21', '-1', '0.5', '1e3', 'true', 'false', '"Lake 1"', '"a\\"b"', '2024-05-01T10:00:00Z', '2024-05-01', '10:00:00', 'urn:ngsi-ld:Park:1', 'water', '"ok"', '41..45', '"a".."z"', '2020-01-01T00:00:00Z..2030-01-01T00:00:00Z'];
const CLEAN_REGEXES = REGEXES.filter((r) => { try { new RegExp(r); return true; } catch { return false; } });

function qTerm(rng: Rng, clean = false): string {
  const path = rng.pick(Q_ATTRS);
  if (clean) {
    switch (rng.int(5)) {
      case 0:
        return (rng.chance(0.3) ? '!' : '') + path;
      case 1:
        return `${path}${rng.pick(['~=', '!~='])}${rng.chance(0.3) ? `"${rng.pick(CLEAN_REGEXES)}"` : rng.pick(CLEAN_REGEXES)}`;
      case 2:
        return `${path}${rng.pick(['==', '!='])}${Array.from({ length: rng.range(2, 4) }, () => rng.pick(CLEAN_Q_VALUES.slice(0, 15))).join(',')}`;
      default:
        return `${path}${rng.pick(['==', '!=', '>', '>=', '<', '<='])}${rng.pick(CLEAN_Q_VALUES)}`;
    }
  }
  switch (rng.int(8)) {
    case 0:
      return path;
    case 1:
      return '!' + path;
    case 2:
      return `${path}${rng.pick(['~=', '!~='])}${rng.chance(0.3) ? `"${rng.pick(REGEXES)}"` : rng.pick(REGEXES)}`;
    case 3:
      return `${path}${rng.pick(['==', '!='])}${rng.pick(Q_VALUES)}..${rng.pick(Q_VALUES)}`;
    case 4:
      return `${path}${rng.pick(['==', '!='])}${Array.from({ length: rng.range(2, 4) }, () => rng.pick(Q_VALUES)).join(',')}`;
    default:
      return `${path}${rng.pick(['==', '!=', '>', '>=', '<', '<=', '=', '!', '=~', '~'])}${rng.pick(Q_VALUES)}`;
  }
}

function qExpr(rng: Rng, depth = 0, clean = false): string {
  if (depth > 3 || rng.chance(0.5)) return qTerm(rng, clean);
  const parts = Array.from({ length: rng.range(2, 3) }, () => qExpr(rng, depth + 1, clean));
  const joined = parts.join(rng.pick([';', '|']));
  return rng.chance(0.4) ? `(${joined})` : joined;
}

const SPECIAL_CHARS = ';|()[].,"\'!=<>~\\ #+/:{}@$%&*?^\u0000😀\ud800';

/** Char-level insert/delete/swap/duplicate mutations of a string. */
function mutateString(rng: Rng, s: string): string {
  const n = rng.range(1, 3);
  let out = s;
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length + 1);
    switch (rng.int(5)) {
      case 0:
        out = out.slice(0, at) + SPECIAL_CHARS[rng.int(SPECIAL_CHARS.length)] + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1);
        break;
      case 2:
        if (out.length > 1) {
          const b = rng.int(out.length);
          const chars = [...out];
          [chars[at % chars.length], chars[b]] = [chars[b], chars[at % chars.length]];
          out = chars.join('');
        }
        break;
      case 3:
        out = out.slice(0, at) + out.slice(at, at + rng.range(1, 8)).repeat(rng.range(2, 4)) + out.slice(at);
        break;
      default:
        out = out.slice(0, at);
    }
  }
  return out;
}

const maybeMutate = (rng: Rng, s: string, p = 0.35): string => (rng.chance(p) ? mutateString(rng, s) : s);

function typeExpr(rng: Rng, depth = 0): string {
  if (depth > 2 || rng.chance(0.5)) return rng.pick(['FuzzThing', 'Sensor', 'Park', 'ns:Thing', 'https://x.org/T', 'Foo', 'a b', '@id', '']);
  const parts = Array.from({ length: rng.range(2, 3) }, () => typeExpr(rng, depth + 1));
  const joined = parts.join(rng.pick([',', '|', ';']));
  return rng.chance(0.4) ? `(${joined})` : joined;
}

function names(rng: Rng): string {
  return Array.from({ length: rng.range(1, 4) }, () => rng.pick([...SEED_ATTRS, 'id', 'type', 'scope', ...WEIRD_NAMES.slice(0, 20), 'a{b}', 'a|b'])).join(rng.pick([',', ',', '|']));
}

function coordinatesParam(rng: Rng, geometry: string): string {
  if (rng.chance(0.15)) return maybeMutate(rng, rng.pick(['', '[', '[]', 'null', '{}', '[1,2', '9.85,46.26', '[9.85,46.26]', '[[9.85,46.26]]', '[NaN,1]', '[1e999,0]', '"x"']));
  let g: unknown;
  if (rng.chance(0.5)) {
    const v = validGeometry(rng);
    g = v.type === geometry || v.type === 'GeometryCollection' ? v : { type: geometry, coordinates: (validGeometry(rng) as { coordinates?: unknown }).coordinates };
  } else g = rng.chance(0.5) ? rng.pick(NASTY_GEOMETRIES) : brokenGeometry(rng);
  const coords = (g as { coordinates?: unknown } | null)?.coordinates ?? randomJson(rng);
  return maybeMutate(rng, JSON.stringify(coords) ?? 'undefined', 0.2);
}

function geoParams(rng: Rng): Record<string, string> {
  const p: Record<string, string> = {};
  const geometry = rng.weighted<string>([[6, rng.pick(GEO_TYPES.slice(0, 6))], [1, rng.pick(['point', 'POLYGON', 'Circle', '', 'GeometryCollection', 'Box'])]]);
  const georel = rng.pick([
    'near;maxDistance==1000', 'near;minDistance==10', 'near;maxDistance==1000;minDistance==10', 'near;maxDistance==0',
    'near;maxDistance==' + '9'.repeat(400), 'near;maxDistance==1e10', 'near;maxDistance==-1', 'near', 'near;maxDistance=1000',
    'within', 'contains', 'intersects', 'disjoint', 'overlaps', 'equals', 'covers', '', 'within;maxDistance==1', 'near;maxDistance==1;maxDistance==2',
  ]);
  if (rng.chance(0.9)) p.georel = maybeMutate(rng, georel, 0.2);
  if (rng.chance(0.9)) p.geometry = geometry;
  if (rng.chance(0.9)) p.coordinates = coordinatesParam(rng, geometry);
  if (rng.chance(0.3)) p.geoproperty = rng.pick(['location', 'area', 'shape', 'temperature', 'unknown', '', 'a b', ...WEIRD_NAMES.slice(0, 12)]);
  return p;
}

/** Mostly well-formed queries, so that most of them get past parsing and are evaluated by the store. */
function cleanQueryParams(rng: Rng): Record<string, string> {
  const p: Record<string, string> = {};
  const pickSome = (items: readonly string[]) => Array.from({ length: rng.range(1, 3) }, () => rng.pick(items)).join(',');
  if (rng.chance(0.5)) p.type = rng.pick(['FuzzThing', 'Sensor', 'FuzzThing,Sensor', 'FuzzThing;Sensor', '(FuzzThing|Park);Sensor', 'Park']);
  if (rng.chance(0.7)) p.q = qExpr(rng, 0, true);
  if (rng.chance(0.3)) {
    const geometry = rng.pick(GEO_TYPES.slice(0, 6));
    const g = rng.chance(0.7) ? validGeometry(rng) : rng.pick(NASTY_GEOMETRIES);
    p.geometry = g.type === 'GeometryCollection' ? geometry : String(g.type);
    p.coordinates = JSON.stringify(g.type === 'GeometryCollection' ? (validGeometry(rng) as { coordinates?: unknown }).coordinates ?? [9.85, 46.26] : g.coordinates);
    p.georel = p.geometry === 'Point' && rng.chance(0.6)
      ? rng.pick(['near;maxDistance==1000', 'near;minDistance==10', 'near;maxDistance==0', 'near;maxDistance==' + '9'.repeat(400), 'near;minDistance==1e3'])
      : rng.pick(['within', 'contains', 'intersects', 'disjoint', 'overlaps', 'equals']);
    if (rng.chance(0.4)) p.geoproperty = rng.pick(['location', 'area', 'shape', 'temperature', 'name', 'unknown', 'observationSpace']);
  }
  if (rng.chance(0.15)) p.idPattern = rng.pick([...REGEXES, '^urn:ngsi-ld:FuzzThing:[0-3]$', '.*']);
  if (rng.chance(0.1)) p.scopeQ = rng.pick(['/Valmalenco', '/Valmalenco/#', '/+/Water', '/Valmalenco/Water|/x', '(/a;/b)|/c', '/#', '/a/+/#', '/Valmalenco/Zone1;/Valmalenco/Water']);
  if (rng.chance(0.15)) p.attrs = pickSome(SEED_ATTRS);
  else if (rng.chance(0.1)) p.pick = pickSome([...SEED_ATTRS, 'id', 'type', 'scope']);
  else if (rng.chance(0.1)) p.omit = pickSome([...SEED_ATTRS, 'id', 'type', 'scope']);
  if (rng.chance(0.2)) p.limit = rng.pick(['1', '2', '1000']);
  if (rng.chance(0.2)) p.offset = rng.pick(['0', '1', '5', '9007199254740991']);
  if (rng.chance(0.2)) p.count = 'true';
  if (rng.chance(0.3)) p.options = rng.pick(['keyValues', 'sysAttrs', 'keyValues,sysAttrs', 'concise', 'normalized']);
  if (rng.chance(0.1)) p.lang = rng.pick(['en', 'it', '*', '@none', 'xx']);
  if (rng.chance(0.05)) p.geometryProperty = rng.pick(['location', 'area', 'name', 'x']);
  if (!p.type && !p.q && !p.georel && !p.idPattern && !p.attrs && !p.scopeQ) p.local = 'true';
  return p;
}

function queryParams(rng: Rng): Record<string, string> {
  if (rng.chance(0.5)) return cleanQueryParams(rng);
  const p: Record<string, string> = {};
  if (rng.chance(0.5)) p.type = maybeMutate(rng, typeExpr(rng));
  if (rng.chance(0.45)) p.q = maybeMutate(rng, qExpr(rng));
  if (rng.chance(0.2)) Object.assign(p, geoParams(rng));
  if (rng.chance(0.12)) p.idPattern = maybeMutate(rng, rng.pick([...REGEXES, '^urn:ngsi-ld:FuzzThing:[0-3]$', '.*']));
  if (rng.chance(0.12)) p.id = rng.chance(0.5) ? `${seedId(1)},${seedId(2)}` : String(brokenId(rng));
  if (rng.chance(0.1)) p.scopeQ = maybeMutate(rng, rng.pick(['/Valmalenco', '/Valmalenco/#', '/+/Water', '/Valmalenco/Water|/x', '(/a;/b)|/c', '/#', '/', '//', '/a/+/#']));
  if (rng.chance(0.15)) p.attrs = names(rng);
  if (rng.chance(0.1)) p.pick = names(rng);
  if (rng.chance(0.1)) p.omit = names(rng);
  if (rng.chance(0.2)) p.limit = rng.pick(['0', '1', '20', '1000', '1001', '-1', '1.5', 'abc', '', '99999999999999999999', '2147483648', '1e3']);
  if (rng.chance(0.2)) p.offset = rng.pick(['0', '1', '5', '-1', '1.5', 'x', '2147483648', '9223372036854775807', '9223372036854775808', '99999999999999999999', '1e300']);
  if (rng.chance(0.15)) p.count = rng.pick(['true', 'false', '1', '0', 'yes', '']);
  if (rng.chance(0.2)) p.options = rng.pick(['keyValues', 'sysAttrs', 'keyValues,sysAttrs', 'concise', 'normalized', 'simplified', 'keyValues,concise', 'foo', ',', 'replace']);
  if (rng.chance(0.1)) p.format = rng.pick(['keyValues', 'concise', 'normalized', 'simplified', 'geojson', '']);
  if (rng.chance(0.08)) p.lang = rng.pick(['en', 'it', '*', '@none', 'xx', '', 'en,it', 'a'.repeat(65)]);
  if (rng.chance(0.05)) p.geometryProperty = rng.pick(['location', 'area', 'name', 'x']);
  if (rng.chance(0.05)) p.local = rng.pick(['true', 'false', 'x']);
  if (rng.chance(0.05)) p[rng.pick(['unknownParam', 'q[]', '__proto__', 'constructor'])] = 'x';
  return p;
}

function queryString(rng: Rng, params: Record<string, string>): string {
  const parts = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${safeEncode(v)}`);
  if (rng.chance(0.05)) parts.push(rng.pick(['q', 'q=', 'limit=1&limit=2', 'q=a&q=b', '%zz=1', 'type=%E0%A4%A', '&&', '=x']));
  return parts.length ? '?' + parts.join('&') : '';
}

/** encodeURIComponent, except that lone surrogates (which it refuses) become a raw %-sequence. */
function safeEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return '%ED%A0%80';
      }
    }).join('');
  }
}

// --- headers -----------------------------------------------------------------------------------

function headers(rng: Rng, opts: { body: boolean }): Record<string, string> {
  const h: Record<string, string> = {};
  if (opts.body) {
    h['content-type'] = rng.weighted<string>([
      [20, 'application/json'],
      [3, 'application/ld+json'],
      [2, 'application/merge-patch+json'],
      [1, 'application/geo+json'],
      [1, 'application/json; charset=utf-8'],
      [2, rng.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'a/b/c', ';', 'application/json;;;', 'APPLICATION/JSON', 'application/jsonx', 'application/x-www-form-urlencoded'])],
    ]);
  }
  if (rng.chance(0.1)) {
    h.link = rng.pick([
      linkHeader(CORE_V18),
      linkHeader('https://smart-data-models.github.io/dataModel.Environment/context.jsonld'),
      linkHeader('https://example.org/ctx.jsonld'),
      linkHeader('not a url'),
      linkHeader('ftp://x/y'),
      '<' + CORE_V18,
      `<${CORE_V18}>; rel=`,
      `<${CORE_V18}>; rel="http://www.w3.org/ns/json-ld#context", <https://example.org/c>; rel="http://www.w3.org/ns/json-ld#context"`,
      `<${CORE_V18}>; rel="other"`,
      'garbage',
      '<>; rel="http://www.w3.org/ns/json-ld#context"',
      ';;;,,,<<>>',
      `<${CORE_V18}>; rel="http://www.w3.org/ns/json-ld#context"; type=`,
      linkHeader('http://localhost/ngsi-ld/v1/jsonldContexts/%zz'),
      linkHeader('http://localhost/ngsi-ld/v1/jsonldContexts/nope'),
    ]);
  }
  if (rng.chance(0.07)) h['ngsild-tenant'] = rng.pick(['', 'tenant_a', 'UPPER', 'a'.repeat(65), 'ten ant', '../x', 'ü', 'a;b', '%00', 'fuzz-tenant']);
  if (rng.chance(0.1)) {
    h.accept = rng.pick([
      'application/json', 'application/ld+json', 'application/geo+json', '*/*', 'text/html', '*/*;q=0', 'application/json;q=abc',
      '', ',,,', 'application/*', 'application/json;q=0.5, application/ld+json;q=0.9', ';', 'application/problem+json', 'x'.repeat(500),
    ]);
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Request generation

interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** what the generator did, for failure reports */
  kind: string;
}

const isWrite = (r: FuzzRequest) => r.method !== 'GET';

function entityPathId(rng: Rng): string {
  return rng.weighted<string>([
    [8, encodeURIComponent(seedId(rng.int(SEED_COUNT)))],
    [1, encodeURIComponent('urn:ngsi-ld:FuzzThing:missing')],
    [2, safeEncode(String(brokenId(rng)) || 'x')],
    [1, rng.pick(['%E0%A4%A', '%zz', '%00', 'a%2Fb', '..', '%20', seedId(1)])],
  ]);
}

function attrPathName(rng: Rng): string {
  return rng.chance(0.75) ? rng.pick(SEED_ATTRS) : safeEncode(rng.pick(WEIRD_NAMES) || 'x');
}

function body(rng: Rng, value: unknown, contentType: string | undefined): string | Buffer {
  if (rng.chance(0.05)) {
    // raw garbage bodies
    switch (rng.int(6)) {
      case 0:
        return Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256)));
      case 1:
        return JSON.stringify(value).slice(0, rng.int(50));
      case 2:
        return '{"id":"urn:ngsi-ld:FuzzThing:1","type":"FuzzThing","t":{"type":"Property","value":1e999}}';
      case 3:
        return '\ufeff' + JSON.stringify(value);
      case 4:
        return '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}';
      default:
        return rng.pick(['', 'null', '0', '"x"', '[]', '{}', 'true', '{"__proto__":{"x":1}}', '{"a":1,"a":2}', '{"constructor":{"prototype":{}}}']);
    }
  }
  let v = value;
  // ld+json requires an @context in the body: give one (sometimes broken)
  if (contentType === 'application/ld+json' && v !== null && typeof v === 'object') {
    const ctx = rng.pick<unknown>([
      CORE_V18, [CORE_V18], { fuzz: 'https://example.org/fuzz#' }, { '@vocab': 'https://example.org/v#' }, 42, null, [null], {},
      { temperature: { '@id': '@type' } }, { '@import': 'https://example.org/x' }, { a: { '@id': 'a:b', '@container': '@list' } },
      'https://example.org/ctx.jsonld', { '@version': 1.1, x: { '@id': 'https://x/', '@prefix': true } }, { type: '@id' },
      { FuzzThing: 'https://example.org/FuzzThing', temperature: 'https://example.org/temperature' }, { x: { '@reverse': 'y' } },
      { '@protected': true, id: '@id' }, [CORE_V18, { id: 'https://x/id' }], 'https://smartdatamodels.org/context.jsonld',
    ]);
    if (Array.isArray(v)) v = v.map((item) => (item && typeof item === 'object' && !Array.isArray(item) ? { ...item, '@context': ctx } : item));
    else if (rng.chance(0.9)) v = { ...(v as object), '@context': ctx };
  }
  return JSON.stringify(v) ?? 'null';
}

function generate(rng: Rng): FuzzRequest {
  const kind = rng.weighted<string>([
    [10, 'createEntity'], [5, 'replaceEntity'], [6, 'mergeEntity'], [5, 'appendAttrs'], [5, 'updateAttrs'],
    [5, 'patchAttr'], [4, 'putAttr'], [2, 'deleteAttr'], [1, 'deleteEntity'],
    [3, 'batchCreate'], [3, 'batchUpsert'], [3, 'batchUpdate'], [3, 'batchMerge'], [2, 'batchDelete'],
    [20, 'queryEntities'], [5, 'postQuery'], [5, 'getEntity'], [3, 'discovery'], [2, 'contexts'],
  ]);
  const withBody = (method: FuzzRequest['method'], url: string, value: unknown): FuzzRequest => {
    const h = headers(rng, { body: true });
    return { method, url, headers: h, payload: body(rng, value, h['content-type']), kind };
  };
  const noBody = (method: FuzzRequest['method'], url: string): FuzzRequest => ({ method, url, headers: headers(rng, { body: false }), kind });
  const entityUrl = () => `${BASE}/entities/${entityPathId(rng)}`;
  const batch = (make: () => unknown) => (rng.chance(0.05) ? randomJson(rng) : Array.from({ length: rng.pick([1, 2, 3, 5]) }, make));

  switch (kind) {
    case 'createEntity':
      return withBody('POST', `${BASE}/entities`, rng.chance(0.05) ? randomJson(rng) : mutatedEntity(rng));
    case 'replaceEntity':
      return withBody('PUT', entityUrl(), mutatedEntity(rng));
    case 'mergeEntity': {
      const e = mutatedEntity(rng);
      if (!isObject(e)) return withBody('PATCH', entityUrl(), e);
      if (rng.chance(0.6)) delete e.id;
      if (rng.chance(0.3)) setKey(e, rng.pick(SEED_ATTRS), rng.pick<unknown>(['urn:ngsi-ld:null', null, { value: 'urn:ngsi-ld:null' }]));
      return withBody('PATCH', entityUrl(), e);
    }
    case 'appendAttrs':
    case 'updateAttrs': {
      const e = mutatedEntity(rng);
      if (isObject(e)) {
        if (rng.chance(0.7)) delete e.id;
        if (rng.chance(0.6)) delete e.type;
      }
      const q = kind === 'appendAttrs' && rng.chance(0.3) ? `?options=${rng.pick(['noOverwrite', 'foo', 'noOverwrite,x', ''])}` : '';
      return withBody(kind === 'appendAttrs' ? 'POST' : 'PATCH', `${entityUrl()}/attrs${q}`, e);
    }
    case 'patchAttr':
    case 'putAttr':
      return withBody(kind === 'patchAttr' ? 'PATCH' : 'PUT', `${entityUrl()}/attrs/${attrPathName(rng)}`, mutatedAttribute(rng));
    case 'deleteAttr': {
      const q = rng.chance(0.4)
        ? '?' + rng.pick(['deleteAll=true', 'datasetId=urn:ngsi-ld:Dataset:a', 'datasetId=x', 'deleteAll=true&datasetId=urn:ngsi-ld:Dataset:a', 'deleteAll=maybe', 'datasetId='])
        : '';
      return noBody('DELETE', `${entityUrl()}/attrs/${attrPathName(rng)}${q}`);
    }
    case 'deleteEntity':
      return noBody('DELETE', entityUrl());
    case 'batchCreate':
      return withBody('POST', `${BASE}/entityOperations/create`, batch(() => mutatedEntity(rng)));
    case 'batchUpsert':
      return withBody('POST', `${BASE}/entityOperations/upsert${rng.chance(0.4) ? '?options=' + rng.pick(['replace', 'update', 'replace,update', 'x']) : ''}`, batch(() => mutatedEntity(rng)));
    case 'batchUpdate':
      return withBody('POST', `${BASE}/entityOperations/update${rng.chance(0.3) ? '?options=' + rng.pick(['noOverwrite', 'x']) : ''}`, batch(() => mutatedEntity(rng)));
    case 'batchMerge':
      return withBody('POST', `${BASE}/entityOperations/merge`, batch(() => mutatedEntity(rng)));
    case 'batchDelete':
      return withBody('POST', `${BASE}/entityOperations/delete`, batch(() => (rng.chance(0.3) ? seedId(SEED_COUNT + rng.int(40)) : brokenId(rng))));
    case 'queryEntities':
      return noBody('GET', `${BASE}/entities${queryString(rng, queryParams(rng))}`);
    case 'getEntity': {
      const p = queryParams(rng);
      for (const k of ['q', 'type', 'georel', 'geometry', 'coordinates', 'idPattern', 'id', 'scopeQ']) if (rng.chance(0.7)) delete p[k];
      return noBody('GET', `${entityUrl()}${queryString(rng, p)}`);
    }
    case 'postQuery': {
      const p = queryParams(rng);
      const split = (s?: string) => (s === undefined ? undefined : rng.chance(0.5) ? s.split(',') : s);
      const q: Record<string, unknown> = {
        type: rng.chance(0.95) ? 'Query' : rng.pick(['query', 'Subscription', 42]),
        entities: rng.chance(0.6) ? [{ type: p.type ?? 'FuzzThing', ...(p.idPattern ? { idPattern: p.idPattern } : {}) }] : undefined,
        attrs: p.attrs?.split(','),
        pick: split(p.pick),
        omit: split(p.omit),
        q: p.q,
        scopeQ: p.scopeQ,
        lang: p.lang,
        geoQ: p.georel || p.geometry || p.coordinates
          ? { georel: p.georel, geometry: p.geometry, coordinates: rng.chance(0.5) ? p.coordinates : tryParse(p.coordinates), geoproperty: p.geoproperty }
          : undefined,
      };
      const value = rng.chance(0.3) ? mutateJson(rng, q, 0) : q;
      const qs = queryString(rng, Object.fromEntries(Object.entries(p).filter(([k]) => ['limit', 'offset', 'count', 'options', 'format', 'local'].includes(k))));
      return withBody('POST', `${BASE}/entityOperations/query${qs}`, value);
    }
    case 'discovery': {
      const what = rng.pick(['types', 'attributes']);
      const name = rng.weighted<string>([
        [3, ''], [3, rng.pick(['FuzzThing', 'Sensor', ...SEED_ATTRS])], [2, safeEncode(rng.pick(WEIRD_NAMES) || 'x')],
        [1, safeEncode(randomString(rng).slice(0, 1100) || 'y')], [1, rng.pick(['%zz', '%E0%A4%A', 'a%2Fb'])],
      ]);
      const details = rng.chance(0.3) ? `?details=${rng.pick(['true', 'false', 'x', ''])}` : '';
      return noBody('GET', `${BASE}/${what}${name ? '/' + name : ''}${details}`);
    }
    default: {
      // jsonldContexts
      const id = rng.pick(['nope', '%zz', encodeURIComponent(CORE_V18), 'x'.repeat(1100), safeEncode(randomString(rng).slice(0, 40) || 'z')]);
      switch (rng.int(4)) {
        case 0:
          return noBody('GET', `${BASE}/jsonldContexts${rng.chance(0.5) ? '?' + rng.pick(['details=true', 'kind=Hosted', 'kind=Cached', 'kind=x', 'details=x']) : ''}`);
        case 1:
          return noBody('GET', `${BASE}/jsonldContexts/${id}${rng.chance(0.3) ? '?details=true' : ''}`);
        case 2:
          return withBody('POST', `${BASE}/jsonldContexts`, rng.chance(0.5)
            ? { '@context': rng.pick<unknown>([{ fuzz: 'https://example.org/fuzz#' }, { a: { '@id': '@type' } }, [], 'x', null, [CORE_V18], randomJson(rng)]) }
            : randomJson(rng));
        default:
          return noBody('DELETE', `${BASE}/jsonldContexts/${id}${rng.chance(0.3) ? '?reload=' + rng.pick(['true', 'false', 'x']) : ''}`);
      }
    }
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function tryParse(s: string | undefined): unknown {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

interface Failure {
  iteration: number;
  why: string;
  request: Omit<FuzzRequest, 'payload'> & { payload?: string };
  status?: number;
  body?: string;
}

const cut = (s: string, n = 1500) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function problemError(body: unknown, status: number): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not a JSON object';
  const p = body as Record<string, unknown>;
  if (typeof p.type !== 'string' || !p.type.startsWith(PROBLEM_BASE)) return `type ${JSON.stringify(p.type)} is not an NGSI-LD problem type`;
  if (typeof p.title !== 'string' || !p.title) return 'no title';
  if (p.status !== status) return `status member ${JSON.stringify(p.status)} differs from HTTP ${status}`;
  if (typeof p.detail !== 'string') return 'no detail';
  return undefined;
}

/** Each stored attribute: an array of instance objects of a known kind that carry their value. */
function instanceError(inst: unknown, path: string, depth = 0): string | undefined {
  if (inst === null || typeof inst !== 'object' || Array.isArray(inst)) return `${path} is not an object`;
  const i = inst as Record<string, unknown>;
  if (typeof i.type !== 'string' || !KINDS.includes(i.type)) return `${path} has type ${JSON.stringify(i.type)}`;
  const member = i[VALUE_MEMBER[i.type]];
  if (member === undefined || member === null) return `${path} (${i.type}) has no ${VALUE_MEMBER[i.type]}`;
  if (depth > 10) return `${path} nests too deep`;
  for (const [k, v] of Object.entries(i)) {
    if (k.includes(':') && k !== 'type') {
      const sub = instanceError(v, `${path}.${k}`, depth + 1);
      if (sub) return sub;
    }
  }
  return undefined;
}

const STORE_HASH = `SELECT md5(coalesce(string_agg(
    tenant || '|' || id || '|' || types::text || '|' || coalesce(scopes::text, '-') || '|' || attrs::text || '|' || modified_at::text,
    E'\\n' ORDER BY tenant, id), '')) AS h,
  count(*)::int AS n FROM entities`;

// ---------------------------------------------------------------------------------------------

describe(`API fuzz (seed ${SEED}, ${ITERATIONS} requests)`, () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    ({ app } = await openTestApp({ LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'silent' }));
  });
  afterAll(async () => {
    await app?.close();
  });

  const storeHash = async (): Promise<string> => {
    const { rows } = await app.db.query<{ h: string; n: number }>(STORE_HASH);
    return `${rows[0].n}:${rows[0].h}`;
  };

  const reseed = async () => {
    const res = await app.inject({
      method: 'POST',
      url: `${BASE}/entityOperations/upsert`,
      headers: { 'content-type': 'application/json' },
      payload: Array.from({ length: SEED_COUNT }, (_, i) => seedEntity(i)),
    });
    expect([201, 204]).toContain(res.statusCode);
  };

  // What earlier runs found, pinned down: each was a 5xx, a non-problem body or a silently changed value.
  test.each<[string, InjectOptions, number]>([
    ['bad %-escape in a path (router error)', { method: 'GET', url: `${BASE}/entities/%E0%A4%A` }, 400],
    ['over-long path parameter (router error)', { method: 'GET', url: `${BASE}/types/${'x'.repeat(1100)}` }, 414],
    ['U+0000 in a value', { method: 'POST', url: `${BASE}/entities`, payload: { id: 'urn:ngsi-ld:R:1', type: 'R', a: 'x\u0000y' } }, 400],
    ['unpaired surrogate in a value', { method: 'POST', url: `${BASE}/entities`, payload: '{"id":"urn:ngsi-ld:R:1","type":"R","a":"\\ud800"}', headers: { 'content-type': 'application/json' } }, 400],
    ['unpaired surrogate in a member name', { method: 'POST', url: `${BASE}/entities`, payload: '{"id":"urn:ngsi-ld:R:1","type":"R","a":{"\\udc00":1}}', headers: { 'content-type': 'application/json' } }, 400],
    ['U+0000 in q', { method: 'GET', url: `${BASE}/entities?q=a==%22%00%22` }, 400],
    ['offset beyond bigint', { method: 'GET', url: `${BASE}/entities?type=R&offset=9223372036854775808` }, 400],
    ['1e999 read as Infinity', { method: 'POST', url: `${BASE}/entities`, payload: '{"id":"urn:ngsi-ld:R:1","type":"R","a":{"value":[1e999]}}', headers: { 'content-type': 'application/json' } }, 400],
  ])('%s: answered with problem details', async (_name, request, status) => {
    const res = await app.inject(request);
    expect(res.statusCode).toBe(status);
    expect(problemError(res.json(), status)).toBeUndefined();
    const stored = await app.inject({ method: 'GET', url: `${BASE}/entities/urn:ngsi-ld:R:1` });
    expect(stored.statusCode).toBe(404);
  });

  test('only 2xx/4xx with problem details; rejected writes leave the store unchanged', async () => {
    await reseed();
    const failures: Failure[] = [];
    const statuses = new Map<number, number>();
    let lastHash = await storeHash();
    let rejectedWrites = 0;
    const byKind: Record<string, Record<number, number>> = {};
    let shown = 0;
    const started = Date.now();

    for (let i = 0; i < ITERATIONS; i++) {
      if (i > 0 && i % 150 === 0) {
        await reseed();
        lastHash = await storeHash();
      }
      const rng = new Rng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
      const req = generate(rng);
      const report = (why: string, status?: number, text?: string) => {
        failures.push({
          iteration: i,
          why,
          request: { ...req, payload: req.payload === undefined ? undefined : cut(req.payload.toString()) },
          status,
          body: text === undefined ? undefined : cut(text, 600),
        });
      };
      let res;
      try {
        res = await app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload } as InjectOptions);
      } catch (err) {
        report(`inject threw: ${(err as Error).stack ?? String(err)}`);
        continue;
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (process.env.FUZZ_SHOW === req.kind && shown++ < 80) console.log(`${res.statusCode} ${req.method} ${cut(decodeURIComponentSafe(req.url), 300)} → ${cut(res.body, 200)}`);
      const perKind = (byKind[req.kind] ??= {});
      perKind[res.statusCode] = (perKind[res.statusCode] ?? 0) + 1;
      const status = res.statusCode;
      let parsed: unknown;
      if (status >= 400) {
        try {
          parsed = JSON.parse(res.body);
        } catch {
          parsed = undefined;
        }
      }
      const allowedServerError =
        (status === 503 && (parsed as { type?: string })?.type === PROBLEM_BASE + 'LdContextNotAvailable') ||
        (status === 501 && (parsed as { type?: string })?.type === PROBLEM_BASE + 'OperationNotSupported');
      if (status >= 500 && !allowedServerError) report(`HTTP ${status}`, status, res.body);
      else if (status < 200 || (status >= 300 && status < 400)) report(`unexpected HTTP ${status}`, status, res.body);
      else if (status >= 400) {
        const problem = problemError(parsed, status);
        if (problem) report(`${status} without problem details: ${problem}`, status, res.body);
      }
      if (isWrite(req)) {
        const hash = await storeHash();
        if (status >= 400 && hash !== lastHash) report(`rejected write (HTTP ${status}) changed the store`, status, res.body);
        if (status >= 400) rejectedWrites++;
        lastHash = hash;
      }
      if (failures.length >= 40) break;
    }
    const seconds = (Date.now() - started) / 1000;

    // Consistency: every stored row is well-formed and renders in every format.
    const { rows } = await app.db.query<{ tenant: string; id: string; attrs: unknown }>('SELECT tenant, id, attrs FROM entities ORDER BY tenant, id');
    const inconsistent: string[] = [];
    for (const row of rows) {
      const attrs = row.attrs;
      if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) {
        inconsistent.push(`${row.id}: attrs is not an object`);
        continue;
      }
      for (const [name, instances] of Object.entries(attrs)) {
        if (!Array.isArray(instances) || instances.length === 0) {
          inconsistent.push(`${row.id}: ${name} is not a non-empty array`);
          continue;
        }
        instances.forEach((inst, k) => {
          const problem = instanceError(inst, `${row.id} ${name}[${k}]`);
          if (problem) inconsistent.push(problem);
        });
      }
      const tenantHeader: Record<string, string> = row.tenant ? { 'ngsild-tenant': row.tenant } : {};
      for (const q of ['', '?options=keyValues', '?options=concise,sysAttrs']) {
        for (const accept of ['application/json', 'application/geo+json']) {
          const res = await app.inject({ method: 'GET', url: `${BASE}/entities/${encodeURIComponent(row.id)}${q}`, headers: { ...tenantHeader, accept } });
          if (res.statusCode !== 200) inconsistent.push(`GET ${row.id}${q} (${accept}) → ${res.statusCode} ${cut(res.body, 300)}`);
        }
      }
    }
    for (const url of ['/types?details=true', '/attributes?details=true', '/entities?local=true&limit=1000&count=true']) {
      const res = await app.inject({ method: 'GET', url: BASE + url });
      if (res.statusCode !== 200) inconsistent.push(`GET ${url} → ${res.statusCode} ${cut(res.body, 300)}`);
    }

    const done = failures.length ? failures[failures.length - 1].iteration + 1 : ITERATIONS;
    console.log(
      `fuzz seed=${SEED}: ${done} requests in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} req/s), ` +
        `${rejectedWrites} rejected writes checked, ${rows.length} rows at the end; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );
    if (process.env.FUZZ_STATS) console.log(JSON.stringify(byKind, null, 1).replace(/\n\s*(?=["}])/g, ' '));
    if (failures.length || inconsistent.length) {
      console.error(
        `fuzz FAILED with FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${ITERATIONS}\n` +
          failures.map((f) => JSON.stringify(f, null, 1)).join('\n') +
          (inconsistent.length ? `\ninconsistent store:\n${inconsistent.slice(0, 50).join('\n')}` : ''),
      );
    }
    expect(failures.map((f) => `#${f.iteration} ${f.request.method} ${cut(f.request.url, 200)}: ${f.why}`)).toEqual([]);
    expect(inconsistent).toEqual([]);
    // 3000 requests, each write followed by a store hash: ~75 s alone, ~110 s beside the other suites in CI
  }, 300_000);
});
