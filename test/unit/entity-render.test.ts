import type { TermMap } from '../../src/ngsi-ld/context/types';
import {
  isEmpty, parseProjection, projectionAttributeNames, type Projection,
} from '../../src/ngsi-ld/entity/projection';
import {
  renderEntities, renderEntity, renderGeoJson, renderGeoJsonFeature, renderTypeName, type RenderOptions,
} from '../../src/ngsi-ld/entity/render';
import { NgsiError } from '../../src/ngsi-ld/errors';
import { LOCATION, type AttributeInstance, type AttributeKind, type Entity, type Format } from '../../src/ngsi-ld/types';

// --- a tiny TermMap: default-context terms plus a few explicit ones ----------------------------

const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';
const SDM = 'https://smartdatamodels.org/dataModel.Building/';
const EXPLICIT: Record<string, string> = {
  Building: SDM + 'Building',
  category: SDM + 'category',
  commercial: SDM + 'commercial',
  location: LOCATION,
};
const REVERSE = Object.fromEntries(Object.entries(EXPLICIT).map(([term, iri]) => [iri, term]));
const tm: TermMap = {
  expand: (term) => EXPLICIT[term] ?? (term.includes(':') ? term : DEFAULT + term),
  compact: (iri) => REVERSE[iri] ?? (iri.startsWith(DEFAULT) ? iri.slice(DEFAULT.length) : iri),
  context: 'https://example.org/ctx.jsonld',
  key: 'test',
};
const x = (term: string) => tm.expand(term);

const POINT = { type: 'Point', coordinates: [9.85, 46.27] };
const ID = 'urn:ngsi-ld:Building:b1';

function entity(attrs: Record<string, AttributeInstance | AttributeInstance[]>, more: Partial<Entity> = {}): Entity {
  return {
    id: ID,
    type: [x('Building')],
    attrs: Object.fromEntries(
      Object.entries(attrs).map(([name, inst]) => [x(name), Array.isArray(inst) ? inst : [inst]]),
    ),
    ...more,
  };
}

/** The rendering of attribute `a` of an entity that has only that attribute. */
function renderOne(inst: AttributeInstance | AttributeInstance[], opts: RenderOptions): unknown {
  return renderEntity(entity({ a: inst }), tm, opts).a;
}

// --- the eight attribute kinds × three formats -------------------------------------------------

type Case = { instance: AttributeInstance } & Record<Format, unknown>;

const KINDS: Record<AttributeKind, Case> = {
  Property: {
    instance: { type: 'Property', value: 21.5 },
    normalized: { type: 'Property', value: 21.5 },
    concise: 21.5,
    keyValues: 21.5,
  },
  Relationship: {
    instance: { type: 'Relationship', object: 'urn:ngsi-ld:Building:b2' },
    normalized: { type: 'Relationship', object: 'urn:ngsi-ld:Building:b2' },
    concise: { object: 'urn:ngsi-ld:Building:b2' },
    keyValues: 'urn:ngsi-ld:Building:b2',
  },
  GeoProperty: {
    instance: { type: 'GeoProperty', value: POINT },
    normalized: { type: 'GeoProperty', value: POINT },
    concise: POINT,
    keyValues: POINT,
  },
  LanguageProperty: {
    instance: { type: 'LanguageProperty', languageMap: { en: 'Barn', it: 'Fienile' } },
    normalized: { type: 'LanguageProperty', languageMap: { en: 'Barn', it: 'Fienile' } },
    concise: { languageMap: { en: 'Barn', it: 'Fienile' } },
    keyValues: { languageMap: { en: 'Barn', it: 'Fienile' } },
  },
  VocabProperty: {
    instance: { type: 'VocabProperty', vocab: [SDM + 'commercial', DEFAULT + 'barn'] },
    normalized: { type: 'VocabProperty', vocab: ['commercial', 'barn'] },
    concise: { vocab: ['commercial', 'barn'] },
    keyValues: { vocab: ['commercial', 'barn'] },
  },
  JsonProperty: {
    instance: { type: 'JsonProperty', json: { type: 'raw', list: [1, { a: null }] } },
    normalized: { type: 'JsonProperty', json: { type: 'raw', list: [1, { a: null }] } },
    concise: { json: { type: 'raw', list: [1, { a: null }] } },
    keyValues: { json: { type: 'raw', list: [1, { a: null }] } },
  },
  ListProperty: {
    instance: { type: 'ListProperty', valueList: [3, 1, 2] },
    normalized: { type: 'ListProperty', valueList: [3, 1, 2] },
    concise: { valueList: [3, 1, 2] },
    keyValues: { valueList: [3, 1, 2] },
  },
  ListRelationship: {
    instance: { type: 'ListRelationship', objectList: [{ object: 'urn:a' }, { object: 'urn:b' }] },
    normalized: { type: 'ListRelationship', objectList: [{ object: 'urn:a' }, { object: 'urn:b' }] },
    concise: { objectList: ['urn:a', 'urn:b'] },
    keyValues: { objectList: ['urn:a', 'urn:b'] },
  },
};
const FORMATS: Format[] = ['normalized', 'concise', 'keyValues'];

describe('attribute kinds × formats', () => {
  const table = Object.entries(KINDS).flatMap(([kind, c]) =>
    FORMATS.map((format) => [kind, format, c.instance, c[format]] as const),
  );

  test.each(table)('%s as %s', (_kind, format, instance, expected) => {
    const out = renderOne(instance, { format });
    expect(out).toEqual(expected);
    expect(JSON.parse(JSON.stringify(out))).toEqual(expected);
  });

  test('every kind is covered', () => {
    expect(Object.keys(KINDS).sort()).toEqual(
      ['GeoProperty', 'JsonProperty', 'LanguageProperty', 'ListProperty', 'ListRelationship',
        'Property', 'Relationship', 'VocabProperty'],
    );
  });
});

// --- entity members ----------------------------------------------------------------------------

describe('entity members', () => {
  const e = entity(
    { name: { type: 'Property', value: 'Barn' }, location: { type: 'GeoProperty', value: POINT } },
    { scope: ['/Valmalenco/Water'], createdAt: '2024-01-01T00:00:00Z', modifiedAt: '2024-01-02T00:00:00Z' },
  );

  test('order: id, type, scope, attributes, sysAttrs, @context last', () => {
    const out = renderEntity(e, tm, { format: 'normalized', sysAttrs: true, includeContext: tm.context });
    expect(Object.keys(out)).toEqual(['id', 'type', 'scope', 'name', 'location', 'createdAt', 'modifiedAt', '@context']);
    expect(out).toMatchObject({
      id: ID, type: 'Building', scope: '/Valmalenco/Water', '@context': 'https://example.org/ctx.jsonld',
    });
  });

  test('no sysAttrs, no @context unless asked', () => {
    expect(Object.keys(renderEntity(e, tm, { format: 'normalized' }))).toEqual(['id', 'type', 'scope', 'name', 'location']);
  });

  test('sysAttrs are entity members in keyValues too', () => {
    expect(renderEntity(e, tm, { format: 'keyValues', sysAttrs: true })).toEqual({
      id: ID, type: 'Building', scope: '/Valmalenco/Water', name: 'Barn', location: POINT,
      createdAt: '2024-01-01T00:00:00Z', modifiedAt: '2024-01-02T00:00:00Z',
    });
  });

  test('several types and scopes are arrays; unknown IRIs stay as they are', () => {
    const out = renderEntity(
      entity({ 'https://other.example/p': { type: 'Property', value: 1 } },
        { type: [x('Building'), 'https://other.example/Thing'], scope: ['/a', '/b'] }),
      tm, { format: 'keyValues' },
    );
    expect(out).toEqual({
      id: ID, type: ['Building', 'https://other.example/Thing'], scope: ['/a', '/b'], 'https://other.example/p': 1,
    });
  });

  test('an attribute without instances is left out', () => {
    const out = renderEntity({ id: ID, type: [x('Building')], attrs: { [x('a')]: [] } }, tm, { format: 'normalized' });
    expect(out).toEqual({ id: ID, type: 'Building' });
  });

  test('renderEntities renders each entity like renderEntity', () => {
    const opts: RenderOptions = { format: 'concise', lang: 'it' };
    const list = [e, entity({ n: KINDS.LanguageProperty.instance })];
    expect(renderEntities(list, tm, opts)).toEqual(list.map((one) => renderEntity(one, tm, opts)));
  });

  test('renderTypeName compacts', () => {
    expect(renderTypeName(SDM + 'Building', tm)).toBe('Building');
    expect(renderTypeName(DEFAULT + 'Sensor', tm)).toBe('Sensor');
  });
});

// --- metadata and sub-attributes ---------------------------------------------------------------

describe('metadata and sub-attributes', () => {
  const withMeta: AttributeInstance = {
    type: 'Property',
    value: 21.5,
    observedAt: '2024-05-01T10:00:00Z',
    unitCode: 'CEL',
    createdAt: '2024-01-01T00:00:00Z',
    modifiedAt: '2024-01-02T00:00:00Z',
    [x('accuracy')]: {
      type: 'Property',
      value: 0.1,
      [x('measuredBy')]: { type: 'Relationship', object: 'urn:ngsi-ld:Device:d1', objectType: DEFAULT + 'Device' },
    },
    [x('category')]: { type: 'VocabProperty', vocab: SDM + 'commercial' },
  };

  test('normalized: every member, sub-attributes compacted and recursive', () => {
    expect(renderOne(withMeta, { format: 'normalized' })).toEqual({
      type: 'Property',
      value: 21.5,
      observedAt: '2024-05-01T10:00:00Z',
      unitCode: 'CEL',
      accuracy: {
        type: 'Property', value: 0.1,
        measuredBy: { type: 'Relationship', object: 'urn:ngsi-ld:Device:d1', objectType: 'Device' },
      },
      category: { type: 'VocabProperty', vocab: 'commercial' },
    });
  });

  test('normalized member order is fixed', () => {
    const out = renderOne({ ...withMeta, datasetId: 'urn:ds:1' }, { format: 'normalized', sysAttrs: true }) as object;
    expect(Object.keys(out)).toEqual(
      ['type', 'value', 'datasetId', 'observedAt', 'unitCode', 'accuracy', 'category', 'createdAt', 'modifiedAt'],
    );
  });

  test('concise: no types, sub-attributes concise too', () => {
    expect(renderOne(withMeta, { format: 'concise' })).toEqual({
      value: 21.5,
      observedAt: '2024-05-01T10:00:00Z',
      unitCode: 'CEL',
      accuracy: { value: 0.1, measuredBy: { object: 'urn:ngsi-ld:Device:d1', objectType: 'Device' } },
      category: { vocab: 'commercial' },
    });
  });

  test('keyValues: the value only', () => {
    expect(renderOne(withMeta, { format: 'keyValues', sysAttrs: true })).toBe(21.5);
  });

  test('sysAttrs on attributes and sub-attributes only when asked', () => {
    const inst: AttributeInstance = {
      type: 'Property', value: 1, createdAt: 'c', modifiedAt: 'm',
      [x('sub')]: { type: 'Property', value: 2, createdAt: 'c2' },
    };
    expect(renderOne(inst, { format: 'normalized', sysAttrs: true })).toEqual({
      type: 'Property', value: 1, sub: { type: 'Property', value: 2, createdAt: 'c2' }, createdAt: 'c', modifiedAt: 'm',
    });
    expect(renderOne(inst, { format: 'concise', sysAttrs: true })).toEqual({
      value: 1, sub: { value: 2, createdAt: 'c2' }, createdAt: 'c', modifiedAt: 'm',
    });
    expect(renderOne(inst, { format: 'concise' })).toEqual({ value: 1, sub: 2 });
  });

  test('GeoProperty with metadata keeps its value member in concise', () => {
    expect(renderOne({ type: 'GeoProperty', value: POINT, observedAt: 't' }, { format: 'concise' }))
      .toEqual({ value: POINT, observedAt: 't' });
  });
});

describe('concise stays lossless', () => {
  test.each([
    ['string', 'abc', 'abc'],
    ['array of scalars', [1, 'a', [2]], [1, 'a', [2]]],
    ['plain object', { street: 'Via Roma' }, { street: 'Via Roma' }],
    ['object that looks like GeoJSON', POINT, { value: POINT }],
    ['object with a value member', { value: 3 }, { value: { value: 3 } }],
    ['object with an object member', { object: 'urn:x' }, { value: { object: 'urn:x' } }],
    ['array of objects', [{ a: 1 }], { value: [{ a: 1 }] }],
  ])('Property whose value is a %s', (_what, value, expected) => {
    expect(renderOne({ type: 'Property', value }, { format: 'concise' })).toEqual(expected);
  });
});

// --- multi-instance ----------------------------------------------------------------------------

describe('multi-instance attributes', () => {
  const instances: AttributeInstance[] = [
    { type: 'Property', value: 20 },
    { type: 'Property', value: 21, datasetId: 'urn:ngsi-ld:Dataset:gps' },
  ];

  test('normalized: an array of instances', () => {
    expect(renderOne(instances, { format: 'normalized' })).toEqual([
      { type: 'Property', value: 20 },
      { type: 'Property', value: 21, datasetId: 'urn:ngsi-ld:Dataset:gps' },
    ]);
  });

  test('concise: an array of objects, never bare values', () => {
    expect(renderOne(instances, { format: 'concise' })).toEqual([
      { value: 20 },
      { value: 21, datasetId: 'urn:ngsi-ld:Dataset:gps' },
    ]);
  });

  test('keyValues: a dataset object keyed by datasetId, @none for the default (4.5.4)', () => {
    expect(renderOne(instances, { format: 'keyValues' })).toEqual({
      dataset: { '@none': 20, 'urn:ngsi-ld:Dataset:gps': 21 },
    });
  });

  test('keyValues: a single instance with a datasetId is just its value', () => {
    expect(renderOne(instances[1], { format: 'keyValues' })).toBe(21);
  });
});

// --- language filter ---------------------------------------------------------------------------

describe('lang (4.15)', () => {
  const name: AttributeInstance = {
    type: 'LanguageProperty',
    languageMap: { '@none': 'Baita', en: 'Hut', 'de-CH': 'Hütte CH', it: ['Baita', 'Capanna'] },
  };
  const pick = (lang: string, inst: AttributeInstance = name) =>
    renderOne(inst, { format: 'normalized', lang }) as { value: unknown; lang: string };

  test.each([
    ['en', 'en', 'Hut'],
    ['EN', 'en', 'Hut'],
    ['de-CH', 'de-CH', 'Hütte CH'],
    ['en-GB', 'en', 'Hut'],
    ['fr', '@none', 'Baita'],
    ['fr,en;q=0.5,de-ch;q=0.8', 'de-CH', 'Hütte CH'],
    ['it;q=0,en', 'en', 'Hut'],
    ['*', '@none', 'Baita'],
  ])('lang=%s picks %s', (lang, tag, value) => {
    expect(pick(lang)).toEqual({ type: 'Property', value, lang: tag });
  });

  test('a string array value is kept', () => {
    expect(pick('it').value).toEqual(['Baita', 'Capanna']);
  });

  test('no match and no @none: the first entry', () => {
    expect(pick('fr', { type: 'LanguageProperty', languageMap: { it: 'Baita', en: 'Hut' } }))
      .toEqual({ type: 'Property', value: 'Baita', lang: 'it' });
  });

  test('an empty languageMap is rendered unchanged', () => {
    expect(pick('en', { type: 'LanguageProperty', languageMap: {} }))
      .toEqual({ type: 'LanguageProperty', languageMap: {} });
  });

  test('concise and keyValues', () => {
    expect(renderOne(name, { format: 'concise', lang: 'en' })).toEqual({ value: 'Hut', lang: 'en' });
    expect(renderOne(name, { format: 'keyValues', lang: 'en' })).toBe('Hut');
  });

  test('metadata stays, and sub-attributes are filtered too', () => {
    const inst: AttributeInstance = { ...name, observedAt: 't', [x('alt')]: { type: 'LanguageProperty', languageMap: { en: 'Cabin' } } };
    expect(renderOne(inst, { format: 'normalized', lang: 'en' })).toEqual({
      type: 'Property', value: 'Hut', lang: 'en', observedAt: 't', alt: { type: 'Property', value: 'Cabin', lang: 'en' },
    });
  });

  test('other kinds are untouched', () => {
    expect(renderOne(KINDS.Property.instance, { format: 'normalized', lang: 'en' })).toEqual(KINDS.Property.normalized);
  });
});

// --- projection --------------------------------------------------------------------------------

describe('parseProjection', () => {
  test('nothing given: empty projection', () => {
    const p = parseProjection({}, tm);
    expect(isEmpty(p)).toBe(true);
    expect(projectionAttributeNames(p)).toBeUndefined();
  });

  test('attrs: expanded attribute names that also select entities', () => {
    const p = parseProjection({ attrs: 'name, location' }, tm);
    expect(p).toEqual({
      attrs: new Set([DEFAULT + 'name', LOCATION]), omit: undefined,
      includeId: true, includeType: true, includeScope: true, selectsEntities: true,
    });
    expect(projectionAttributeNames(p)).toEqual([DEFAULT + 'name', LOCATION]);
    expect(isEmpty(p)).toBe(false);
  });

  test('pick: entity members and attributes; does not select entities', () => {
    const p = parseProjection({ pick: 'id,name|category' }, tm);
    expect(p).toEqual({
      attrs: new Set([DEFAULT + 'name', SDM + 'category']),
      includeId: true, includeType: false, includeScope: false, selectsEntities: false,
    });
    expect(projectionAttributeNames(p)).toBeUndefined();
  });

  test('omit: entity members and attributes', () => {
    expect(parseProjection({ omit: 'type,scope,location' }, tm)).toEqual({
      attrs: undefined, omit: new Set([LOCATION]),
      includeId: true, includeType: false, includeScope: false, selectsEntities: false,
    });
  });

  test('attrs with omit', () => {
    const p = parseProjection({ attrs: 'name,location', omit: 'location' }, tm);
    expect(p.attrs).toEqual(new Set([DEFAULT + 'name', LOCATION]));
    expect(p.omit).toEqual(new Set([LOCATION]));
  });

  const rejects = (q: Parameters<typeof parseProjection>[0], problem: string, status: number) => {
    let error: unknown;
    try {
      parseProjection(q, tm);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NgsiError);
    expect(error).toMatchObject({ problemType: problem, status });
  };

  test.each([
    [{ pick: 'a', omit: 'b' }],
    [{ attrs: 'a', pick: 'b' }],
    [{ pick: '' }],
    [{ attrs: 'a,,b' }],
    [{ omit: 'a,' }],
    [{ pick: 'a b' }],
    [{ attrs: 'a;b' }],
    [{ pick: 'a"' }],
    [{ attrs: Array.from({ length: 101 }, (_, i) => `a${i}`).join(',') }],
  ])('%j → 400 BadRequestData', (q) => rejects(q, 'BadRequestData', 400));

  test('100 entries are fine', () => {
    const p = parseProjection({ attrs: Array.from({ length: 100 }, (_, i) => `a${i}`).join(',') }, tm);
    expect(p.attrs?.size).toBe(100);
  });

  test('nested projection → 501 OperationNotSupported', () => {
    rejects({ pick: 'a{b}' }, 'OperationNotSupported', 501);
  });
});

describe('projection in rendering', () => {
  const e = entity(
    { name: { type: 'Property', value: 'Barn' }, location: { type: 'GeoProperty', value: POINT }, height: { type: 'Property', value: 7 } },
    { scope: ['/s'] },
  );
  const render = (q: Parameters<typeof parseProjection>[0], extra: Partial<RenderOptions> = {}) =>
    renderEntity(e, tm, { format: 'keyValues', projection: parseProjection(q, tm), ...extra });

  test('attrs keeps id, type and scope', () => {
    expect(render({ attrs: 'name' })).toEqual({ id: ID, type: 'Building', scope: '/s', name: 'Barn' });
  });

  test('pick keeps only what is listed', () => {
    expect(render({ pick: 'id' })).toEqual({ id: ID });
    expect(render({ pick: 'type,height' })).toEqual({ type: 'Building', height: 7 });
  });

  test('omit drops what is listed', () => {
    expect(render({ omit: 'id,location,scope' })).toEqual({ type: 'Building', name: 'Barn', height: 7 });
  });

  test('sysAttrs and @context are not projected', () => {
    const out = renderEntity({ ...e, createdAt: 'c' }, tm, {
      format: 'keyValues', sysAttrs: true, includeContext: tm.context, projection: parseProjection({ pick: 'id' }, tm),
    });
    expect(out).toEqual({ id: ID, createdAt: 'c', '@context': tm.context });
  });

  test('an unknown attribute name yields no attributes', () => {
    expect(render({ attrs: 'nothing' })).toEqual({ id: ID, type: 'Building', scope: '/s' });
  });

  test('the projection typed by hand works too', () => {
    const p: Projection = { includeId: false, includeType: true, includeScope: true, selectsEntities: false, omit: new Set([LOCATION]) };
    expect(renderEntity(e, tm, { format: 'keyValues', projection: p })).toEqual({ type: 'Building', scope: '/s', name: 'Barn', height: 7 });
  });
});

// --- GeoJSON -----------------------------------------------------------------------------------

describe('GeoJSON (4.5.16, 4.5.17)', () => {
  const AREA = { type: 'Polygon', coordinates: [[[9, 46], [10, 46], [10, 47], [9, 46]]] };
  const e = entity({
    name: { type: 'Property', value: 'Barn' },
    location: { type: 'GeoProperty', value: POINT },
    area: { type: 'GeoProperty', value: AREA, observedAt: 't' },
  });

  test('a Feature: id, type, geometry, properties (entity type + attributes)', () => {
    const f = renderGeoJsonFeature(e, tm, { format: 'keyValues' });
    expect(Object.keys(f)).toEqual(['id', 'type', 'geometry', 'properties']);
    expect(f).toEqual({
      id: ID, type: 'Feature', geometry: POINT,
      properties: { type: 'Building', name: 'Barn', location: POINT, area: AREA },
    });
  });

  test('properties follow the requested format', () => {
    const f = renderGeoJsonFeature(e, tm, { format: 'normalized' });
    expect(f.properties.name).toEqual({ type: 'Property', value: 'Barn' });
    expect(f.properties.area).toEqual({ type: 'GeoProperty', value: AREA, observedAt: 't' });
  });

  test('@context at the top of a Feature, last', () => {
    const f = renderGeoJsonFeature(e, tm, { format: 'keyValues', includeContext: tm.context });
    expect(Object.keys(f)).toEqual(['id', 'type', 'geometry', 'properties', '@context']);
    expect(f['@context']).toBe(tm.context);
    expect(f.properties['@context']).toBeUndefined();
  });

  test('custom geometryProperty', () => {
    expect(renderGeoJsonFeature(e, tm, { format: 'keyValues', geometryProperty: x('area') }).geometry).toEqual(AREA);
  });

  test('no such GeoProperty, or not a GeoProperty: geometry null', () => {
    const bare = entity({ name: { type: 'Property', value: 'Barn' } });
    expect(renderGeoJsonFeature(bare, tm, { format: 'keyValues' }).geometry).toBeNull();
    expect(renderGeoJsonFeature(e, tm, { format: 'keyValues', geometryProperty: x('name') }).geometry).toBeNull();
    expect(JSON.parse(JSON.stringify(renderGeoJsonFeature(bare, tm, { format: 'keyValues' }))).geometry).toBeNull();
  });

  test('the geometry does not depend on the projection; the Feature keeps its id', () => {
    const f = renderGeoJsonFeature(e, tm, { format: 'keyValues', projection: parseProjection({ pick: 'name' }, tm) });
    expect(f).toEqual({ id: ID, type: 'Feature', geometry: POINT, properties: { name: 'Barn' } });
  });

  test('multi-instance geometry: the default instance', () => {
    const multi = entity({
      location: [
        { type: 'GeoProperty', value: AREA, datasetId: 'urn:ds:survey' },
        { type: 'GeoProperty', value: POINT },
      ],
    });
    expect(renderGeoJsonFeature(multi, tm, { format: 'keyValues' }).geometry).toEqual(POINT);
  });

  test('a FeatureCollection, @context once at the top', () => {
    const other: Entity = { id: 'urn:ngsi-ld:Building:b2', type: [x('Building')], attrs: {} };
    const fc = renderGeoJson([e, other], tm, { format: 'concise', includeContext: tm.context });
    expect(Object.keys(fc)).toEqual(['type', 'features', '@context']);
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features.map((f) => [f.id, f.geometry])).toEqual([[ID, POINT], ['urn:ngsi-ld:Building:b2', null]]);
    expect(fc.features.every((f) => f['@context'] === undefined)).toBe(true);
    expect(fc.features[0].properties).toEqual({ type: 'Building', name: 'Barn', location: POINT, area: { value: AREA, observedAt: 't' } });
  });

  test('an empty FeatureCollection', () => {
    expect(renderGeoJson([], tm, { format: 'normalized' })).toEqual({ type: 'FeatureCollection', features: [] });
  });
});
