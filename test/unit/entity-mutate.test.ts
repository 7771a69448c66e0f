import {
  appendAttributes, deleteAttribute, mergeEntity, partialUpdateAttribute, replaceAttribute, replaceEntity,
  stampNew, updateAttributes, upsertEntity,
} from '../../src/ngsi-ld/entity/mutate';
import { NgsiError } from '../../src/ngsi-ld/errors';
import { NGSI_LD_NULL, type AttributeInstance, type Entity } from '../../src/ngsi-ld/types';

const T0 = '2024-01-01T00:00:00.000Z';
const NOW = '2024-06-01T12:00:00.000Z';
const EX = 'https://example.org/';
const ID = 'urn:ngsi-ld:Sensor:s1';
const SENSOR = EX + 'Sensor';
const A = EX + 'a';
const B = EX + 'b';
const C = EX + 'c';
const SUB = EX + 'sub';
const SUB2 = EX + 'sub2';
const D1 = 'urn:ngsi-ld:Dataset:1';
const D2 = 'urn:ngsi-ld:Dataset:2';
const POINT = { type: 'Point', coordinates: [9.85, 46.27] };

/** Freezes a value and everything in it, so that any mutation of an input throws. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
}

const prop = (value: unknown, more: Partial<AttributeInstance> = {}): AttributeInstance => ({ type: 'Property', value, ...more });
const del = (more: Partial<AttributeInstance> = {}): AttributeInstance => prop(NGSI_LD_NULL, more);
/** As the store has it: stamped at T0. */
const old = (inst: AttributeInstance): AttributeInstance => ({ ...inst, createdAt: T0, modifiedAt: T0 });
/** As written by the operation: stamped now, created at `created`. */
const fresh = (inst: AttributeInstance, created = NOW): AttributeInstance => ({ ...inst, createdAt: created, modifiedAt: NOW });

/**
 * The stored entity the tests start from (frozen):
 * A = one default instance with a sub-attribute; B = a default and a D1 instance.
 */
function stored(more: Partial<Entity> = {}): Entity {
  return deepFreeze({
    id: ID,
    type: [SENSOR],
    scope: ['/Valmalenco'],
    createdAt: T0,
    modifiedAt: T0,
    attrs: {
      [A]: [old(prop(1, { unitCode: 'CEL', observedAt: T0, [SUB]: old(prop('s', { unitCode: 'X' })) }))],
      [B]: [old(prop('b0')), old(prop('b1', { datasetId: D1 }))],
    },
    ...more,
  });
}

function thrown(fn: () => unknown): NgsiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NgsiError);
    return err as NgsiError;
  }
  throw new Error('expected an NgsiError, got none');
}
const expectNotFound = (fn: () => unknown, detail: string) => {
  const e = thrown(fn);
  expect([e.problemType, e.status, e.detail]).toEqual(['ResourceNotFound', 404, detail]);
};
const expectBadRequest = (fn: () => unknown, detail: string | RegExp) => {
  const e = thrown(fn);
  expect([e.problemType, e.status]).toEqual(['BadRequestData', 400]);
  expect(e.detail).toMatch(detail);
};

// -----------------------------------------------------------------------------------------------

describe('stampNew', () => {
  it('stamps the entity, every instance and every sub-attribute, replacing any timestamps given', () => {
    const e = deepFreeze<Entity>({
      id: ID,
      type: [SENSOR],
      createdAt: T0,
      attrs: {
        [A]: [prop(1, { createdAt: T0, [SUB]: prop(2, { [SUB2]: prop(3) }) })],
        [B]: [prop(1), prop(2, { datasetId: D1 })],
      },
    });
    expect(stampNew(e, NOW)).toEqual({
      id: ID,
      type: [SENSOR],
      createdAt: NOW,
      modifiedAt: NOW,
      attrs: {
        [A]: [fresh(prop(1, { [SUB]: fresh(prop(2, { [SUB2]: fresh(prop(3)) })) }))],
        [B]: [fresh(prop(1)), fresh(prop(2, { datasetId: D1 }))],
      },
    });
  });
});

describe('appendAttributes', () => {
  it('adds a new attribute', () => {
    const e0 = stored();
    const r = appendAttributes(e0, { [C]: [prop(3)] }, NOW);
    expect(r.updated).toEqual([C]);
    expect(r.notUpdated).toEqual([]);
    expect(r.entity.attrs[C]).toEqual([fresh(prop(3))]);
    expect(r.entity.attrs[A]).toBe(e0.attrs[A]); // untouched attributes are shared, not copied
    expect(r.entity.modifiedAt).toBe(NOW);
    expect(r.entity.createdAt).toBe(T0);
  });

  it('replaces an existing instance as a whole, keeping its createdAt', () => {
    const r = appendAttributes(stored(), { [A]: [prop(2)] }, NOW);
    expect(r.entity.attrs[A]).toEqual([fresh(prop(2), T0)]);
    expect(r.updated).toEqual([A]);
  });

  it('adds a new datasetId as another instance and replaces the matching one', () => {
    const r = appendAttributes(stored(), { [B]: [prop('b1*', { datasetId: D1 }), prop('b2', { datasetId: D2 })] }, NOW);
    expect(r.entity.attrs[B]).toEqual([
      old(prop('b0')),
      fresh(prop('b1*', { datasetId: D1 }), T0),
      fresh(prop('b2', { datasetId: D2 })),
    ]);
  });

  it('with noOverwrite keeps existing instances, reports them, and still adds new ones', () => {
    const r = appendAttributes(stored(), {
      [A]: [prop(2)],
      [B]: [prop('x', { datasetId: D1 }), prop('b2', { datasetId: D2 })],
      [C]: [prop(3)],
    }, NOW, { noOverwrite: true });
    expect(r.updated).toEqual([B, C]);
    expect(r.notUpdated).toEqual([
      { attributeName: A, reason: 'already exists and noOverwrite is set' },
      { attributeName: B, reason: `already exists (datasetId '${D1}') and noOverwrite is set` },
    ]);
    expect(r.entity.attrs[A]).toEqual(stored().attrs[A]);
    expect(r.entity.attrs[B]).toEqual([old(prop('b0')), old(prop('b1', { datasetId: D1 })), fresh(prop('b2', { datasetId: D2 }))]);
  });

  it('leaves the entity untouched when nothing is written', () => {
    const e = stored();
    const r = appendAttributes(e, { [A]: [prop(2)] }, NOW, { noOverwrite: true });
    expect(r.entity).toBe(e);
    expect(r.updated).toEqual([]);
  });

  it('deletes instances given as NGSI-LD Null and reports missing ones', () => {
    const r = appendAttributes(stored(), { [A]: [del()], [B]: [del({ datasetId: D2 })] }, NOW);
    expect(r.entity.attrs).not.toHaveProperty(A);
    expect(r.updated).toEqual([A]);
    expect(r.notUpdated).toEqual([{ attributeName: B, reason: `nothing to delete (datasetId '${D2}')` }]);
  });

  it('drops NGSI-LD Null members and sub-attributes from written instances', () => {
    const r = appendAttributes(stored(), { [C]: [prop(3, { unitCode: NGSI_LD_NULL, [SUB]: del() })] }, NOW);
    expect(r.entity.attrs[C]).toEqual([fresh(prop(3))]);
  });

  it('refuses an instance without its value', () => {
    expectBadRequest(() => appendAttributes(stored(), { [C]: [{ type: 'Relationship', observedAt: T0 }] }, NOW),
      `attribute '${C}': a Relationship must have a 'object'`);
  });
});

describe('updateAttributes', () => {
  it('replaces existing instances only and reports the others', () => {
    const r = updateAttributes(stored(), {
      [A]: [prop(5)],
      [B]: [prop('b1*', { datasetId: D1 }), prop('b2', { datasetId: D2 })],
      [C]: [prop(3)],
    }, NOW);
    expect(r.updated).toEqual([A, B]);
    expect(r.notUpdated).toEqual([
      { attributeName: B, reason: `does not exist (datasetId '${D2}')` },
      { attributeName: C, reason: 'does not exist' },
    ]);
    expect(r.entity.attrs[A]).toEqual([fresh(prop(5), T0)]);
    expect(r.entity.attrs[B]).toEqual([old(prop('b0')), fresh(prop('b1*', { datasetId: D1 }), T0)]);
    expect(r.entity.attrs).not.toHaveProperty(C);
    expect(r.entity.modifiedAt).toBe(NOW);
  });

  it('leaves the entity untouched when nothing exists', () => {
    const e = stored();
    const r = updateAttributes(e, { [C]: [prop(3)] }, NOW);
    expect(r.entity).toBe(e);
    expect(r.entity.modifiedAt).toBe(T0);
  });

  it('deletes instances given as NGSI-LD Null, removing the attribute with its last instance', () => {
    const r = updateAttributes(stored(), { [B]: [del(), del({ datasetId: D1 })] }, NOW);
    expect(r.entity.attrs).not.toHaveProperty(B);
    expect(r.updated).toEqual([B]);
  });
});

describe('partialUpdateAttribute', () => {
  it('replaces the members given, keeps the others, merges sub-attributes', () => {
    const e = partialUpdateAttribute(stored(), A, [prop(7, { observedAt: NOW, [SUB]: prop('s2'), [SUB2]: prop('new') })], NOW);
    expect(e.attrs[A]).toEqual([{
      type: 'Property',
      value: 7,
      unitCode: 'CEL',
      observedAt: NOW,
      createdAt: T0,
      modifiedAt: NOW,
      [SUB]: { type: 'Property', value: 's2', unitCode: 'X', createdAt: T0, modifiedAt: NOW },
      [SUB2]: fresh(prop('new')),
    }]);
    expect(e.modifiedAt).toBe(NOW);
  });

  it('patches members only (no value) and removes members and sub-attributes given as NGSI-LD Null', () => {
    const e = partialUpdateAttribute(stored(), A, [{ type: 'Property', unitCode: 'FAH', observedAt: NGSI_LD_NULL, [SUB]: del() }], NOW);
    expect(e.attrs[A]).toEqual([{ type: 'Property', value: 1, unitCode: 'FAH', createdAt: T0, modifiedAt: NOW }]);
  });

  it('replaces compound values instead of merging them', () => {
    const e0 = stored({ attrs: { [A]: [old(prop({ x: 1, y: 2 }))] } });
    expect(partialUpdateAttribute(e0, A, [prop({ x: 3 })], NOW).attrs[A][0].value).toEqual({ x: 3 });
  });

  it('targets the instance with the datasetId', () => {
    const e = partialUpdateAttribute(stored(), B, [prop('b1*', { datasetId: D1 })], NOW);
    expect(e.attrs[B]).toEqual([old(prop('b0')), fresh(prop('b1*', { datasetId: D1 }), T0)]);
  });

  it('replaces the instance when the kind changes', () => {
    const e = partialUpdateAttribute(stored(), A, [{ type: 'Relationship', object: 'urn:a:1' }], NOW);
    expect(e.attrs[A]).toEqual([fresh({ type: 'Relationship', object: 'urn:a:1' }, T0)]);
  });

  it('is 404 for a missing attribute or datasetId', () => {
    expectNotFound(() => partialUpdateAttribute(stored(), C, [prop(1)], NOW), `Attribute '${C}' not found in entity '${ID}'`);
    expectNotFound(() => partialUpdateAttribute(stored(), A, [prop(1, { datasetId: D1 })], NOW),
      `Attribute '${A}' (datasetId '${D1}') not found in entity '${ID}'`);
  });

  it('refuses NGSI-LD Null as the value, and a new sub-attribute without value', () => {
    expectBadRequest(() => partialUpdateAttribute(stored(), A, [del()], NOW), /cannot set the value to NGSI-LD Null/);
    expectBadRequest(() => partialUpdateAttribute(stored(), A, [{ type: 'Property', [SUB2]: { type: 'Property', unitCode: 'X' } }], NOW),
      `attribute '${A} > ${SUB2}': a Property must have a 'value'`);
  });
});

describe('replaceAttribute', () => {
  it('replaces the instance as a whole, keeping its createdAt', () => {
    const e = replaceAttribute(stored(), A, [prop(9)], NOW);
    expect(e.attrs[A]).toEqual([fresh(prop(9), T0)]);
    expect(e.modifiedAt).toBe(NOW);
  });

  it('replaces several instances by datasetId', () => {
    const e = replaceAttribute(stored(), B, [prop('x'), prop('y', { datasetId: D1 })], NOW);
    expect(e.attrs[B]).toEqual([fresh(prop('x'), T0), fresh(prop('y', { datasetId: D1 }), T0)]);
  });

  it('is 404 for a missing attribute or datasetId', () => {
    expectNotFound(() => replaceAttribute(stored(), C, [prop(1)], NOW), `Attribute '${C}' not found in entity '${ID}'`);
    expectNotFound(() => replaceAttribute(stored(), B, [prop(1, { datasetId: D2 })], NOW),
      `Attribute '${B}' (datasetId '${D2}') not found in entity '${ID}'`);
  });
});

describe('deleteAttribute', () => {
  it.each<[string, { datasetId?: string; deleteAll?: boolean }, AttributeInstance[] | undefined]>([
    ['the default instance', {}, [old(prop('b1', { datasetId: D1 }))]],
    ['the instance with a datasetId', { datasetId: D1 }, [old(prop('b0'))]],
    ['all instances', { deleteAll: true }, undefined],
    ['all instances, whatever the datasetId', { deleteAll: true, datasetId: D2 }, undefined],
  ])('deletes %s', (_name, opts, remaining) => {
    const e = deleteAttribute(stored(), B, opts, NOW);
    expect(e.attrs[B]).toEqual(remaining);
    expect(Object.hasOwn(e.attrs, B)).toBe(remaining !== undefined);
    expect(e.modifiedAt).toBe(NOW);
  });

  it('removes the attribute with its last instance', () => {
    expect(deleteAttribute(stored(), A).attrs).not.toHaveProperty(A);
  });

  it('keeps modifiedAt when no time is given', () => {
    expect(deleteAttribute(stored(), A).modifiedAt).toBe(T0);
  });

  it('is 404 for a missing attribute or instance', () => {
    expectNotFound(() => deleteAttribute(stored(), C), `Attribute '${C}' not found in entity '${ID}'`);
    expectNotFound(() => deleteAttribute(stored(), B, { datasetId: D2 }), `Attribute '${B}' (datasetId '${D2}') not found in entity '${ID}'`);
    const onlyDataset = stored({ attrs: { [B]: [old(prop(1, { datasetId: D1 }))] } });
    expectNotFound(() => deleteAttribute(onlyDataset, B), `Attribute '${B}' not found in entity '${ID}'`);
  });
});

describe('mergeEntity', () => {
  it('replaces the members given and keeps the rest (sub-attributes, unitCode)', () => {
    const e0 = stored();
    const e = mergeEntity(e0, { [A]: [prop(32.7, { observedAt: NOW })] }, NOW);
    expect(e.attrs[A]).toEqual([{
      type: 'Property', value: 32.7, unitCode: 'CEL', observedAt: NOW, createdAt: T0, modifiedAt: NOW,
      [SUB]: old(prop('s', { unitCode: 'X' })),
    }]);
    expect(e.attrs[B]).toBe(e0.attrs[B]);
    expect(e.modifiedAt).toBe(NOW);
  });

  it('merges compound Property values key by key; NGSI-LD Null removes a key; arrays are replaced', () => {
    const e0 = stored({
      attrs: { [A]: [old(prop({ streetAddress: 'Via Roma 1', addressRegion: 'Lombardia', geo: { lat: 1, lon: 2 }, tags: [1, 2] }))] },
    });
    const e = mergeEntity(e0, { [A]: [prop({ streetAddress: 'Via Milano 2', addressRegion: NGSI_LD_NULL, geo: { lat: 3 }, tags: [3] })] }, NOW);
    expect(e.attrs[A][0].value).toEqual({ streetAddress: 'Via Milano 2', geo: { lat: 3, lon: 2 }, tags: [3] });
  });

  it.each<[string, AttributeInstance, AttributeInstance, Partial<AttributeInstance>]>([
    ['a JsonProperty merges its json', { type: 'JsonProperty', json: { a: 1, b: 2 } }, { type: 'JsonProperty', json: { b: NGSI_LD_NULL, c: 3 } },
      { json: { a: 1, c: 3 } }],
    ['a LanguageProperty merges its languageMap', { type: 'LanguageProperty', languageMap: { it: 'lago', en: 'lake', '@none': 'x' } },
      { type: 'LanguageProperty', languageMap: { en: 'pond', '@none': NGSI_LD_NULL } }, { languageMap: { it: 'lago', en: 'pond' } }],
    ['a GeoProperty replaces its geometry', { type: 'GeoProperty', value: POINT }, { type: 'GeoProperty', value: { type: 'Point', coordinates: [1, 2] } },
      { value: { type: 'Point', coordinates: [1, 2] } }],
    ['a Relationship replaces its object', { type: 'Relationship', object: 'urn:a:1' }, { type: 'Relationship', object: ['urn:a:2'] },
      { object: ['urn:a:2'] }],
    ['a VocabProperty replaces its vocab', { type: 'VocabProperty', vocab: [EX + 'x'] }, { type: 'VocabProperty', vocab: EX + 'y' }, { vocab: EX + 'y' }],
    ['a ListProperty replaces its list', { type: 'ListProperty', valueList: [1, 2] }, { type: 'ListProperty', valueList: [3] }, { valueList: [3] }],
    ['a Property replaces a scalar with an object', prop(1), prop({ a: 1, b: NGSI_LD_NULL }), { value: { a: 1 } }],
  ])('%s', (_name, before, patch, expected) => {
    const e = mergeEntity(stored({ attrs: { [C]: [old(before)] } }), { [C]: [patch] }, NOW);
    expect(e.attrs[C]).toEqual([{ ...old(before), ...expected, modifiedAt: NOW }]);
  });

  it('replaces the instance when the kind changes', () => {
    const e = mergeEntity(stored(), { [A]: [{ type: 'Relationship', object: 'urn:a:1' }] }, NOW);
    expect(e.attrs[A]).toEqual([fresh({ type: 'Relationship', object: 'urn:a:1' }, T0)]);
  });

  it('keeps a "__proto__" key of a compound value as a plain key', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const e = mergeEntity(stored({ attrs: { [C]: [old(prop({ b: 2 }))] } }), { [C]: [prop(patch)] }, NOW);
    const value = e.attrs[C][0].value as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value).sort()).toEqual(['__proto__', 'a', 'b']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('merges sub-attributes recursively, adds new ones, deletes NGSI-LD Null ones', () => {
    const e0 = stored({ attrs: { [A]: [old(prop(1, { [SUB]: old(prop('s', { unitCode: 'X', [SUB2]: old(prop('deep')) })) }))] } });
    const e = mergeEntity(e0, { [A]: [{ type: 'Property', [SUB]: { type: 'Property', value: 's*', [SUB2]: del() }, [EX + 'new']: prop('n') }] }, NOW);
    expect(e.attrs[A]).toEqual([{
      type: 'Property', value: 1, createdAt: T0, modifiedAt: NOW,
      [SUB]: { type: 'Property', value: 's*', unitCode: 'X', createdAt: T0, modifiedAt: NOW },
      [EX + 'new']: fresh(prop('n')),
    }]);
  });

  it('adds new attributes and datasetIds, dropping NGSI-LD Null parts of them', () => {
    const e = mergeEntity(stored(), { [C]: [prop(3, { [SUB]: del() })], [B]: [prop('b2', { datasetId: D2 })] }, NOW);
    expect(e.attrs[C]).toEqual([fresh(prop(3))]);
    expect(e.attrs[B]).toEqual([...stored().attrs[B], fresh(prop('b2', { datasetId: D2 }))]);
  });

  it('refuses to add an attribute without its value', () => {
    expectBadRequest(() => mergeEntity(stored(), { [C]: [{ type: 'Property', observedAt: NOW }] }, NOW), `attribute '${C}': a Property must have a 'value'`);
  });

  it('deletes instances given as NGSI-LD Null, ignoring absent ones', () => {
    const e = mergeEntity(stored(), { [A]: [del()], [B]: [del({ datasetId: D1 })], [C]: [del()] }, NOW);
    expect(e.attrs).not.toHaveProperty(A);
    expect(e.attrs).not.toHaveProperty(C);
    expect(e.attrs[B]).toEqual([old(prop('b0'))]);
  });

  it('adds types and replaces or removes the scope', () => {
    expect(mergeEntity(stored(), {}, NOW, { type: [EX + 'Device', SENSOR] }).type).toEqual([SENSOR, EX + 'Device']);
    expect(mergeEntity(stored(), {}, NOW, { scope: ['/Lanzada'] }).scope).toEqual(['/Lanzada']);
    expect(mergeEntity(stored(), {}, NOW, { scope: [] })).not.toHaveProperty('scope');
    const same = mergeEntity(stored(), {}, NOW, {});
    expect([same.type, same.scope, same.modifiedAt]).toEqual([[SENSOR], ['/Valmalenco'], NOW]);
  });
});

describe('replaceEntity', () => {
  it('keeps id and createdAt, replaces types, scope and attributes', () => {
    const replacement: Entity = deepFreeze({
      id: 'urn:ignored', type: [EX + 'Device'], createdAt: NOW, attrs: { [A]: [prop(2)], [C]: [prop(3)], [B]: [prop('x', { datasetId: D2 })] },
    });
    expect(replaceEntity(stored(), replacement, NOW)).toEqual({
      id: ID,
      type: [EX + 'Device'],
      createdAt: T0,
      modifiedAt: NOW,
      attrs: { [A]: [fresh(prop(2), T0)], [B]: [fresh(prop('x', { datasetId: D2 }))], [C]: [fresh(prop(3))] },
    });
  });

  it('keeps the types when the replacement has none, takes its scope', () => {
    const e = replaceEntity(stored(), { id: ID, type: [], scope: ['/b'], attrs: {} }, NOW);
    expect([e.type, e.scope, e.attrs]).toEqual([[SENSOR], ['/b'], {}]);
  });
});

describe('upsertEntity', () => {
  const incoming = (): Entity => deepFreeze({
    id: ID, type: [EX + 'Device'], scope: ['/b'], attrs: { [A]: [prop(2)], [C]: [prop(3)] },
  });

  it('creates a new entity', () => {
    expect(upsertEntity(undefined, incoming(), NOW, 'update')).toEqual(stampNew(incoming(), NOW));
    expect(upsertEntity(undefined, incoming(), NOW, 'replace')).toEqual(stampNew(incoming(), NOW));
  });

  it("'replace' replaces the whole entity", () => {
    expect(upsertEntity(stored(), incoming(), NOW, 'replace')).toEqual(replaceEntity(stored(), incoming(), NOW));
  });

  it("'update' appends attributes with overwrite and adds types and scopes", () => {
    const e = upsertEntity(stored(), incoming(), NOW, 'update');
    expect(e).toEqual({
      id: ID,
      type: [SENSOR, EX + 'Device'],
      scope: ['/Valmalenco', '/b'],
      createdAt: T0,
      modifiedAt: NOW,
      attrs: { [A]: [fresh(prop(2), T0)], [B]: stored().attrs[B], [C]: [fresh(prop(3))] },
    });
  });
});
