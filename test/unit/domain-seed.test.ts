import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileTermMap } from '../../src/ngsi-ld/context/term-map';
import { parseEntity } from '../../src/ngsi-ld/entity/parse';
import { SMARTLAND_CONTEXT_URL, SUPPORTED_TYPES } from '../../src/domain/sdm-types';
import { validateKeyValues } from '../../src/domain/sdm-validator';
import { toKeyValues } from '../../src/domain/keyvalues-to-normalized';
import { buildSeedEntities, seedItems } from '../../src/domain/valmalenco';

type Json = Record<string, unknown>;
const ROOT = join(__dirname, '..', '..');
const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8')) as Json;

const entities = buildSeedEntities();
const byId = new Map(entities.map((e) => [e.id as string, e]));
const ofType = (type: string) => entities.filter((e) => e.type === type);
const value = (e: Json, name: string) => (e[name] as { value?: unknown; object?: unknown } | undefined)?.value;
const object = (e: Json, name: string) => (e[name] as { object?: string | string[] } | undefined)?.object;
const objects = (e: Json, name: string): string[] => [object(e, name) ?? []].flat();

const PROGRAMME = 'urn:ngsi-ld:TerritorialProgramme:ITI-InValmalenco';
const MUNICIPALITIES = {
  '014019': 'Chiesa in Valmalenco',
  '014013': 'Caspoggio',
  '014036': 'Lanzada',
  '014062': 'Spriana',
};

describe('seed entities', () => {
  it('are deterministic, with unique ids of the form urn:ngsi-ld:<Type>:<local id>', () => {
    expect(buildSeedEntities()).toEqual(entities);
    expect(byId.size).toBe(entities.length);
    for (const e of entities) expect(e.id).toMatch(new RegExp(`^urn:ngsi-ld:${String(e.type)}:[A-Za-z0-9][\\w.-]*$`));
  });

  it('cover every supported entity type', () => {
    expect([...new Set(entities.map((e) => e.type))].sort()).toEqual([...SUPPORTED_TYPES].sort());
  });

  it.each(entities.map((e) => [e.id, e] as const))('%s validates against its schema in keyValues form', (_id, e) => {
    const r = validateKeyValues(e.type as string, toKeyValues(e));
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('map back to the keyValues items of seeds/valmalenco.json', () => {
    expect(entities.map(toKeyValues)).toEqual(seedItems());
  });

  it('carry the subject @context, and ours where they use our terms', () => {
    for (const e of entities) {
      const contexts = e['@context'] as string[];
      const usesOurs = Object.keys(e).some((k) => ['isSample', 'refThematicCorridor', 'refMunicipality', 'istatCode'].includes(k));
      if (e.type === 'TerritorialProgramme' || e.type === 'ThematicCorridor') expect(contexts).toEqual([SMARTLAND_CONTEXT_URL]);
      else expect(contexts).toEqual(usesOurs ? [expect.stringMatching(/^https:\/\/smart-data-models\.github\.io\//), SMARTLAND_CONTEXT_URL] : [expect.any(String)]);
    }
  });

  it('are accepted by the NGSI-LD entity parser, every attribute defined by their @contexts', () => {
    const core = readJson(join(ROOT, 'contexts', 'ngsi-ld-core-context-v1.8.jsonld'))['@context'];
    const file = (url: string) => url === SMARTLAND_CONTEXT_URL
      ? join(ROOT, 'contexts', 'smartland.jsonld')
      : join(ROOT, 'contexts', 'smart-data-models', `${/(dataModel\.[\w.-]+)\/context\.jsonld$/.exec(url)![1]}.context.jsonld`);
    const undefinedTerms = new Set<string>();
    for (const e of entities) {
      const contexts = e['@context'] as string[];
      const tm = compileTermMap(contexts.map((u) => readJson(file(u))['@context']), core, contexts, contexts.join(' '));
      const parsed = parseEntity(e, tm);
      for (const iri of [...parsed.type, ...Object.keys(parsed.attrs)]) {
        if (iri.startsWith('https://uri.etsi.org/ngsi-ld/default-context/')) undefinedTerms.add(`${String(e.type)}.${iri.split('/').pop()}`);
      }
    }
    expect([...undefinedTerms].sort()).toEqual([]);
  });

  it('have every Relationship point to a seeded entity', () => {
    for (const e of entities) {
      for (const [name, attr] of Object.entries(e)) {
        if ((attr as Json | undefined)?.type !== 'Relationship') continue;
        for (const target of objects(e, name)) expect([e.id, name, byId.has(target)]).toEqual([e.id, name, true]);
      }
    }
  });
});

describe('the valley', () => {
  it('has the ITI programme led by Chiesa in Valmalenco with the four municipalities', () => {
    const [programme] = ofType('TerritorialProgramme');
    expect(programme.id).toBe(PROGRAMME);
    expect(object(programme, 'refLeadMunicipality')).toBe('urn:ngsi-ld:PublicOrganization:IT-ISTAT-014019');
    expect(objects(programme, 'refMunicipality').sort()).toEqual(Object.keys(MUNICIPALITIES).map((c) => `urn:ngsi-ld:PublicOrganization:IT-ISTAT-${c}`).sort());
  });

  it('has the six thematic corridors of the programme', () => {
    const corridors = ofType('ThematicCorridor');
    expect(corridors.map((c) => value(c, 'name'))).toEqual([
      'Mobility', 'Water', 'Energy Efficiency', 'Territorial Development and Regeneration', 'Quality of Life', 'Digitalization',
    ]);
    for (const c of corridors) expect(object(c, 'refTerritorialProgramme')).toBe(PROGRAMME);
  });

  it('has the four municipalities under their ISTAT codes, with facts and sources', () => {
    const municipalities = ofType('PublicOrganization');
    expect(municipalities).toHaveLength(4);
    for (const m of municipalities) {
      const code = value(m, 'istatCode') as keyof typeof MUNICIPALITIES;
      expect(m.id).toBe(`urn:ngsi-ld:PublicOrganization:IT-ISTAT-${code}`);
      expect(value(m, 'preferredLabel')).toBe(`Comune di ${MUNICIPALITIES[code]}`);
      expect(m.location).toEqual({ type: 'GeoProperty', value: { type: 'Point', coordinates: [expect.any(Number), expect.any(Number)] } });
      expect(m.altitude).toEqual({ type: 'Property', value: expect.any(Number), unitCode: 'MTR' });
      expect(m.surfaceArea).toEqual({ type: 'Property', value: expect.any(Number), unitCode: 'KMK' });
      expect(value(m, 'population')).toEqual(expect.any(Number));
      expect(value(m, 'source')).toMatch(/^https?:\/\//);
    }
  });

  it('has sample projects, marked as samples, spread over every corridor and municipality', () => {
    const projects = ofType('Project');
    expect(projects.length).toBeGreaterThanOrEqual(12);
    for (const p of projects) {
      expect(value(p, 'isSample')).toBe(true);
      expect(value(p, 'description')).toMatch(/SAMPLE/);
      expect(object(p, 'refTerritorialProgramme')).toBe(PROGRAMME);
    }
    const corridors = new Set(projects.map((p) => object(p, 'refThematicCorridor')));
    expect([...corridors].sort()).toEqual(ofType('ThematicCorridor').map((c) => c.id).sort());
    const municipalities = new Set(projects.flatMap((p) => objects(p, 'refMunicipality')));
    expect([...municipalities].sort()).toEqual(ofType('PublicOrganization').map((m) => m.id).sort());
  });

  it('marks everything that is not a fact as a sample, located in the valley', () => {
    const facts = new Set(['TerritorialProgramme', 'ThematicCorridor', 'PublicOrganization']);
    for (const e of entities.filter((x) => !facts.has(x.type as string))) {
      expect([e.id, value(e, 'isSample')]).toEqual([e.id, true]);
      const location = value(e, 'location') as { type: string; coordinates: number[] } | undefined;
      if (location?.type === 'Point') {
        const [lon, lat] = location.coordinates;
        expect([e.id, lon > 9.8 && lon < 9.95 && lat > 46.2 && lat < 46.3]).toEqual([e.id, true]);
      }
    }
  });
});
