import type { TermMap } from '../../src/ngsi-ld/context/types';
import {
  LIMITS, isDateTime, isUri, parseAttribute, parseAttributes, parseEntity, parseFragment, parseScope,
  type ParseOptions,
} from '../../src/ngsi-ld/entity/parse';
import { NgsiError } from '../../src/ngsi-ld/errors';
import {
  LOCATION, NGSI_LD_NULL, OBSERVATION_SPACE, type AttributeInstance,
} from '../../src/ngsi-ld/types';

// --- a tiny TermMap: default-context terms plus a few explicit ones ----------------------------

const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';
const SAREF = 'https://saref.etsi.org/core/';
const EXPLICIT: Record<string, string> = {
  Sensor: SAREF + 'Sensor',
  temperature: SAREF + 'temperature',
  location: LOCATION,
  observationSpace: OBSERVATION_SPACE,
};
const tm: TermMap = {
  expand: (term) => (Object.hasOwn(EXPLICIT, term) ? EXPLICIT[term] : term.includes(':') ? term : DEFAULT + term),
  compact: (iri) => iri,
  context: 'https://example.org/ctx.jsonld',
  key: 'test',
};

const POINT = { type: 'Point', coordinates: [9.85, 46.27] };
const ID = 'urn:ngsi-ld:Sensor:s1';
const AT = '2024-05-01T10:00:00Z';

const attr = (raw: unknown, opts?: ParseOptions): AttributeInstance[] => parseAttribute('a', raw, tm, 'a', opts);
const one = (raw: unknown, opts?: ParseOptions): AttributeInstance => {
  const instances = attr(raw, opts);
  expect(instances).toHaveLength(1);
  return instances[0];
};

/** Runs fn, expects a 400 BadRequestData, returns its detail. */
function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NgsiError);
    const e = err as NgsiError;
    expect([e.problemType, e.status]).toEqual(['BadRequestData', 400]);
    return e.detail;
  }
  throw new Error('expected a BadRequestData error, got none');
}

/** Nests `levels` Property sub-attributes named n1, n2, ... under an attribute. */
function nested(levels: number): Record<string, unknown> {
  let inner: Record<string, unknown> = { value: 1 };
  for (let i = levels; i >= 1; i--) inner = { value: i, [`n${i}`]: inner };
  return inner;
}

// -----------------------------------------------------------------------------------------------

describe('isUri', () => {
  it.each([
    ['urn:ngsi-ld:Sensor:1', true],
    ['https://example.org/a?b=c#d', true],
    ['a:b', true],
    ['x+y.z-w:rest', true],
    ['no-scheme', false],
    ['1abc:rest', false],
    [':rest', false],
    ['urn:', false],
    ['urn:has space', false],
    ['urn:tab\there', false],
    ['urn:<angle>', false],
    ['urn:"quote"', false],
    ['urn:' + 'a'.repeat(LIMITS.uriLength - 4), true],
    ['urn:' + 'a'.repeat(LIMITS.uriLength - 3), false],
  ])('%j → %s', (s, ok) => expect(isUri(s)).toBe(ok));
});

describe('isDateTime', () => {
  it.each([
    ['2024-05-01T10:00:00Z', true],
    ['2024-05-01T10:00:00.123Z', true],
    ['2024-05-01T10:00:00.123456789+02:00', true],
    ['2024-02-29T00:00:00Z', true],
    ['2023-02-29T00:00:00Z', false],
    ['2023-02-30T00:00:00Z', false],
    ['2023-13-01T00:00:00Z', false],
    ['2023-01-01T24:00:00Z', false],
    ['2023-01-01T23:60:00Z', false],
    ['2023-01-01T10:00:00', false],
    ['2023-01-01', false],
    ['2023-01-01 10:00:00Z', false],
    ['yesterday', false],
  ])('%j → %s', (s, ok) => expect(isDateTime(s)).toBe(ok));
});

describe('parseAttribute: normalized form', () => {
  it.each<[string, Record<string, unknown>, AttributeInstance]>([
    ['Property with members', { type: 'Property', value: 23, unitCode: 'CEL', observedAt: AT },
      { type: 'Property', value: 23, unitCode: 'CEL', observedAt: AT }],
    ['Property with a falsy value', { type: 'Property', value: 0 }, { type: 'Property', value: 0 }],
    ['Property with a compound value', { type: 'Property', value: { street: 'Via Roma', n: [1, 2] } },
      { type: 'Property', value: { street: 'Via Roma', n: [1, 2] } }],
    ['Property whose value looks like GeoJSON stays a Property', { type: 'Property', value: POINT },
      { type: 'Property', value: POINT }],
    ['Relationship', { type: 'Relationship', object: 'urn:ngsi-ld:Building:b1', objectType: 'Building' },
      { type: 'Relationship', object: 'urn:ngsi-ld:Building:b1', objectType: DEFAULT + 'Building' }],
    ['Relationship to several objects', { type: 'Relationship', object: ['urn:a:1', 'urn:a:2'] },
      { type: 'Relationship', object: ['urn:a:1', 'urn:a:2'] }],
    ['GeoProperty', { type: 'GeoProperty', value: POINT }, { type: 'GeoProperty', value: POINT }],
    ['LanguageProperty', { type: 'LanguageProperty', languageMap: { it: 'Sondrio', en: ['a', 'b'], '@none': 'x' } },
      { type: 'LanguageProperty', languageMap: { it: 'Sondrio', en: ['a', 'b'], '@none': 'x' } }],
    ['VocabProperty (one term, expanded)', { type: 'VocabProperty', vocab: 'Lake' }, { type: 'VocabProperty', vocab: DEFAULT + 'Lake' }],
    ['VocabProperty (terms, expanded)', { type: 'VocabProperty', vocab: ['Lake', 'https://ex.org/River'] },
      { type: 'VocabProperty', vocab: [DEFAULT + 'Lake', 'https://ex.org/River'] }],
    ['JsonProperty (kept as is)', { type: 'JsonProperty', json: { '@context': 'kept', type: 'Foo', a: [1] } },
      { type: 'JsonProperty', json: { '@context': 'kept', type: 'Foo', a: [1] } }],
    ['JsonProperty with an array', { type: 'JsonProperty', json: [1, 'x'] }, { type: 'JsonProperty', json: [1, 'x'] }],
    ['ListProperty', { type: 'ListProperty', valueList: [1, 'two', { three: 3 }], unitCode: 'MTR' },
      { type: 'ListProperty', valueList: [1, 'two', { three: 3 }], unitCode: 'MTR' }],
    ['ListRelationship (normalized items)', { type: 'ListRelationship', objectList: [{ object: 'urn:a:1' }, { object: 'urn:a:2' }] },
      { type: 'ListRelationship', objectList: [{ object: 'urn:a:1' }, { object: 'urn:a:2' }] }],
    ['ListRelationship (concise items)', { type: 'ListRelationship', objectList: ['urn:a:1'], objectType: 'https://ex.org/T' },
      { type: 'ListRelationship', objectList: [{ object: 'urn:a:1' }], objectType: 'https://ex.org/T' }],
    ['datasetId', { type: 'Property', value: 1, datasetId: 'urn:ngsi-ld:Dataset:a' },
      { type: 'Property', value: 1, datasetId: 'urn:ngsi-ld:Dataset:a' }],
    ['system and output-only members are dropped',
      { type: 'Property', value: 1, createdAt: AT, modifiedAt: AT, deletedAt: AT, instanceId: 'urn:x', previousValue: 0, lang: 'it' },
      { type: 'Property', value: 1 }],
  ])('%s', (_name, raw, expected) => expect(one(raw)).toEqual(expected));
});

describe('parseAttribute: concise form', () => {
  it.each<[string, unknown, AttributeInstance]>([
    ['number', 23, { type: 'Property', value: 23 }],
    ['string', 'open', { type: 'Property', value: 'open' }],
    ['boolean', false, { type: 'Property', value: false }],
    ['array of values', [1, 2], { type: 'Property', value: [1, 2] }],
    ['empty array', [], { type: 'Property', value: [] }],
    ['plain object', { street: 'Via Roma' }, { type: 'Property', value: { street: 'Via Roma' } }],
    ['object with a non-kind type and no members', { type: 'Feature', properties: {} },
      { type: 'Property', value: { type: 'Feature', properties: {} } }],
    ['geometry type without coordinates is not GeoJSON', { type: 'Point' }, { type: 'Property', value: { type: 'Point' } }],
    ['bare GeoJSON geometry', POINT, { type: 'GeoProperty', value: POINT }],
    ['bare GeometryCollection', { type: 'GeometryCollection', geometries: [POINT] },
      { type: 'GeoProperty', value: { type: 'GeometryCollection', geometries: [POINT] } }],
    ['{value}', { value: 23, unitCode: 'CEL' }, { type: 'Property', value: 23, unitCode: 'CEL' }],
    ['{value: geometry}', { value: POINT, observedAt: AT }, { type: 'GeoProperty', value: POINT, observedAt: AT }],
    ['{object}', { object: 'urn:a:1' }, { type: 'Relationship', object: 'urn:a:1' }],
    ['{languageMap}', { languageMap: { it: 'lago' } }, { type: 'LanguageProperty', languageMap: { it: 'lago' } }],
    ['{vocab}', { vocab: 'Lake' }, { type: 'VocabProperty', vocab: DEFAULT + 'Lake' }],
    ['{json}', { json: { a: 1 } }, { type: 'JsonProperty', json: { a: 1 } }],
    ['{valueList}', { valueList: [3, 1] }, { type: 'ListProperty', valueList: [3, 1] }],
    ['{objectList}', { objectList: ['urn:a:1'] }, { type: 'ListRelationship', objectList: [{ object: 'urn:a:1' }] }],
  ])('%s', (_name, raw, expected) => expect(one(raw)).toEqual(expected));
});

describe('parseAttribute: sub-attributes', () => {
  it('parses sub-attributes of every form under their expanded names, recursively', () => {
    expect(one({
      type: 'Property',
      value: 23,
      accuracy: { type: 'Property', value: 0.1, unitCode: 'CEL' },
      providedBy: { object: 'urn:ngsi-ld:Device:d1', since: '2020' },
      temperature: 5,
      'https://ex.org/full': { vocab: 'Good' },
    })).toEqual({
      type: 'Property',
      value: 23,
      [DEFAULT + 'accuracy']: { type: 'Property', value: 0.1, unitCode: 'CEL' },
      [DEFAULT + 'providedBy']: {
        type: 'Relationship', object: 'urn:ngsi-ld:Device:d1', [DEFAULT + 'since']: { type: 'Property', value: '2020' },
      },
      [SAREF + 'temperature']: { type: 'Property', value: 5 },
      'https://ex.org/full': { type: 'VocabProperty', vocab: DEFAULT + 'Good' },
    });
  });

  it(`allows nesting down to ${LIMITS.depth} levels`, () => {
    expect(() => one(nested(LIMITS.depth - 1))).not.toThrow();
  });

  it('refuses deeper nesting, naming the path', () => {
    expect(badRequest(() => one(nested(LIMITS.depth)))).toBe(
      `attribute 'a.n1.n2.n3.n4.n5.n6.n7.n8': sub-attributes must not nest deeper than ${LIMITS.depth} levels`,
    );
  });

  it('names the sub-attribute path and IRI in errors', () => {
    expect(badRequest(() => one({ value: 1, accuracy: { type: 'Property' } }))).toBe(
      `attribute 'a.accuracy' (${DEFAULT}accuracy): a Property must have a 'value'`,
    );
  });

  it('refuses a sub-attribute given twice (term and IRI)', () => {
    expect(badRequest(() => one({ value: 1, accuracy: 1, [DEFAULT + 'accuracy']: 2 }))).toMatch(/given twice/);
  });

  it('refuses several instances of a sub-attribute', () => {
    expect(badRequest(() => one({ value: 1, s: [{ value: 1, datasetId: 'urn:d:1' }, { value: 2 }] }))).toMatch(
      /attribute 'a.s' .*: a sub-attribute has a single instance/,
    );
  });

  it('treats keys named like Object.prototype members as sub-attributes', () => {
    expect(one({ value: 1, toString: 2 })).toEqual({ type: 'Property', value: 1, [DEFAULT + 'toString']: { type: 'Property', value: 2 } });
  });
});

describe('parseAttribute: multi-attributes (datasetId)', () => {
  it('parses an array of objects as instances', () => {
    expect(attr([
      { type: 'Property', value: 1 },
      { value: 2, datasetId: 'urn:ngsi-ld:Dataset:b' },
      { object: 'urn:a:1', datasetId: 'urn:ngsi-ld:Dataset:c' },
    ])).toEqual([
      { type: 'Property', value: 1 },
      { type: 'Property', value: 2, datasetId: 'urn:ngsi-ld:Dataset:b' },
      { type: 'Relationship', object: 'urn:a:1', datasetId: 'urn:ngsi-ld:Dataset:c' },
    ]);
  });

  it.each<[string, unknown, RegExp]>([
    ['two instances without datasetId', [{ value: 1 }, { value: 2 }], /at most one instance may be without 'datasetId'/],
    ['a datasetId twice', [{ value: 1, datasetId: 'urn:d:1' }, { value: 2, datasetId: 'urn:d:1' }],
      /datasetId 'urn:d:1' is used by more than one instance/],
    ['a non-object instance', [{ value: 1 }, 5], /attribute 'a\[1\]' .*: an instance must be an object, not 5/],
    ['an invalid instance', [{ value: 1, datasetId: 'urn:d:1' }, { type: 'Property' }], /attribute 'a\[1\]' .*must have a 'value'/],
    ['an invalid datasetId', [{ value: 1, datasetId: 'not a uri' }], /'datasetId': "not a uri" is not a valid URI/],
    ['too many instances', Array.from({ length: LIMITS.instances + 1 }, (_, i) => ({ value: i, datasetId: `urn:d:${i}` })),
      new RegExp(`more than ${LIMITS.instances} instances`)],
  ])('refuses %s', (_name, raw, detail) => expect(badRequest(() => attr(raw))).toMatch(detail));
});

describe('parseAttribute: errors', () => {
  const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
  it.each<[string, unknown, RegExp]>([
    ['null', null, /^attribute 'a' \(.*\/a\): must not be null$/],
    ['missing value', { type: 'Property' }, /^attribute 'a' \(https:\/\/uri.etsi.org\/ngsi-ld\/default-context\/a\): a Property must have a 'value'$/],
    ['null value', { type: 'Property', value: null }, /'value': must not be null/],
    ['NGSI-LD Null outside merge', { type: 'Property', value: NGSI_LD_NULL }, /NGSI-LD Null .* only allowed in merge and update/],
    ['NGSI-LD Null concise outside merge', NGSI_LD_NULL, /NGSI-LD Null/],
    ['members without a value', { unitCode: 'CEL', vlaue: 3 }, /a Property must have a 'value'/],
    ['unknown type with a value', { type: 'Propertee', value: 1 }, /unknown attribute type "Propertee"; expected one of Property, /],
    ['two value members', { value: 1, object: 'urn:a:1' }, /has 'value' and 'object': give one of them, or a 'type'/],
    ["another kind's member", { type: 'Property', value: 1, object: 'urn:a:1' }, /a Property has no 'object' \(its value member is 'value'\)/],
    ['Relationship without object', { type: 'Relationship' }, /a Relationship must have a 'object'/],
    ['Relationship to a non-URI', { type: 'Relationship', object: 'Building 1' }, /'object': "Building 1" is not a valid URI/],
    ['Relationship to a number', { object: 5 }, /'object': must be a URI string, not 5/],
    ['Relationship to an empty list', { object: [] }, /'object': must be a URI or a non-empty array/],
    ['GeoProperty with a bad geometry', { type: 'GeoProperty', value: { type: 'Point', coordinates: [200, 0] } },
      /'value': invalid GeoJSON geometry: coordinates\[0\] \(longitude\)/],
    ['GeoProperty with a non-geometry', { type: 'GeoProperty', value: 'here' }, /invalid GeoJSON geometry/],
    ['concise geometry with bad coordinates', { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [0, 0]]] }, /invalid GeoJSON geometry/],
    ['languageMap not an object', { languageMap: 'lago' }, /'languageMap': must be an object of language tag/],
    ['languageMap with a bad tag', { languageMap: { 'it IT': 'lago' } }, /"it IT" is not a language tag/],
    ['languageMap with a non-string', { languageMap: { it: 5 } }, /the text for 'it' must be a string/],
    ['vocab not a string', { vocab: 5 }, /'vocab': must be a vocabulary term or an array of them, not 5/],
    ['vocab with a bad term', { vocab: 'a b' }, /must not contain " "/],
    ['json null', { type: 'JsonProperty', json: null }, /'json': must not be null/],
    ['JsonProperty without json', { type: 'JsonProperty' }, /a JsonProperty must have a 'json'/],
    ['valueList not an array', { valueList: 5 }, /'valueList': must be an array, not 5/],
    ['objectList not an array', { objectList: 'urn:a:1' }, /'objectList': must be an array/],
    ['objectList with a non-URI', { objectList: [{ object: 'x' }] }, /'objectList': "x" is not a valid URI/],
    ['bad observedAt', { value: 1, observedAt: 'yesterday' }, /'observedAt' must be an ISO 8601 date-time, not "yesterday"/],
    ['impossible observedAt', { value: 1, observedAt: '2023-02-30T00:00:00Z' }, /'observedAt' must be an ISO 8601/],
    ['bad unitCode', { value: 1, unitCode: 5 }, /'unitCode' must be a non-empty string, not 5/],
    ['objectType on a Property', { value: 1, objectType: 'T' }, /a Property has no 'objectType'/],
    ['objectType not a string', { object: 'urn:a:1', objectType: ['T'] }, /'objectType' must be a type name, not an array/],
    ['a too deep value', { value: deep(LIMITS.valueDepth + 1) }, new RegExp(`must not nest deeper than ${LIMITS.valueDepth} levels`)],
    ['a too long string', 'x'.repeat(LIMITS.stringLength + 1), new RegExp(`strings must not be longer than ${LIMITS.stringLength}`)],
  ])('refuses %s', (_name, raw, detail) => expect(badRequest(() => attr(raw))).toMatch(detail));

  it.each([['a b', ' '], ['a<b', '<'], ['a>b', '>'], ['a"b', '"'], ["a'b", "'"], ['a=b', '='], ['a;b', ';'], ['a(b', '('], ['a)b', ')'], ['a\nb', '\n']])(
    'refuses the sub-attribute name %j',
    (name, char) => expect(badRequest(() => one({ value: 1, [name]: 1 }))).toContain(`must not contain ${JSON.stringify(char)}`),
  );

  it('refuses empty, too long and keyword names', () => {
    expect(badRequest(() => one({ value: 1, '': 1 }))).toMatch(/must not be empty/);
    expect(badRequest(() => one({ value: 1, ['n'.repeat(LIMITS.nameLength + 1)]: 1 }))).toMatch(/longer than 256/);
    expect(badRequest(() => one({ value: 1, '@id': 1 }))).toMatch(/JSON-LD keywords are not names/);
  });

  it('names the attribute by its path and IRI', () => {
    expect(badRequest(() => parseAttribute('temperature', { type: 'Property' }, tm))).toBe(
      `attribute 'temperature' (${SAREF}temperature): a Property must have a 'value'`,
    );
    expect(badRequest(() => parseAttribute('temperature', { type: 'Property' }, tm, 'body'))).toBe(
      `attribute 'body' (${SAREF}temperature): a Property must have a 'value'`,
    );
  });
});

describe('parseAttribute: geospatial attribute names', () => {
  it.each([
    ['location', POINT],
    ['location', { value: POINT }],
    ['location', { type: 'GeoProperty', value: POINT }],
    ['observationSpace', POINT],
  ])('accepts %s as a GeoProperty (%j)', (name, raw) => {
    expect(parseAttribute(name, raw, tm)).toEqual([expect.objectContaining({ type: 'GeoProperty', value: POINT })]);
  });

  it.each<[string, unknown]>([
    ['location', 'Lanzada'],
    ['location', { type: 'Property', value: POINT }],
    ['observationSpace', { object: 'urn:a:1' }],
    [LOCATION, { value: 5 }],
  ])('refuses %s as anything else (%j)', (name, raw) => {
    expect(badRequest(() => parseAttribute(name, raw, tm))).toMatch(/must be a GeoProperty, not a (Property|Relationship)$/);
  });

  it('applies to sub-attributes too', () => {
    expect(badRequest(() => one({ value: 1, location: 'here' }))).toMatch(/attribute 'a.location' .*must be a GeoProperty/);
  });
});

describe('parse options: allowNull (merge and update)', () => {
  const opts = { allowNull: true };
  it.each<[string, unknown, AttributeInstance]>([
    ['JSON null attribute', null, { type: 'Property', value: NGSI_LD_NULL }],
    ['concise NGSI-LD Null', NGSI_LD_NULL, { type: 'Property', value: NGSI_LD_NULL }],
    ['normalized NGSI-LD Null', { type: 'Property', value: NGSI_LD_NULL }, { type: 'Property', value: NGSI_LD_NULL }],
    ['Relationship NGSI-LD Null', { object: NGSI_LD_NULL }, { type: 'Relationship', object: NGSI_LD_NULL }],
    ['LanguageProperty NGSI-LD Null', { type: 'LanguageProperty', languageMap: NGSI_LD_NULL },
      // a deletion marker is the one place a value member holds NGSI-LD Null whatever its kind
      { type: 'LanguageProperty', languageMap: NGSI_LD_NULL } as unknown as AttributeInstance],
    ['VocabProperty NGSI-LD Null is not expanded', { vocab: NGSI_LD_NULL }, { type: 'VocabProperty', vocab: NGSI_LD_NULL }],
    ['NGSI-LD Null members and sub-attributes',
      { value: 1, observedAt: NGSI_LD_NULL, unitCode: NGSI_LD_NULL, accuracy: NGSI_LD_NULL },
      { type: 'Property', value: 1, observedAt: NGSI_LD_NULL, unitCode: NGSI_LD_NULL, [DEFAULT + 'accuracy']: { type: 'Property', value: NGSI_LD_NULL } }],
    ['a datasetId with NGSI-LD Null', { value: NGSI_LD_NULL, datasetId: 'urn:d:1' }, { type: 'Property', value: NGSI_LD_NULL, datasetId: 'urn:d:1' }],
  ])('keeps %s as a deletion marker', (_name, raw, expected) => expect(one(raw, opts)).toEqual(expected));

  it('still refuses a null value member, a missing value and an NGSI-LD Null datasetId', () => {
    expect(badRequest(() => one({ value: 1, datasetId: NGSI_LD_NULL }, opts))).toMatch(/'datasetId' must not be NGSI-LD Null/);
    expect(badRequest(() => one({ type: 'Property', value: null }, opts))).toMatch(/must not be null/);
    expect(badRequest(() => one({ type: 'Property' }, opts))).toMatch(/must have a 'value'/);
  });

  it('accepts NGSI-LD Null for location (deleting it)', () => {
    expect(parseAttribute('location', NGSI_LD_NULL, tm, 'location', opts)).toEqual([{ type: 'Property', value: NGSI_LD_NULL }]);
  });
});

describe('parse options: partial (merge-patch and partial attribute update)', () => {
  const opts = { partial: true, allowNull: true };
  it.each<[string, unknown, AttributeInstance]>([
    ['members only', { observedAt: AT }, { type: 'Property', observedAt: AT }],
    ['sub-attributes only', { accuracy: { value: 1 } }, { type: 'Property', [DEFAULT + 'accuracy']: { type: 'Property', value: 1 } }],
    ['a sub-attribute fragment', { accuracy: { unitCode: 'CEL' } },
      { type: 'Property', [DEFAULT + 'accuracy']: { type: 'Property', unitCode: 'CEL' } }],
    ['a typed fragment', { type: 'Relationship', observedAt: AT }, { type: 'Relationship', observedAt: AT }],
    ['a value still makes a whole attribute', { value: 5 }, { type: 'Property', value: 5 }],
    ['a bare value still is a Property', 5, { type: 'Property', value: 5 }],
  ])('accepts %s', (_name, raw, expected) => expect(one(raw, opts)).toEqual(expected));

  it('accepts a value-less fragment of location', () => {
    expect(parseAttribute('location', { observedAt: AT }, tm, 'location', opts)).toEqual([{ type: 'Property', observedAt: AT }]);
  });
});

// -----------------------------------------------------------------------------------------------

describe('parseEntity', () => {
  it('parses a whole entity: id, expanded types, scope, attributes; ignores @context and system members', () => {
    expect(parseEntity({
      '@context': 'https://example.org/ctx.jsonld',
      id: ID,
      type: 'Sensor',
      scope: ['/Valmalenco/Water', '/Lanzada'],
      createdAt: AT,
      modifiedAt: AT,
      temperature: { type: 'Property', value: 21.5, unitCode: 'CEL' },
      location: POINT,
      name: 'Sensor 1',
    }, tm)).toEqual({
      id: ID,
      type: [SAREF + 'Sensor'],
      scope: ['/Valmalenco/Water', '/Lanzada'],
      attrs: {
        [SAREF + 'temperature']: [{ type: 'Property', value: 21.5, unitCode: 'CEL' }],
        [LOCATION]: [{ type: 'GeoProperty', value: POINT }],
        [DEFAULT + 'name']: [{ type: 'Property', value: 'Sensor 1' }],
      },
    });
  });

  it('expands and de-duplicates several types', () => {
    expect(parseEntity({ id: ID, type: ['Sensor', SAREF + 'Sensor', 'Device'] }, tm).type).toEqual([SAREF + 'Sensor', DEFAULT + 'Device']);
  });

  it('has an empty type list when the type is optional and missing', () => {
    expect(parseEntity({ id: ID }, tm, { requireType: false })).toEqual({ id: ID, type: [], attrs: {} });
  });

  it.each<[string, unknown, string | RegExp]>([
    ['a non-object body', [], 'request body: must be a JSON object, not an array'],
    ['a null body', null, 'request body: must be a JSON object, not null'],
    ['a missing id', { type: 'Sensor' }, "entity: must have an 'id'"],
    ['a non-string id', { id: 5, type: 'Sensor' }, "entity 'id': must be a URI string, not 5"],
    ['an id without scheme', { id: 'sensor1', type: 'Sensor' }, /^entity 'id': "sensor1" is not a valid URI/],
    ['an id with a space', { id: 'urn:a b', type: 'Sensor' }, /is not a valid URI/],
    ['a too long id', { id: 'urn:' + 'a'.repeat(LIMITS.uriLength), type: 'Sensor' }, /at most 256 characters/],
    ['a missing type', { id: ID }, "entity: must have a 'type'"],
    ['an empty type list', { id: ID, type: [] }, "entity 'type': must be a type name or a non-empty array of them"],
    ['a non-string type', { id: ID, type: ['Sensor', 5] }, "entity 'type': must be a type name or an array of them, not 5"],
    ['a bad type name', { id: ID, type: 'Sensor 1' }, `entity 'type' "Sensor 1": a name must not contain " "`],
    ['a bad scope', { id: ID, type: 'Sensor', scope: 'Valmalenco' }, /"Valmalenco" is not a scope/],
    ['a bad attribute name', { id: ID, type: 'Sensor', 'bad name': 1 }, `attribute 'bad name': a name must not contain " "`],
    ['an attribute given twice', { id: ID, type: 'Sensor', temperature: 1, [SAREF + 'temperature']: 2 },
      `attribute '${SAREF}temperature' (${SAREF}temperature): given twice (as a term and as an IRI)`],
    ['an invalid attribute', { id: ID, type: 'Sensor', temperature: { type: 'Property' } },
      `attribute 'temperature' (${SAREF}temperature): a Property must have a 'value'`],
  ])('refuses %s', (_name, body, detail) => {
    const got = badRequest(() => parseEntity(body, tm));
    if (typeof detail === 'string') expect(got).toBe(detail);
    else expect(got).toMatch(detail);
  });

  it(`refuses more than ${LIMITS.attributes} attributes`, () => {
    const body: Record<string, unknown> = { id: ID, type: 'Sensor' };
    for (let i = 0; i < LIMITS.attributes; i++) body[`a${i}`] = i;
    expect(Object.keys(parseEntity(body, tm).attrs)).toHaveLength(LIMITS.attributes);
    body.oneMore = 1;
    expect(badRequest(() => parseEntity(body, tm))).toBe(`entity: must not have more than ${LIMITS.attributes} attributes`);
  });

  it('passes the options on to attributes', () => {
    expect(parseEntity({ id: ID, type: 'Sensor', temperature: null, scope: NGSI_LD_NULL }, tm, { allowNull: true })).toEqual({
      id: ID, type: [SAREF + 'Sensor'], scope: [], attrs: { [SAREF + 'temperature']: [{ type: 'Property', value: NGSI_LD_NULL }] },
    });
    expect(badRequest(() => parseEntity({ id: ID, type: 'Sensor', temperature: null }, tm))).toMatch(/must not be null/);
  });
});

describe('parseFragment and parseAttributes', () => {
  it('parseFragment returns what is there', () => {
    expect(parseFragment({ temperature: 1 }, tm)).toEqual({ attrs: { [SAREF + 'temperature']: [{ type: 'Property', value: 1 }] } });
    expect(parseFragment({ id: ID, type: 'Sensor', scope: '/a' }, tm)).toEqual({ id: ID, type: [SAREF + 'Sensor'], scope: ['/a'], attrs: {} });
  });

  it('parseAttributes drops id, type and scope but still validates them', () => {
    expect(parseAttributes({ id: ID, type: 'Sensor', scope: '/a', temperature: 1 }, tm)).toEqual({
      [SAREF + 'temperature']: [{ type: 'Property', value: 1 }],
    });
    expect(badRequest(() => parseAttributes({ id: 'nope', temperature: 1 }, tm))).toMatch(/^entity 'id'/);
  });

  it('parseAttributes refuses a non-object body', () => {
    expect(badRequest(() => parseAttributes('x', tm))).toBe('request body: must be a JSON object, not "x"');
  });
});

describe('parseScope', () => {
  it.each<[unknown, string[]]>([
    ['/Valmalenco', ['/Valmalenco']],
    ['/Valmalenco/Water/Lake-Palù_1', ['/Valmalenco/Water/Lake-Palù_1']],
    [['/a', '/b', '/a'], ['/a', '/b']],
    [[], []],
  ])('%j → %j', (raw, expected) => expect(parseScope(raw)).toEqual(expected));

  it.each<[unknown, RegExp]>([
    ['Valmalenco', /is not a scope/],
    ['/', /is not a scope/],
    ['/a//b', /is not a scope/],
    ['/a/', /is not a scope/],
    ['/a/#', /is not a scope/],
    ['/a+b', /is not a scope/],
    ['/a b', /is not a scope/],
    ['/a;b', /is not a scope/],
    [5, /must be a scope or an array of them, not 5/],
    ['/' + 'a'.repeat(LIMITS.nameLength), /longer than 256/],
    [NGSI_LD_NULL, /is not a scope/],
  ])('refuses %j', (raw, detail) => expect(badRequest(() => parseScope(raw))).toMatch(detail));

  it('reads NGSI-LD Null as no scope when allowed', () => {
    expect(parseScope(NGSI_LD_NULL, { allowNull: true })).toEqual([]);
  });
});
