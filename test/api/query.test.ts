import type { FastifyInstance } from 'fastify';
import { openTestApp } from '../helpers/app';
import { BASE, client, expectProblem, expectStatus, json, utype, type Client } from '../helpers/ngsi';

/** GET /entities and POST /entityOperations/query (spec 5.7.2, 5.7.3, 4.9 q, 4.10 geo, 4.17 types, 4.19 scopeQ). */

let app: FastifyInstance;
let c: Client;

// one type per file run, so that other tests' data never mixes in
const T = utype('Q');
const T2 = utype('R');
const id = (n: number) => `urn:ngsi-ld:${T}:${n}`;

const point = (lon: number, lat: number) => ({ type: 'Point', coordinates: [lon, lat] });
const square = (lon: number, lat: number, d: number) => ({
  type: 'Polygon',
  coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
});

// Chiesa in Valmalenco ≈ (9.85, 46.26); Lanzada ≈ 2 km away; Milan ≈ 100 km away
const DATA = [
  {
    id: id(1),
    type: T,
    scope: '/Valmalenco/Water',
    temp: { type: 'Property', value: 10, observedAt: '2024-01-01T00:00:00Z', unitCode: 'CEL' },
    name: 'alpha',
    address: { type: 'Property', value: { city: 'Sondrio', zip: 23100 } },
    refPark: { type: 'Relationship', object: 'urn:ngsi-ld:Park:1' },
    label: { type: 'LanguageProperty', languageMap: { en: 'Lake', it: 'Lago' } },
    location: { type: 'GeoProperty', value: point(9.85, 46.26) },
    area: { type: 'GeoProperty', value: square(9.8, 46.2, 0.1) },
    flag: true,
    dateObserved: { type: 'Property', value: { '@type': 'DateTime', '@value': '2024-01-15T08:00:00Z' } },
  },
  {
    id: id(2),
    type: T,
    scope: '/Valmalenco/Energy',
    temp: { type: 'Property', value: 20, accuracy: { type: 'Property', value: 0.5 } },
    name: 'beta',
    address: { type: 'Property', value: { city: 'Milano', zip: 20100 } },
    refPark: { type: 'Relationship', object: 'urn:ngsi-ld:Park:2' },
    location: { type: 'GeoProperty', value: point(9.19, 45.46) },
    area: { type: 'GeoProperty', value: square(9.1, 45.4, 0.2) },
    flag: false,
    dateObserved: { type: 'Property', value: { '@type': 'DateTime', '@value': '2024-03-01T12:00:00Z' } },
  },
  {
    id: id(3),
    type: T,
    scope: ['/Lanzada'],
    temp: 30,
    name: 'Gamma',
    location: { type: 'GeoProperty', value: point(9.87, 46.27) },
  },
  { id: id(4), type: [T, T2], temp: 25.5, name: 'delta' },
  { id: id(5), type: T2, name: 'epsilon', temp: 'warm' },
];

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  expectStatus(await c.post(`${BASE}/entityOperations/create`, DATA), 201);
});
afterAll(async () => app?.close());

/** GET /entities?<query>: the sorted ids (asserting 200). */
async function ids(query: string, headers: Record<string, string> = {}): Promise<string[]> {
  const res = await c.get(`${BASE}/entities?${query}`, headers);
  expectStatus(res, 200);
  return json<{ id: string }[]>(res).map((e) => e.id).sort();
}
const idsOf = (...n: number[]) => n.map(id).sort();
const enc = encodeURIComponent;

describe('entity selection', () => {
  test('type', async () => {
    expect(await ids(`type=${T}`)).toEqual(idsOf(1, 2, 3, 4));
  });
  test('type expressions: , | ; ()', async () => {
    expect(await ids(`type=${T},${T2}`)).toEqual(idsOf(1, 2, 3, 4, 5));
    expect(await ids(`type=${T}|${T2}`)).toEqual(idsOf(1, 2, 3, 4, 5));
    expect(await ids(`type=${T};${T2}`)).toEqual(idsOf(4));
    expect(await ids(`type=(${T};${T2})|Nothing`)).toEqual(idsOf(4));
    expect(await ids(`type=${enc(`(${T2}|Nothing);${T}`)}`)).toEqual(idsOf(4));
  });
  test('type given as a full IRI', async () => {
    expect(await ids(`type=${enc('https://uri.etsi.org/ngsi-ld/default-context/' + T2)}`)).toEqual(idsOf(4, 5));
  });
  test('id list, and id with type', async () => {
    expect(await ids(`id=${id(1)},${id(3)}`)).toEqual(idsOf(1, 3));
    expect(await ids(`id=${id(1)},${id(5)}&type=${T2}`)).toEqual(idsOf(5));
  });
  test('idPattern', async () => {
    expect(await ids(`idPattern=${enc(`^urn:ngsi-ld:${T}:[12]$`)}`)).toEqual(idsOf(1, 2));
    expect(await ids(`type=${T}&idPattern=${enc(':[34]$')}`)).toEqual(idsOf(3, 4));
  });
  test('attrs selects entities that have one of them, and projects', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${T}&attrs=address,refPark`), 200);
    const body = json(res);
    expect(body.map((e: any) => e.id).sort()).toEqual(idsOf(1, 2));
    for (const e of body) expect(Object.keys(e).filter((k) => k !== 'scope').sort()).toEqual(['address', 'id', 'refPark', 'type']);
  });
  test('pick and omit', async () => {
    const picked = json(expectStatus(await c.get(`${BASE}/entities?id=${id(1)}&pick=id,name`), 200));
    expect(picked).toEqual([{ id: id(1), name: { type: 'Property', value: 'alpha' } }]);
    const omitted = json(expectStatus(await c.get(`${BASE}/entities?id=${id(3)}&omit=location,temp,scope`), 200));
    expect(omitted).toEqual([{ id: id(3), type: T, name: { type: 'Property', value: 'Gamma' } }]);
  });
  test('no match → 200 []', async () => {
    expect(await ids('type=NoSuchType')).toEqual([]);
  });
  test('too broad a query → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities`), 400, 'BadRequestData');
  });
});

describe('q', () => {
  const q = (expr: string, extra = `type=${T},${T2}`) => ids(`${extra}&q=${enc(expr)}`);

  test('comparisons on numbers', async () => {
    expect(await q('temp>15')).toEqual(idsOf(2, 3, 4));
    expect(await q('temp>=20')).toEqual(idsOf(2, 3, 4));
    expect(await q('temp<20')).toEqual(idsOf(1));
    expect(await q('temp<=20')).toEqual(idsOf(1, 2));
    expect(await q('temp==25.5')).toEqual(idsOf(4));
    expect(await q('temp!=10')).toEqual(idsOf(2, 3, 4, 5));
  });
  test('ranges and lists', async () => {
    expect(await q('temp==10..20')).toEqual(idsOf(1, 2));
    expect(await q('temp==10,30')).toEqual(idsOf(1, 3));
    expect(await q('name=="alpha","beta"')).toEqual(idsOf(1, 2));
    expect(await q('name==alpha,Gamma')).toEqual(idsOf(1, 3));
  });
  test('strings: numbers never equal strings', async () => {
    expect(await q('temp=="warm"')).toEqual(idsOf(5));
    expect(await q('temp==warm')).toEqual(idsOf(5));
    expect(await q('temp=="10"')).toEqual([]);
  });
  test('booleans', async () => {
    expect(await q('flag==true')).toEqual(idsOf(1));
    expect(await q('flag==false')).toEqual(idsOf(2));
  });
  test('regex ~= and !~=, (?i)', async () => {
    expect(await q('name~=^al')).toEqual(idsOf(1));
    expect(await q('name~=gam')).toEqual([]);
    expect(await q('name~=(?i)gam')).toEqual(idsOf(3));
    expect(await q('name!~=a$')).toEqual(idsOf(5));
  });
  test('existence and non-existence', async () => {
    expect(await q('address')).toEqual(idsOf(1, 2));
    expect(await q('!address')).toEqual(idsOf(3, 4, 5));
  });
  test('compound values a[b]', async () => {
    expect(await q('address[city]=="Sondrio"')).toEqual(idsOf(1));
    expect(await q('address[zip]>21000')).toEqual(idsOf(1));
    expect(await q('address[zip]')).toEqual(idsOf(1, 2));
  });
  test('metadata a.observedAt and sub-attributes a.sub', async () => {
    expect(await q('temp.observedAt>="2023-12-31T00:00:00Z"')).toEqual(idsOf(1));
    expect(await q('temp.observedAt>2023-12-31T00:00:00Z')).toEqual(idsOf(1));
    expect(await q('temp.observedAt<2023-12-31T00:00:00Z')).toEqual([]);
    expect(await q('temp.unitCode=="CEL"')).toEqual(idsOf(1));
    expect(await q('temp.accuracy==0.5')).toEqual(idsOf(2));
    expect(await q('temp.accuracy')).toEqual(idsOf(2));
  });
  test('DateTime values ({"@type": "DateTime", "@value": …}) compare by their @value', async () => {
    expect(await q('dateObserved>2024-02-01T00:00:00Z')).toEqual(idsOf(2));
    expect(await q('dateObserved<"2024-02-01T00:00:00Z"')).toEqual(idsOf(1));
    expect(await q('dateObserved==2024-01-01T00:00:00Z..2024-01-31T23:59:59Z')).toEqual(idsOf(1));
    expect(await q('dateObserved==2024-03-01T12:00:00Z')).toEqual(idsOf(2));
    expect(await q('dateObserved!=2024-03-01T12:00:00Z')).toEqual(idsOf(1));
  });
  test('relationships', async () => {
    expect(await q('refPark=="urn:ngsi-ld:Park:1"')).toEqual(idsOf(1));
    expect(await q('refPark==urn:ngsi-ld:Park:2')).toEqual(idsOf(2));
    expect(await q('refPark')).toEqual(idsOf(1, 2));
  });
  test('LanguageProperty: any language, or one language', async () => {
    expect(await q('label=="Lago"')).toEqual(idsOf(1));
    expect(await q('label[it]=="Lago"')).toEqual(idsOf(1));
    expect(await q('label[en]=="Lago"')).toEqual([]);
  });
  test('logical: ; | and parentheses', async () => {
    expect(await q('temp>15;name=="beta"')).toEqual(idsOf(2));
    expect(await q('temp<15|name=="delta"')).toEqual(idsOf(1, 4));
    expect(await q('(temp<15|temp>25);address')).toEqual(idsOf(1));
    expect(await q('temp>25|(name=="alpha";flag==true)')).toEqual(idsOf(1, 3, 4));
  });
  test('q alone (without type) is enough', async () => {
    expect(await ids(`q=${enc(`name=="epsilon"`)}`)).toEqual(idsOf(5));
  });
  test('invalid q → 400', async () => {
    for (const bad of ['temp>', '(temp>1', 'temp===1', 'temp>1;', ';', 'temp==1..', 'temp~=(']) {
      expectProblem(await c.get(`${BASE}/entities?type=${T}&q=${enc(bad)}`), 400, 'BadRequestData');
    }
  });
});

describe('geo-queries', () => {
  const geo = (georel: string, geometry: string, coordinates: unknown, extra = '') =>
    ids(`type=${T}&georel=${enc(georel)}&geometry=${geometry}&coordinates=${enc(JSON.stringify(coordinates))}${extra}`);

  test('near;maxDistance / near;minDistance', async () => {
    expect(await geo('near;maxDistance==5000', 'Point', [9.85, 46.26])).toEqual(idsOf(1, 3));
    expect(await geo('near;maxDistance==100', 'Point', [9.85, 46.26])).toEqual(idsOf(1));
    expect(await geo('near;minDistance==5000', 'Point', [9.85, 46.26])).toEqual(idsOf(2));
    expect(await geo('near;minDistance==1000;maxDistance==5000', 'Point', [9.85, 46.26])).toEqual(idsOf(3));
  });
  test('within', async () => {
    expect(await geo('within', 'Polygon', square(9.8, 46.2, 0.1).coordinates)).toEqual(idsOf(1, 3));
  });
  test('intersects, disjoint', async () => {
    expect(await geo('intersects', 'Polygon', square(9.0, 45.0, 1).coordinates)).toEqual(idsOf(2));
    expect(await geo('disjoint', 'Polygon', square(9.0, 45.0, 1).coordinates)).toEqual(idsOf(1, 3));
  });
  test('equals', async () => {
    expect(await geo('equals', 'Point', [9.87, 46.27])).toEqual(idsOf(3));
  });
  test('custom geoproperty: contains, overlaps, within', async () => {
    expect(await geo('contains', 'Point', [9.85, 46.25], '&geoproperty=area')).toEqual(idsOf(1));
    expect(await geo('overlaps', 'Polygon', square(9.85, 46.25, 0.1).coordinates, '&geoproperty=area')).toEqual(idsOf(1));
    expect(await geo('within', 'Polygon', square(9.0, 45.0, 1).coordinates, '&geoproperty=area')).toEqual(idsOf(2));
    expect(await geo('intersects', 'Point', [9.85, 46.25], '&geoproperty=area')).toEqual(idsOf(1));
  });
  test('geo + q together', async () => {
    expect(await geo('near;maxDistance==5000', 'Point', [9.85, 46.26], `&q=${enc('temp>15')}`)).toEqual(idsOf(3));
  });
  test('invalid geo-queries → 400', async () => {
    const bad = [
      'georel=near&geometry=Point&coordinates=[9,46]',
      'georel=near;maxDistance==x&geometry=Point&coordinates=[9,46]',
      'georel=within&geometry=Point',
      'georel=sideways&geometry=Point&coordinates=[9,46]',
      'georel=within&geometry=Polygon&coordinates=[[[0,0],[1,0],[1,1],[0,0.5]]]',
      'georel=within&geometry=Blob&coordinates=[9,46]',
      'georel=equals&geometry=Point&coordinates=[900,46]',
      'georel=equals&geometry=Point&coordinates=notjson',
      'georel=near;maxDistance==10&geometry=Polygon&coordinates=[[[0,0],[1,0],[1,1],[0,0]]]',
    ];
    for (const b of bad) {
      expectProblem(await c.get(`${BASE}/entities?type=${T}&${b.replace(/\[|\]/g, (m) => enc(m))}`), 400, 'BadRequestData');
    }
  });
});

describe('scopeQ', () => {
  test('exact, /#, +, | and ;', async () => {
    expect(await ids(`type=${T}&scopeQ=${enc('/Valmalenco/Water')}`)).toEqual(idsOf(1));
    expect(await ids(`type=${T}&scopeQ=${enc('/Valmalenco/#')}`)).toEqual(idsOf(1, 2));
    expect(await ids(`type=${T}&scopeQ=${enc('/+/Energy')}`)).toEqual(idsOf(2));
    expect(await ids(`type=${T}&scopeQ=${enc('/Lanzada|/Valmalenco/Water')}`)).toEqual(idsOf(1, 3));
    expect(await ids(`type=${T}&scopeQ=${enc('/#;/Valmalenco')}`)).toEqual([]);
    expect(await ids(`type=${T}&scopeQ=${enc('/Valmalenco')}`)).toEqual([]);
  });
  test('invalid scopeQ → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?type=${T}&scopeQ=noslash`), 400, 'BadRequestData');
  });
});

describe('paging and count', () => {
  const P = utype('Page');
  beforeAll(async () => {
    const many = Array.from({ length: 45 }, (_, i) => ({ id: `urn:ngsi-ld:${P}:${String(i).padStart(3, '0')}`, type: P, i }));
    expectStatus(await c.post(`${BASE}/entityOperations/create`, many), 201);
  });

  test('default limit is 20', async () => {
    expect(await ids(`type=${P}`)).toHaveLength(20);
  });
  test('limit=1000 is allowed; limit=1001 → 400', async () => {
    expect(await ids(`type=${P}&limit=1000`)).toHaveLength(45);
    expectProblem(await c.get(`${BASE}/entities?type=${P}&limit=1001`), 400, 'BadRequestData');
  });
  test('invalid limit/offset → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?type=${P}&limit=-1`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?type=${P}&offset=-1`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?type=${P}&limit=abc`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?type=${P}&limit=0`), 400, 'BadRequestData');
  });
  test('offset paging is stable and complete', async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 60; offset += 7) {
      const page = json(expectStatus(await c.get(`${BASE}/entities?type=${P}&limit=7&offset=${offset}`), 200)).map((e: any) => e.id);
      expect(page.length).toBe(Math.max(0, Math.min(7, 45 - offset)));
      seen.push(...page);
    }
    expect(seen).toHaveLength(45);
    expect(new Set(seen).size).toBe(45);
    // the same page twice gives the same ids
    const a = await c.get(`${BASE}/entities?type=${P}&limit=7&offset=14`);
    const b = await c.get(`${BASE}/entities?type=${P}&limit=7&offset=14`);
    expect(json(a)).toEqual(json(b));
  });
  test('count=true sets NGSILD-Results-Count; without count no header', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${P}&count=true&limit=5`), 200);
    expect(res.headers['ngsild-results-count']).toBe('45');
    expect(json(res)).toHaveLength(5);
    const none = await c.get(`${BASE}/entities?type=${P}&limit=5`);
    expect(none.headers['ngsild-results-count']).toBeUndefined();
  });
  test('limit=0&count=true: only the count', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${P}&count=true&limit=0`), 200);
    expect(res.headers['ngsild-results-count']).toBe('45');
    expect(json(res)).toEqual([]);
  });
  test('count with a filter', async () => {
    const res = expectStatus(await c.get(`${BASE}/entities?type=${P}&q=i<10&count=true`), 200);
    expect(res.headers['ngsild-results-count']).toBe('10');
  });
  test('offset beyond the end → []', async () => {
    expect(await ids(`type=${P}&offset=500`)).toEqual([]);
  });
});

describe('options and format on queries', () => {
  test('keyValues / simplified / format=keyValues', async () => {
    for (const p of ['options=keyValues', 'options=simplified', 'format=keyValues', 'format=simplified']) {
      const [e] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(2)}&${p}`), 200));
      expect(e.temp).toBe(20);
      expect(e.refPark).toBe('urn:ngsi-ld:Park:2');
      expect(e.address).toEqual({ city: 'Milano', zip: 20100 });
    }
  });
  test('concise', async () => {
    const [e] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(2)}&options=concise`), 200));
    expect(e.name).toBe('beta');
    expect(e.temp).toEqual({ value: 20, accuracy: 0.5 });
    expect(e.refPark).toEqual({ object: 'urn:ngsi-ld:Park:2' });
  });
  test('sysAttrs', async () => {
    const [e] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(2)}&options=sysAttrs`), 200));
    expect(e.createdAt).toEqual(expect.any(String));
    expect(e.temp.modifiedAt).toEqual(expect.any(String));
  });
  test('keyValues,sysAttrs together', async () => {
    const [e] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(2)}&options=keyValues,sysAttrs`), 200));
    expect(e.temp).toBe(20);
    expect(e.createdAt).toEqual(expect.any(String));
  });
  test('conflicting or unknown options/format → 400', async () => {
    expectProblem(await c.get(`${BASE}/entities?id=${id(2)}&options=keyValues,concise`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?id=${id(2)}&options=bogus`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?id=${id(2)}&format=xml`), 400, 'BadRequestData');
    expectProblem(await c.get(`${BASE}/entities?id=${id(2)}&format=concise&options=keyValues`), 400, 'BadRequestData');
  });
  test('lang picks one language of a LanguageProperty', async () => {
    const [e] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(1)}&lang=it`), 200));
    expect(e.label).toEqual({ type: 'Property', value: 'Lago', lang: 'it' });
    const [kv] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(1)}&lang=en&options=keyValues`), 200));
    expect(kv.label).toBe('Lake');
    const [fallback] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(1)}&lang=fr`), 200));
    expect(fallback.label).toEqual({ type: 'Property', value: expect.any(String), lang: expect.any(String) });
    const [all] = json(expectStatus(await c.get(`${BASE}/entities?id=${id(1)}`), 200));
    expect(all.label).toEqual({ type: 'LanguageProperty', languageMap: { en: 'Lake', it: 'Lago' } });
  });
  test('lang on GET /entities/{id}', async () => {
    const e = await c.entity(id(1), '?lang=it');
    expect(e.label.value).toBe('Lago');
  });
});

describe('POST /entityOperations/query', () => {
  const query = (body: unknown, qs = '', headers: Record<string, string> = {}) =>
    c.post(`${BASE}/entityOperations/query${qs}`, body, headers);
  const idsFrom = (res: any) => json(expectStatus(res, 200)).map((e: any) => e.id).sort();

  test('entities by type', async () => {
    expect(idsFrom(await query({ type: 'Query', entities: [{ type: T }] }))).toEqual(idsOf(1, 2, 3, 4));
  });
  test('several selectors are OR-ed; id and idPattern', async () => {
    const body = { type: 'Query', entities: [{ id: id(1), type: T }, { idPattern: `^urn:ngsi-ld:${T}:[5]$`, type: T2 }] };
    expect(idsFrom(await query(body))).toEqual(idsOf(1, 5));
  });
  test('q, attrs (array), geoQ with array coordinates', async () => {
    const body = {
      type: 'Query',
      entities: [{ type: T }],
      attrs: ['temp', 'name'],
      q: 'temp>5',
      geoQ: { georel: 'near;maxDistance==5000', geometry: 'Point', coordinates: [9.85, 46.26] },
    };
    const res = json(expectStatus(await query(body), 200));
    expect(res.map((e: any) => e.id).sort()).toEqual(idsOf(1, 3));
    for (const e of res) expect(Object.keys(e).filter((k) => k !== 'scope').sort()).toEqual(['id', 'name', 'temp', 'type']);
  });
  test('geoQ with custom geoproperty', async () => {
    const body = { type: 'Query', entities: [{ type: T }], geoQ: { georel: 'contains', geometry: 'Point', coordinates: [9.85, 46.25], geoproperty: 'area' } };
    expect(idsFrom(await query(body))).toEqual(idsOf(1));
  });
  test('scopeQ, pick and lang in the body', async () => {
    const body = { type: 'Query', entities: [{ type: T }], scopeQ: '/Valmalenco/Water', pick: ['id', 'label'], lang: 'it' };
    expect(json(expectStatus(await query(body), 200))).toEqual([{ id: id(1), label: { type: 'Property', value: 'Lago', lang: 'it' } }]);
  });
  test('limit/offset/count/options in the query string', async () => {
    const res = expectStatus(await query({ type: 'Query', entities: [{ type: T }] }, '?limit=2&offset=1&count=true&options=keyValues'), 200);
    expect(res.headers['ngsild-results-count']).toBe('4');
    const body = json(res);
    expect(body.map((e: any) => e.id)).toEqual(idsOf(1, 2, 3, 4).slice(1, 3));
    expect(typeof body[0].name).toBe('string');
    expectProblem(await query({ type: 'Query', entities: [{ type: T }] }, '?limit=1001'), 400, 'BadRequestData');
  });
  test('invalid bodies → 400', async () => {
    expectProblem(await query({ entities: [{ type: T }] }), 400, 'BadRequestData');
    expectProblem(await query({ type: 'NotQuery', entities: [{ type: T }] }), 400, 'BadRequestData');
    expectProblem(await query({ type: 'Query', entities: [] }), 400, 'BadRequestData');
    expectProblem(await query({ type: 'Query', q: 'temp>' }), 400, 'BadRequestData');
    expectProblem(await query({ type: 'Query', entities: [{ type: T }], geoQ: { georel: 'near', geometry: 'Point', coordinates: [9, 46] } }), 400, 'BadRequestData');
    expectProblem(await query({ type: 'Query' }), 400, 'BadRequestData');
  });
});
