import type { FastifyInstance } from 'fastify';
import { openTestApp, linkHeader } from '../helpers/app';
import { client, expectProblem, expectStatus, json, uid, type Client, type Res } from '../helpers/ngsi';
import { ENTITY_TYPES } from '../../src/domain/sdm-types';
import { detectDelimiter, memberTypes } from '../../src/ingest/formats';

/** Contractor API input forms other than JSON: NDJSON and CSV (quoting, BOM, separators, decimal commas). */

let app: FastifyInstance;
let c: Client;

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
});
afterAll(async () => app?.close());

type Json = Record<string, any>;
const API = '/api/v1';

const send = (type: string, contentType: string, payload: string, headers: Record<string, string> = {}, query = ''): Promise<Res> =>
  c.inject({ method: 'POST', url: `${API}/entities/${type}${query}`, headers: { 'content-type': contentType, ...headers }, payload });
const csv = (type: string, text: string, headers: Record<string, string> = {}, query = '') => send(type, 'text/csv', text, headers, query);

/** The stored entity in keyValues form, read with its type's @context. */
const keyValues = async (type: string, id: string): Promise<Json> =>
  c.entity(id, '?options=keyValues', { Link: linkHeader(ENTITY_TYPES.get(type)!.context) });

const results = (res: Res): { accepted: number; rejected: number; items: Json[] } => json(res);

describe('NDJSON', () => {
  const line = (id: string, t = 10) =>
    JSON.stringify({ id, type: 'WeatherObserved', dateObserved: '2024-05-01T10:00:00Z', location: { type: 'Point', coordinates: [9.85, 46.27] }, temperature: t });

  test('one item per line, blank lines ignored, CRLF accepted; line numbers in results', async () => {
    const ids = [uid('WeatherObserved'), uid('WeatherObserved')];
    const body = `${line(ids[0], 1)}\r\n\r\n   \n${line(ids[1], 2)}\n`;
    const res = expectStatus(await send('WeatherObserved', 'application/x-ndjson', body), 200);
    expect(results(res).items).toEqual([
      { index: 0, line: 1, id: ids[0], status: 'accepted' },
      { index: 1, line: 4, id: ids[1], status: 'accepted' },
    ]);
    expect((await keyValues('WeatherObserved', ids[1])).temperature).toBe(2);
  });

  test('application/ndjson too; a broken line is rejected with its line number, the rest stored', async () => {
    const ok = uid('WeatherObserved');
    const body = `{"id": "broken\n[1,2]\n${line(ok)}\n`;
    const res = expectStatus(await send('WeatherObserved', 'application/ndjson; charset=utf-8', body), 207);
    const items = results(res).items;
    expect(items[0]).toEqual({ index: 0, line: 1, status: 'rejected', errors: [{ pointer: '/', reason: expect.stringMatching(/^line 1: invalid JSON/) }] });
    expect(items[1]).toEqual({ index: 1, line: 2, status: 'rejected', errors: [{ pointer: '/', reason: 'line 2: must be a JSON object' }] });
    expect(items[2]).toEqual({ index: 2, line: 3, id: ok, status: 'accepted' });
  });

  test('ParkingSpot over NDJSON with a schema error', async () => {
    const id = uid('ParkingSpot');
    const spot = { id, type: 'ParkingSpot', location: { type: 'Point', coordinates: [9.85, 46.27] }, status: 'free', category: ['onStreet'], refParkingSite: 'urn:ngsi-ld:OnStreetParking:1' };
    const body = [JSON.stringify(spot), JSON.stringify({ ...spot, id: uid('ParkingSpot'), status: 'maybe' })].join('\n');
    const items = results(expectStatus(await send('ParkingSpot', 'application/x-ndjson', body), 207)).items;
    expect(items[0].status).toBe('accepted');
    expect(items[1].errors[0]).toEqual({ pointer: '/status', reason: 'must be one of "closed", "free", "occupied", "unknown"' });
    expect((await keyValues('ParkingSpot', id)).status).toBe('free');
  });

  test('only blank lines → 400', async () => {
    expectProblem(await send('WeatherObserved', 'application/x-ndjson', '\n\n'), 400, 'BadRequestData');
  });
});

describe('CSV', () => {
  test('comma-separated, typed by the schema, dotted columns, lon/lat → GeoJSON Point', async () => {
    const id = uid('WeatherObserved');
    const text = [
      'id,dateObserved,temperature,relativeHumidity,pressureTendency,location.lon,location.lat,address.addressLocality,address.postalCode,refDevice,name',
      `${id},2024-05-01T10:00:00Z,-3.5,0.61,steady,9.85,46.2667,Chiesa in Valmalenco,23023,urn:ngsi-ld:Device:d1,007`,
    ].join('\n');
    const res = expectStatus(await csv('WeatherObserved', text), 200);
    expect(results(res).items).toEqual([{ index: 0, line: 2, id, status: 'accepted' }]);
    expect(await keyValues('WeatherObserved', id)).toEqual({
      id,
      type: 'WeatherObserved',
      dateObserved: { '@type': 'DateTime', '@value': '2024-05-01T10:00:00Z' },
      temperature: -3.5,
      relativeHumidity: 0.61,
      pressureTendency: 'steady',
      location: { type: 'Point', coordinates: [9.85, 46.2667] },
      address: { addressLocality: 'Chiesa in Valmalenco', postalCode: '23023' },
      refDevice: 'urn:ngsi-ld:Device:d1',
      name: '007', // a string member stays a string
    });
  });

  test('quoted fields with separators, line breaks and quotes; empty cells are absent', async () => {
    const id = uid('WeatherObserved');
    const id2 = uid('WeatherObserved');
    const text =
      'id,name,description,dateObserved,location.lon,location.lat,temperature\r\n' +
      `${id},"Rifugio ""Bignami"", Valmalenco","first line\r\nsecond, with comma",2024-05-01T10:00:00Z,9.85,46.27,\r\n` +
      `"${id2}",,,2024-05-01T10:00:00Z,9.85,46.27,"4"\r\n`;
    const res = expectStatus(await csv('WeatherObserved', text), 200);
    expect(results(res).items.map((i) => [i.index, i.line, i.id])).toEqual([[0, 2, id], [1, 4, id2]]);
    const e = await keyValues('WeatherObserved', id);
    expect([e.name, e.description, e.temperature]).toEqual(['Rifugio "Bignami", Valmalenco', 'first line\r\nsecond, with comma', undefined]);
    const e2 = await keyValues('WeatherObserved', id2);
    expect([e2.name, e2.temperature]).toEqual([undefined, 4]);
  });

  test('BOM, semicolons and decimal commas (Italian spreadsheet export)', async () => {
    const id = uid('WeatherObserved');
    const text = `\ufeffid;dateObserved;temperature;relativeHumidity;location.lon;location.lat;name\n\n${id};2024-05-01T10:00:00Z;12,5;0,6;9,85;46,2667;"Caspoggio; centro"\n`;
    expect(results(expectStatus(await csv('WeatherObserved', text), 200)).items).toEqual([{ index: 0, line: 3, id, status: 'accepted' }]);
    const e = await keyValues('WeatherObserved', id);
    expect([e.temperature, e.relativeHumidity, e.location.coordinates, e.name]).toEqual([12.5, 0.6, [9.85, 46.2667], 'Caspoggio; centro']);
  });

  test('tab-separated, with GeoJSON in location.type/location.coordinates columns and a JSON array', async () => {
    const id = uid('ParkingSpot');
    const text = `id\tlocation.type\tlocation.coordinates\tstatus\tcategory\trefParkingSite\twidth\n` +
      `${id}\tPoint\t[9.86,46.26]\toccupied\tonStreet\turn:ngsi-ld:OnStreetParking:p1\t2.5\n`;
    expectStatus(await csv('ParkingSpot', text, { 'content-type': 'text/csv; charset=utf-8' }), 200);
    const e = await keyValues('ParkingSpot', id);
    expect(e).toEqual(expect.objectContaining({
      location: { type: 'Point', coordinates: [9.86, 46.26] }, status: 'occupied', category: ['onStreet'], width: 2.5,
    }));
  });

  test('Streetlight: a GeoJSON location cell; TrafficFlowObserved: booleans and integers typed by the schema', async () => {
    const light = uid('Streetlight');
    const text = `id,location,status,powerState,illuminanceLevel,lanternHeight\n${light},"{""type"":""Point"",""coordinates"":[9.85,46.26]}",ok,on,0.8,10\n`;
    expectStatus(await csv('Streetlight', text), 200);
    const e = await keyValues('Streetlight', light);
    expect([e.location, e.powerState, e.illuminanceLevel, e.lanternHeight]).toEqual([{ type: 'Point', coordinates: [9.85, 46.26] }, 'on', 0.8, 10]);

    const flow = uid('TrafficFlowObserved');
    const rows = `id;dateObserved;congested;reversedLane;laneId;intensity\n${flow};2024-05-01T10:00:00Z;TRUE;false;2;17,5\n`;
    expectStatus(await csv('TrafficFlowObserved', rows), 200);
    const f = await keyValues('TrafficFlowObserved', flow);
    expect([f.congested, f.reversedLane, f.laneId, f.intensity]).toEqual([true, false, 2, 17.5]);
    // 1.5 is a number but not an integer; "yes" is not a boolean
    const bad = `id;dateObserved;congested;laneId\n${uid('TrafficFlowObserved')};2024-05-01T10:00:00Z;yes;1,5\n`;
    const errors = results(expectStatus(await csv('TrafficFlowObserved', bad), 422)).items[0].errors;
    expect(errors).toHaveLength(2);
    expect(errors).toEqual(expect.arrayContaining([
      { pointer: '/congested', reason: 'must be boolean' },
      { pointer: '/laneId', reason: 'must be integer' },
    ]));
  });

  test('rows that do not fit are rejected with line and pointer, the others stored (207)', async () => {
    const ok = uid('WeatherObserved');
    const text = [
      'id,dateObserved,temperature,relativeHumidity,location.lon,location.lat',
      `${ok},2024-05-01T10:00:00Z,10,0.5,9.85,46.27`,
      `${uid('WeatherObserved')},2024-05-01T10:00:00Z,warm,55,9.85,46.27`, // not a number, a percentage
      `${uid('WeatherObserved')},2024-13-01T10:00:00Z,10,0.5,9.85`, // one field short
      `${uid('WeatherObserved')},01/05/2024,10,0.5,9.85,`, // local date, lat missing
    ].join('\n');
    const items = results(expectStatus(await csv('WeatherObserved', text), 207)).items;
    expect(items.map((i) => [i.index, i.line, i.status])).toEqual([[0, 2, 'accepted'], [1, 3, 'rejected'], [2, 4, 'rejected'], [3, 5, 'rejected']]);
    expect(items[1].errors).toEqual(expect.arrayContaining([
      { pointer: '/temperature', reason: 'must be number' },
      { pointer: '/relativeHumidity', reason: 'must be <= 1' },
    ]));
    expect(items[2].errors).toEqual([{ pointer: '/', reason: 'line 4: the row has 5 fields, the header 6' }]);
    expect(items[3].errors).toEqual([{ pointer: '/location', reason: 'line 5: location.lon and location.lat must both be given' }]);
  });

  test('a bad date in a CSV cell', async () => {
    const text = `id,dateObserved,location.lon,location.lat\n${uid('WeatherObserved')},2024-05-01 10:00,9.85,46.27\n`;
    const items = results(expectStatus(await csv('WeatherObserved', text), 422)).items;
    expect(items[0].errors).toEqual([{ pointer: '/dateObserved', reason: 'must be a valid date-time' }]);
  });

  test('atomic CSV: one bad row → nothing written', async () => {
    const ok = uid('WeatherObserved');
    const text = `id,dateObserved,location.lon,location.lat\n${ok},2024-05-01T10:00:00Z,9.85,46.27\nnot-a-uri,2024-05-01T10:00:00Z,9.85,46.27\n`;
    expectStatus(await csv('WeatherObserved', text, {}, '?atomic=true'), 422);
    expect((await c.get(`/ngsi-ld/v1/entities/${encodeURIComponent(ok)}`)).statusCode).toBe(404);
  });

  test('Idempotency-Key works on CSV bodies', async () => {
    const key = `csv-${uid()}`;
    const text = `id,dateObserved,location.lon,location.lat\n${uid('WeatherObserved')},2024-05-01T10:00:00Z,9.85,46.27\n`;
    expectStatus(await csv('WeatherObserved', text, { 'Idempotency-Key': key }), 200);
    expect((await csv('WeatherObserved', text, { 'Idempotency-Key': key })).headers['idempotent-replayed']).toBe('true');
    expectProblem(await csv('WeatherObserved', text + `${uid('WeatherObserved')},2024-05-01T10:00:00Z,9.85,46.27\n`, { 'Idempotency-Key': key }), 409, 'AlreadyExists');
  });

  test('malformed CSV → 400 with the line', async () => {
    const p = expectProblem(await csv('WeatherObserved', 'id,name\nurn:ngsi-ld:WeatherObserved:x,"unclosed\n'), 400, 'BadRequestData');
    expect(p.detail).toMatch(/invalid CSV at line 2/);
    expectProblem(await csv('WeatherObserved', 'id,name,name\nurn:a:b,x,y\n'), 400, 'BadRequestData');
    expectProblem(await csv('WeatherObserved', 'id,,name\nurn:a:b,x,y\n'), 400, 'BadRequestData');
    expectProblem(await csv('WeatherObserved', 'id,name\n'), 400, 'BadRequestData');
    expectProblem(await csv('WeatherObserved', ''), 400, 'BadRequestData');
  });

  test('delimiter detection and schema typing', () => {
    expect(detectDelimiter('a;b;c\n1,5;2;3')).toBe(';');
    expect(detectDelimiter('a\tb,c\tx')).toBe('\t');
    expect(detectDelimiter('"a;b",c')).toBe(',');
    expect(detectDelimiter('single')).toBe(',');
    expect(memberTypes('WeatherObserved', ['temperature'])).toEqual(new Set(['number']));
    expect(memberTypes('WeatherObserved', ['pressureTendency'])).toEqual(new Set(['string', 'number']));
    expect(memberTypes('WeatherObserved', ['location', 'coordinates']).has('array')).toBe(true);
    expect(memberTypes('WeatherObserved', ['address', 'postalCode'])).toEqual(new Set(['string']));
  });
});
