import { openTestDb } from '../helpers/db';
import type { Db } from '../../src/store/db';
import { SqlParams } from '../../src/store/sql';
import { parseQ } from '../../src/ngsi-ld/query/q';
import { qToSql } from '../../src/ngsi-ld/query/q-sql';
import { parseScopeQ, scopeQToSql } from '../../src/ngsi-ld/query/scope';
import type { Attributes } from '../../src/ngsi-ld/types';

const NS = 'https://example.org/ns/';
/** a stand-in for the request's @context: compact terms live in NS, IRIs and compact IRIs stay */
const expand = (term: string): string => (term.includes(':') ? term : NS + term);

const TENANT = 'qtest';
const E1 = 'urn:ngsi-ld:Thing:1';
const E2 = 'urn:ngsi-ld:Thing:2';
const E3 = 'urn:ngsi-ld:Thing:3';
const E4 = 'urn:ngsi-ld:Thing:4';

/** attributes written with compact names, stored expanded as the engine would */
const attrs = (compact: Record<string, object | object[]>): Attributes =>
  Object.fromEntries(
    Object.entries(compact).map(([name, inst]) => [expand(name), (Array.isArray(inst) ? inst : [inst]) as Attributes[string]]),
  );

const FIXTURES: { id: string; scopes: string[] | null; attrs: Attributes }[] = [
  {
    id: E1,
    scopes: ['/Valmalenco/Water'],
    attrs: attrs({
      temperature: { type: 'Property', value: 20, observedAt: '2020-06-01T10:00:00Z', unitCode: 'CEL' },
      name: { type: 'Property', value: 'Sondrio' },
      refPark: { type: 'Relationship', object: 'urn:ngsi-ld:Park:1' },
      address: { type: 'Property', value: { city: 'Berlin', zip: '10115', street: { no: 5 } } },
      tags: { type: 'Property', value: ['a', 'b'] },
      category: { type: 'VocabProperty', vocab: NS + 'commercial' },
    }),
  },
  {
    id: E2,
    scopes: ['/Valmalenco/Energy/Lanzada'],
    attrs: attrs({
      temperature: {
        type: 'Property',
        value: 25.5,
        observedAt: '2021-01-01T00:00:00Z',
        [NS + 'accuracy']: { type: 'Property', value: 0.5 },
        [NS + 'providedBy']: { type: 'Relationship', object: 'urn:ngsi-ld:Sensor:2' },
      },
      name: { type: 'Property', value: 'sondrio basso' },
      refPark: { type: 'Relationship', object: ['urn:ngsi-ld:Park:2', 'urn:ngsi-ld:Park:3'] },
      counter: { type: 'Property', value: '5' },
      flag: { type: 'Property', value: true },
    }),
  },
  {
    id: E3,
    scopes: null,
    attrs: attrs({
      temperature: [
        { type: 'Property', value: 5 },
        { type: 'Property', value: 40, datasetId: 'urn:ngsi-ld:Dataset:2' },
      ],
      title: { type: 'LanguageProperty', languageMap: { en: 'Lake', it: ['Lago', 'Laghetto'] } },
      measurements: { type: 'ListProperty', valueList: [1, 7, 12] },
      members: { type: 'ListRelationship', objectList: [{ object: 'urn:ngsi-ld:P:1' }, { object: 'urn:ngsi-ld:P:2' }] },
      config: { type: 'JsonProperty', json: { mode: 'eco', level: 3 } },
      counter: { type: 'Property', value: 5 },
      flag: { type: 'Property', value: false },
    }),
  },
  {
    id: E4,
    scopes: ['/Caspoggio', '/Valmalenco/Water/Pipes'],
    attrs: attrs({
      name: { type: 'Property', value: 'Chiesa; (in) "Valmalenco" \'s' },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85, 46.26] } },
      'https://example.org/a.b': { type: 'Property', value: 1 },
    }),
  },
];

let db: Db;
beforeAll(async () => {
  db = await openTestDb();
  for (const e of FIXTURES) {
    await db.query(
      `INSERT INTO entities (tenant, id, types, scopes, created_at, modified_at, attrs)
       VALUES ($1, $2, $3, $4, now(), now(), $5::jsonb)`,
      [TENANT, e.id, [NS + 'Thing'], e.scopes, JSON.stringify(e.attrs)],
    );
  }
});
afterAll(() => db.close());

async function idsMatchingQ(q: string): Promise<string[]> {
  const params = new SqlParams([TENANT]);
  const where = qToSql(parseQ(q), { expand, params, attrsColumn: 'e.attrs' });
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM entities e WHERE e.tenant = $1 AND ${where} ORDER BY e.id`,
    params.values,
  );
  return rows.map((r) => r.id);
}

async function idsMatchingScopeQ(scopeQ: string): Promise<string[]> {
  const params = new SqlParams([TENANT]);
  const where = scopeQToSql(parseScopeQ(scopeQ), { params, scopesColumn: 'e.scopes' });
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id FROM entities e WHERE e.tenant = $1 AND ${where} ORDER BY e.id`,
    params.values,
  );
  return rows.map((r) => r.id);
}

const cases = (list: [string, string[]][]) => list;

describe('q against the store', () => {
  test.each(cases([
    ['temperature', [E1, E2, E3]],
    ['!temperature', [E4]],
    ['temperature==20', [E1]],
    ['temperature==25.5', [E2]],
    ['temperature>=20', [E1, E2, E3]], // E3: its dataset instance is 40
    ['temperature<10', [E3]],
    ['temperature>-1e1;temperature<2.1e1', [E1, E3]],
    ['temperature==1..22', [E1, E3]],
    ['temperature==20,40', [E1, E3]],
    ['temperature!=20', [E2, E3]],
    ['temperature!=1..22', [E2]],
    ['temperature!=20,25.5', [E3]],
  ]))('numbers: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['temperature.observedAt', [E1, E2]],
    ['temperature.observedAt>=2020-12-31T00:00:00Z', [E2]],
    ['temperature.observedAt==2020-01-01T00:00:00Z..2020-12-31T23:59:59Z', [E1]],
    ['temperature.unitCode=="CEL"', [E1]],
    ['temperature.unitCode=="FAH","CEL"', [E1]],
    ['temperature.unitCode~=^C', [E1]],
    ['temperature.datasetId==urn:ngsi-ld:Dataset:2', [E3]],
    ['temperature.accuracy', [E2]],
    ['temperature.accuracy<1', [E2]],
    ['temperature.providedBy==urn:ngsi-ld:Sensor:2', [E2]],
    ['!temperature.accuracy', [E1, E3, E4]],
  ]))('metadata and sub-attributes: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['name=="Sondrio"', [E1]],
    ['name==Sondrio', [E1]],
    ['name>"T"', [E2]],
    ['name=="Chiesa; (in) \\"Valmalenco\\" \'s"', [E4]],
    ['name=="x\'); DROP TABLE entities; --"', []],
    ['name~=(?i)^sondrio', [E1, E2]],
    ['name~=^sondrio', [E2]],
    ['name~=\\bbasso$', [E2]],
    ['name!~=(?i)^sondrio', [E4]],
    ['name~="\\"Valmalenco\\""', [E4]],
    ['counter==5', [E3]],
    ['counter=="5"', [E2]],
    ['flag==true', [E2]],
    ['flag==false', [E3]],
    ['flag!=true', [E3]],
    ['tags=="b"', [E1]],
    ['https://example.org/a.b==1', [E4]],
  ]))('properties: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['address[city]=="Berlin"', [E1]],
    ['address[street][no]==5', [E1]],
    ['address[city]', [E1]],
    ['address[country]', []],
    ['address[city]~=^Ber', [E1]],
    ['config[mode]=="eco"', [E3]],
    ['config[level]>2', [E3]],
  ]))('compound values: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['refPark==urn:ngsi-ld:Park:1', [E1]],
    ['refPark=="urn:ngsi-ld:Park:3"', [E2]],
    ['refPark==urn:ngsi-ld:Park:9,urn:ngsi-ld:Park:2', [E2]],
    ['refPark!=urn:ngsi-ld:Park:1', [E2]],
    ['refPark>"urn"', []], // relationships only take part in == and !=
    ['members==urn:ngsi-ld:P:2', [E3]],
    ['category==commercial', [E1]],
    ['category=="https://example.org/ns/commercial"', [E1]],
  ]))('relationships and vocabularies: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['title=="Lago"', [E3]],
    ['title[it]=="Laghetto"', [E3]],
    ['title[en]=="Lago"', []],
    ['title~=^Lag', [E3]],
    ['measurements==7', [E3]],
    ['measurements>10', [E3]],
    ['measurements==8..11', []], // one element must be within both bounds
    ['measurements==10..12', [E3]],
  ]))('language maps and lists: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test.each(cases([
    ['(temperature>21|name=="Sondrio");refPark', [E1, E2]],
    ['temperature>21|name=="Sondrio";refPark', [E1, E2, E3]],
    ['temperature;!refPark', [E3]],
    ['((temperature==5));counter==5|location', [E3, E4]],
  ]))('logic: %s', async (q, expected) => {
    expect(await idsMatchingQ(q)).toEqual(expected);
  });

  test('user text reaches SQL only as parameters', () => {
    const params = new SqlParams();
    const sql = qToSql(parseQ('name=="x\'); DROP TABLE entities; --";a.b~=(?i)y'), { expand, params, attrsColumn: 'attrs' });
    expect(sql).toBe('(attrs @? $1::jsonpath AND jsonb_path_exists(attrs, $2::jsonpath))');
    expect(params.values[0]).toContain('"x\'); DROP TABLE entities; --"');
  });
});

describe('scopeQ against the store', () => {
  test.each(cases([
    ['/Valmalenco/Water', [E1]],
    ['/Valmalenco', []],
    ['/Valmalenco/#', [E1, E2, E4]],
    ['/Valmalenco/+', [E1]],
    ['/Valmalenco/+/+', [E2, E4]],
    ['/+/Water/#', [E1, E4]],
    ['/#', [E1, E2, E4]],
    ['/Caspoggio;/Valmalenco/#', [E4]],
    ['/Caspoggio|/Valmalenco/Energy/#', [E2, E4]],
    ['(/Caspoggio|/Valmalenco/Energy/#);/Valmalenco/+/Pipes', [E4]],
    ['/Valmalenc./#', []], // level names are literal, not regexes
  ]))('%s', async (scopeQ, expected) => {
    expect(await idsMatchingScopeQ(scopeQ)).toEqual(expected);
  });
});

describe('index use', () => {
  beforeAll(async () => {
    await db.query(
      `INSERT INTO entities (tenant, id, types, created_at, modified_at, attrs)
       SELECT 'bulk', 'urn:ngsi-ld:Bulk:' || i, ARRAY[$1], now(), now(),
              jsonb_build_object($2::text, jsonb_build_array(jsonb_build_object('type', 'Property', 'value', i)),
                                 $3::text, jsonb_build_array(jsonb_build_object('type', 'Relationship', 'object', 'urn:ngsi-ld:Park:' || i)))
       FROM generate_series(1, 5000) AS i`,
      [NS + 'Bulk', NS + 'temperature', NS + 'refPark'],
    );
    await db.query('ANALYZE entities');
  });

  const planOf = async (q: string): Promise<string> => {
    const params = new SqlParams();
    const where = qToSql(parseQ(q), { expand, params, attrsColumn: 'attrs' });
    return db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM entities WHERE ${where}`, params.values);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
  };

  test.each(['temperature==20', 'refPark==urn:ngsi-ld:Park:7', 'address[city]=="Berlin"', 'temperature==1,2,3'])(
    '%s can use the GIN index on attrs',
    async (q) => expect(await planOf(q)).toMatch(/Bitmap Index Scan on entities_attrs/),
  );

  // the index cannot narrow these, so they must not lure the planner into a bitmap over every row
  test.each(['temperature.observedAt>2020-01-01T00:00:00Z', 'name~=^Sondrio', 'temperature==1..5'])(
    '%s is a filter, not a GIN index scan',
    async (q) => expect(await planOf(q)).not.toMatch(/entities_attrs/),
  );
});
