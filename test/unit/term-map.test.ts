import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as jsonld from 'jsonld';
import { ContextResolver } from '../../src/ngsi-ld/context/resolver';
import { compileTermMap, type CompiledTermMap } from '../../src/ngsi-ld/context/term-map';
import { NgsiError } from '../../src/ngsi-ld/errors';
import type { ContextValue } from '../../src/ngsi-ld/context/types';
import {
  CORE_V16, CORE_V18, MemoryContextStore, SDM_ALL, SDM_SUBJECTS, TEST_CONTEXTS, documentLoader,
} from '../fixtures/contexts';

/*
 * The term map against jsonld.js, the reference: for each context, every term the reference
 * active context defines (plus prefixed, unknown and absolute names) must expand to the same IRI,
 * and every such IRI must compact to the same name — except where jsonld.js would refuse a term
 * for an NGSI-LD attribute value because of the term's @type/@container (there the term map
 * still gives the term; checked separately).
 */

// jsonld.js internals give IRI expansion/compaction of one name against a processed context,
// without wrapping it into a document whose value shape would interfere.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsonldContext = require('jsonld/lib/context');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsonldCompact = require('jsonld/lib/compact');

interface RefContext {
  mappings: Map<string, { '@id': string | null } | null>;
}

const options = { documentLoader };

async function reference(ctx: ContextValue | undefined, core: string): Promise<RefContext> {
  const initial = await (jsonld as unknown as { processContext: (a: unknown, b: unknown, c: unknown) => Promise<unknown> }).processContext(null as never, null as never, options as never);
  const local = [...(ctx === undefined ? [] : Array.isArray(ctx) ? ctx : [ctx]), core];
  return (await (jsonld as unknown as { processContext: (a: unknown, b: unknown, c: unknown) => Promise<unknown> }).processContext(initial, local as never, options as never)) as unknown as RefContext;
}

const refExpand = (ref: RefContext, name: string): string | null =>
  jsonldContext.expandIri(ref, name, { vocab: true }, options);

/** an NGSI-LD attribute as jsonld.js sees it after expansion: a node object without @id */
const ATTRIBUTE_VALUE = {
  '@type': ['https://uri.etsi.org/ngsi-ld/Property'],
  'https://uri.etsi.org/ngsi-ld/hasValue': [{ '@value': 1 }],
};
const refCompact = (ref: RefContext, iri: string, value: unknown): string =>
  jsonldCompact.compactIri({ activeCtx: ref, iri, value, relativeTo: { vocab: true } });

const EXTRA_NAMES = [
  'totallyUnknownAttr', 'ngsi-ld:Foo', 'ngsi-ld:hasValue', 'fiware:batteryLevel', 'schema:name', 'ex:P1',
  'geojson:Point', 'https://example.org/x', 'urn:ngsi-ld:Thing:1', 'http:foo', '1abc:x', '_:b0', '@id', '@type',
  'a,b:c', 'Building:foo', 'tutorial:Tractor', 'x:', 'id', 'type', 'value', 'object', 'observedAt', 'location',
];
const EXTRA_IRIS = [
  'https://uri.etsi.org/ngsi-ld/default-context/someAttr', 'https://uri.etsi.org/ngsi-ld/somethingNew',
  'https://schema.org/unknownThing', 'https://uri.fiware.org/ns/data-models#zzz', 'https://purl.org/geojson/vocab#zz',
  'http://example.org/Q', 'urn:ngsi-ld:Thing:1', '@id', '@type', 'https://uri.etsi.org/ngsi-ld/default-context/',
];

function isTermFor(tm: CompiledTermMap, name: string, iri: string): boolean {
  return tm.definition(name)?.id === iri;
}

/** a term jsonld.js selects for attribute (node object) and @type values */
function isPlainTerm(tm: CompiledTermMap, name: string): boolean {
  const def = tm.definition(name)!;
  const container = def.container?.join('');
  return (container === undefined || container === '@set') && [undefined, '@id', '@none'].includes(def.type);
}

async function compareWithReference(tm: CompiledTermMap, ref: RefContext) {
  const names = new Set([...ref.mappings.keys(), ...EXTRA_NAMES]);
  const iris = new Set(EXTRA_IRIS);
  for (const name of names) {
    const expected = refExpand(ref, name);
    expect([name, tm.expand(name)]).toEqual([name, expected ?? name]);
    if (expected !== null) iris.add(expected);
  }
  let divergent = 0;
  for (const iri of iris) {
    const ours = tm.compact(iri);
    for (const value of [ATTRIBUTE_VALUE, null]) {
      let expected: string;
      try {
        expected = refCompact(ref, iri, value);
      } catch {
        continue; // jsonld.js: "IRI confused with prefix"; the term map returns the IRI
      }
      const refPicksTerm = ref.mappings.get(expected)?.['@id'] === iri;
      if (!refPicksTerm && isTermFor(tm, ours, iri)) {
        // only terms with a @type/@container that jsonld.js keeps for other value shapes
        expect([ours, isPlainTerm(tm, ours)]).toEqual([ours, false]);
        divergent++;
      } else {
        expect([iri, ours]).toEqual([iri, expected]);
      }
    }
    // whatever the name, it reads back as the same IRI
    if (!iri.startsWith('@') && ours !== iri) expect([ours, tm.expand(ours)]).toEqual([ours, iri]);
  }
  return { names: names.size, iris: iris.size, divergent };
}

const store = new MemoryContextStore(TEST_CONTEXTS);
const resolver18 = new ContextResolver({ coreVersion: 'v1.8', allowHosts: [], store });
const resolver16 = new ContextResolver({ coreVersion: 'v1.6', allowHosts: [], store });

const CASES = [
  ['core only', undefined],
  ['core v1.8 by URL', CORE_V18],
  ['all Smart Data Models subjects', SDM_ALL],
  ...[...SDM_SUBJECTS.keys()].map((url): [string, ContextValue] => [url.split('/')[3], url]),
  ...[...TEST_CONTEXTS.keys()].map((url): [string, ContextValue] => [url.slice(8), url]),
  ['several subjects', [...SDM_SUBJECTS.keys()].slice(0, 4)],
  [
    'inline terms: prefixes, compact IRI terms, keyword aliases, @vocab terms',
    {
      ex: 'http://example.org/',
      ex2: { '@id': 'http://example.org/two', '@prefix': true },
      'ex:special': { '@type': '@id' },
      temperature: 'ex:temperature',
      temp: 'ex:temperature',
      tmp: { '@id': 'ex:temperature', '@container': '@list' },
      Sensor: { '@id': 'ex:Sensor' },
      ident: '@id',
      'http://example.org/self': 'http://example.org/self',
      unmapped: null,
      nonPrefix: 'http://example.org/np',
    },
  ],
  ['@vocab for terms without @id', [{ '@vocab': 'https://example.org/v/', speed: {}, mode: { '@type': '@vocab' } }]],
  ['relative @vocab', [{ '@vocab': 'https://example.org/' }, { '@vocab': 'sub/', x: {} }, { '@vocab': '', y: {} }]],
  ['null resets', [{ a: 'https://example.org/a' }, null, { b: 'https://example.org/b' }]],
  [
    '@import',
    // (the leading context works around a jsonld.js cache bug: it would reuse the processed
    // Weather context of an earlier case as if it were a context document)
    [
      { unrelated: 'https://example.org/unrelated' },
      { '@import': 'https://smart-data-models.github.io/dataModel.Weather/context.jsonld', precipitation: 'https://example.org/p' },
    ],
  ],
  [
    'protected user terms',
    [{ '@protected': true, owner: 'https://example.org/owner' }, { owner: 'https://example.org/owner' }],
  ],
] as [string, ContextValue | undefined][];

describe('term map = jsonld.js (core v1.8)', () => {
  test.each(CASES)('%s', async (_name, ctx) => {
    const tm = await resolver18.resolve(ctx);
    const stats = await compareWithReference(tm, await reference(ctx, CORE_V18));
    expect(stats.names).toBeGreaterThan(20);
  });
});

describe('term map = jsonld.js (core v1.6)', () => {
  // (not the v1.8 URL: redefining its protected terms with v1.6 ones is an error for jsonld.js)
  test.each(CASES.filter(([, ctx]) => ctx !== CORE_V18).slice(0, 6))('%s', async (_name, ctx) => {
    const tm = await resolver16.resolve(ctx);
    await compareWithReference(tm, await reference(ctx, CORE_V16));
  });
});

describe('NGSI-LD behaviour', () => {
  test('core terms win over user definitions; core @vocab catches unknown names', async () => {
    const tm = await resolver18.resolve([SDM_ALL]);
    // the all-subjects context maps location to http://uri.etsi.org/ngsi-ld/location
    expect(tm.expand('location')).toBe('https://uri.etsi.org/ngsi-ld/location');
    expect(tm.expand('type')).toBe('@type');
    expect(tm.expand('value')).toBe('https://uri.etsi.org/ngsi-ld/hasValue');
    expect(tm.expand('noSuchAttribute')).toBe('https://uri.etsi.org/ngsi-ld/default-context/noSuchAttribute');
    expect(tm.compact('https://uri.etsi.org/ngsi-ld/default-context/noSuchAttribute')).toBe('noSuchAttribute');
    expect(tm.compact('@type')).toBe('type');
    expect(tm.compact('https://uri.etsi.org/ngsi-ld/hasObject')).toBe('object');
  });

  test('typed and list terms still compact to the term (jsonld.js would not, for attribute values)', async () => {
    // ngsi-ld: is not a prefix yet when user contexts are processed (the core comes last), so
    // contexts spell the datatype out, as the NGSI-LD test suite's context does
    const tm = await resolver18.resolve({
      ex: 'http://example.org/',
      DateProp: { '@id': 'ex:DateProp', '@type': 'https://uri.etsi.org/ngsi-ld/DateTime' },
    });
    expect(tm.compact('http://example.org/DateProp')).toBe('DateProp');
    expect(tm.definition('DateProp')?.type).toBe('https://uri.etsi.org/ngsi-ld/DateTime');
  });

  test('a term mapped to null is not expanded', async () => {
    const tm = await resolver18.resolve({ hidden: null });
    expect(tm.expand('hidden')).toBe('hidden');
    expect(tm.definition('hidden')?.id).toBeNull();
  });

  test.each<[string, unknown, RegExp]>([
    ['cyclic definitions', { a: { '@id': 'b' }, b: { '@id': 'a' } }, /cyclic/],
    ['keyword redefinition', { '@id': 'http://example.org/id' }, /keyword/],
    ['a number as definition', { a: 42 }, /must be a string, an object or null/],
    ['unknown member', { a: { '@id': 'http://example.org/a', foo: 1 } }, /must not contain foo/],
    ['bad container', { a: { '@id': 'http://example.org/a', '@container': '@bag' } }, /@container/],
    ['relative @id without @vocab', { a: { '@id': 'relative' } }, /absolute IRI/],
    ['IRI-like term mapped elsewhere', { 'http://example.org/a': 'http://example.org/b' }, /form of an IRI/],
    ['@version 1.0', { '@version': 1.0 }, /@version/],
  ])('invalid context: %s → 400 (jsonld.js agrees)', async (_name, ctx, message) => {
    const err = ((): unknown => {
      try {
        compileTermMap([ctx], {}, ctx as ContextValue, 'k');
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NgsiError);
    expect((err as NgsiError).status).toBe(400);
    expect((err as NgsiError).detail).toMatch(message);
    await expect(reference(ctx as ContextValue, CORE_V18)).rejects.toThrow();
  });

  test('redefining a protected core term after the core is refused, as jsonld.js does', async () => {
    const ctx: ContextValue = [CORE_V18, { location: 'https://example.org/location' }];
    await expect(resolver18.resolve(ctx)).rejects.toMatchObject({ status: 400, detail: expect.stringMatching(/protected/) });
    await expect(reference(ctx, CORE_V18)).rejects.toThrow(/protected/);
  });
});

describe('Smart Data Models examples: expand and compact entities like jsonld.js', () => {
  // vendored Smart Data Models (schemas/smart-data-models/README.md names their origin)
  const SDM_DIR = join(__dirname, '..', '..', 'schemas', 'smart-data-models');
  const examples = readdirSync(SDM_DIR)
    .map((t) => join(SDM_DIR, t, 'example-normalized.jsonld'))
    .filter((p) => existsSync(p));
  test('the vendored examples are there', () => expect(examples.length).toBeGreaterThan(20));

  test.each(examples.map((p) => [p.split('/').at(-2)!, p]))('%s', async (_type, path) => {
    const entity = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const ctx = entity['@context'] as ContextValue;
    const tm = await resolver18.resolve(ctx);
    const withCore = { ...entity, '@context': [...(ctx as string[]), CORE_V18] };
    const [expanded] = (await jsonld.expand(withCore, options as never)) as unknown as Record<string, unknown>[];
    const ours = Object.keys(entity).filter((k) => k !== '@context').map((k) => tm.expand(k));
    expect(ours.sort()).toEqual(Object.keys(expanded).sort());
    expect([entity.type].flat().map((t) => tm.expand(t as string))).toEqual(expanded['@type']);

    const compacted = (await jsonld.compact(expanded as never, withCore['@context'] as never, options as never)) as unknown as Record<string, unknown>;
    for (const key of Object.keys(expanded)) {
      const name = tm.compact(key);
      if (!(name in compacted)) {
        // jsonld.js refused the (typed/list) term for this value and used another name
        expect(tm.definition(name)?.id).toBe(key);
        expect(tm.definition(name)?.type ?? tm.definition(name)?.container).toBeDefined();
      }
    }
  });
});
