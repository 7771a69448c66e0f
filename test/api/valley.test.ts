/**
 * The seeded valley, queried as an integrator would (issue #3): `smartland seed` (runSeed) into a
 * service, then NGSI-LD queries by corridor, municipality and area, all with the vocabulary of the
 * published contexts (Smart Data Models subject contexts + ours, combined in a hosted context).
 */
import type { FastifyInstance } from 'fastify';
import { runSeed, type SeedSummary } from '../../src/cli/seed';
import { seedItems } from '../../src/domain/valmalenco';
import { SMARTLAND_CONTEXT_URL } from '../../src/domain/sdm-types';
import { openTestApp, linkHeader } from '../helpers/app';
import { BASE, client, expectStatus, json, type Client } from '../helpers/ngsi';

const SDG = 'https://smart-data-models.github.io/dataModel.SDG/context.jsonld';
const DEVICE = 'https://smart-data-models.github.io/dataModel.Device/context.jsonld';
const CPSV = 'https://smart-data-models.github.io/dataModel.CPSV-AP/context.jsonld';

const PROGRAMME = 'urn:ngsi-ld:TerritorialProgramme:ITI-InValmalenco';
const corridor = (name: string) => `urn:ngsi-ld:ThematicCorridor:ITI-InValmalenco-${name}`;
const ISTAT = { chiesa: '014019', caspoggio: '014013', lanzada: '014036', spriana: '014062' };
const municipality = (code: string) => `urn:ngsi-ld:PublicOrganization:IT-ISTAT-${code}`;

const items = seedItems();
const ofType = (type: string) => items.filter((i) => i.type === type);
const refs = (v: unknown): string[] => (v === undefined ? [] : [v as string | string[]].flat());

/** great-circle distance in metres (the seed's points are a few km apart: a sphere is plenty) */
function metres([lon1, lat1]: number[], [lon2, lat2]: number[]): number {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.sqrt(a));
}

let app: FastifyInstance;
let c: Client;
let first: SeedSummary;
/** Link headers of hosted contexts: SDG + ours (projects), CPSV-AP + ours (municipalities) */
let projectLink: Record<string, string>;
let orgLink: Record<string, string>;
const deviceLink = { link: linkHeader(DEVICE) };

async function hosted(ctx: string[]): Promise<Record<string, string>> {
  const res = expectStatus(await c.post(`${BASE}/jsonldContexts`, { '@context': ctx }), 201);
  return { link: linkHeader(res.headers.location as string) };
}

const ids = (res: { body: string }) => (json<{ id: string }[]>(res as never)).map((e) => e.id).sort();

async function query(params: string, headers: Record<string, string>): Promise<string[]> {
  return ids(expectStatus(await c.get(`${BASE}/entities?${params}&limit=1000`, headers), 200));
}

beforeAll(async () => {
  ({ app } = await openTestApp());
  c = client(app);
  first = await runSeed({ broker: app.broker, contexts: app.contexts });
  projectLink = await hosted([SDG, SMARTLAND_CONTEXT_URL]);
  orgLink = await hosted([CPSV, SMARTLAND_CONTEXT_URL]);
});

afterAll(async () => {
  await app?.close();
});

describe('the seeded valley', () => {
  test('the seed wrote every entity, all new', () => {
    expect(first.failed).toEqual([]);
    expect(first.total).toBe(items.length);
    expect(first.created).toBe(items.length);
    expect(first.updated).toBe(0);
    expect(first.byType).toEqual(expect.objectContaining({ Project: ofType('Project').length, Device: ofType('Device').length, ThematicCorridor: 6, PublicOrganization: 4 }));
  });

  test('all Water projects in Lanzada: corridor and municipality relationships in one q', async () => {
    const q = encodeURIComponent(`refThematicCorridor=="${corridor('Water')}";refMunicipality=="${municipality(ISTAT.lanzada)}"`);
    const found = await query(`type=Project&q=${q}`, projectLink);
    const expected = ofType('Project')
      .filter((p) => p.refThematicCorridor === corridor('Water') && refs(p.refMunicipality).includes(municipality(ISTAT.lanzada)))
      .map((p) => p.id).sort();
    expect(expected).toEqual(['urn:ngsi-ld:Project:InValmalenco-sample-04']);
    expect(found).toEqual(expected);
  });

  test.each(['Mobility', 'Water', 'EnergyEfficiency', 'TerritorialDevelopmentAndRegeneration', 'QualityOfLife', 'Digitalization'])(
    'all projects of the %s corridor',
    async (name) => {
      const q = encodeURIComponent(`refThematicCorridor=="${corridor(name)}"`);
      const found = await query(`type=Project&q=${q}`, projectLink);
      const expected = ofType('Project').filter((p) => p.refThematicCorridor === corridor(name)).map((p) => p.id).sort();
      expect(expected.length).toBeGreaterThan(0);
      expect(found).toEqual(expected);
    },
  );

  test('the corridors of the programme, and every project in exactly one of them', async () => {
    const q = encodeURIComponent(`refTerritorialProgramme=="${PROGRAMME}"`);
    const corridors = await query(`type=ThematicCorridor&q=${q}`, { link: linkHeader(SMARTLAND_CONTEXT_URL) });
    expect(corridors).toHaveLength(6);
    let total = 0;
    for (const id of corridors) total += (await query(`type=Project&q=${encodeURIComponent(`refThematicCorridor=="${id}"`)}`, projectLink)).length;
    expect(total).toBe(ofType('Project').length);
  });

  test('all projects touching a municipality (refMunicipality is a list)', async () => {
    for (const code of Object.values(ISTAT)) {
      const found = await query(`type=Project&q=${encodeURIComponent(`refMunicipality=="${municipality(code)}"`)}`, projectLink);
      const expected = ofType('Project').filter((p) => refs(p.refMunicipality).includes(municipality(code))).map((p) => p.id).sort();
      expect(found).toEqual(expected);
    }
  });

  test('municipalities by ISTAT code', async () => {
    for (const [name, code] of Object.entries(ISTAT)) {
      const res = expectStatus(await c.get(`${BASE}/entities?type=PublicOrganization&q=${encodeURIComponent(`istatCode=="${code}"`)}`, orgLink), 200);
      const found = json<Record<string, any>[]>(res);
      expect(found.map((e) => e.id)).toEqual([municipality(code)]);
      expect(found[0].istatCode.value).toBe(code);
      expect(String(found[0].name.value).toLowerCase()).toContain(name === 'chiesa' ? 'chiesa in valmalenco' : name);
    }
  });

  test('all sensors within 2 km of Chiesa in Valmalenco (its location read from the municipality entity)', async () => {
    const chiesa = json<Record<string, any>>(expectStatus(await c.get(`${BASE}/entities/${encodeURIComponent(municipality(ISTAT.chiesa))}`, orgLink), 200));
    const centre = chiesa.location.value.coordinates as number[];
    expect(centre).toEqual([9.85, 46.2667]);

    const geo = `georel=${encodeURIComponent('near;maxDistance==2000')}&geometry=Point&coordinates=${encodeURIComponent(JSON.stringify(centre))}`;
    const devices = ofType('Device').map((d) => ({
      id: d.id,
      m: metres(centre, (d.location as { coordinates: number[] }).coordinates),
      sensor: refs(d.deviceCategory).includes('sensor'),
    }));
    // no device sits so close to the circle that the sphere/spheroid difference could matter
    for (const d of devices) expect(Math.abs(d.m - 2000)).toBeGreaterThan(50);
    const near = devices.filter((d) => d.m <= 2000);
    expect(near.length).toBeGreaterThanOrEqual(5);
    expect(near.length).toBeLessThan(devices.length); // Spriana's devices are ~5 km away

    // every device (sensors and meters) within 2 km
    const found = await query(`type=Device&${geo}`, deviceLink);
    expect(found).toEqual(near.map((d) => d.id).sort());
    expect(found.some((id) => id.includes('spriana'))).toBe(false);
    // the sensors among them (deviceCategory is a list: "sensor", "meter", …)
    const sensors = await query(`type=Device&${geo}&q=${encodeURIComponent('deviceCategory=="sensor"')}`, deviceLink);
    const expected = near.filter((d) => d.sensor).map((d) => d.id).sort();
    expect(expected.length).toBeLessThan(near.length); // the meters are left out
    expect(sensors).toEqual(expected);

    // the same area, every entity type with a location: sensors, observations, projects, …
    const within = await query(`${geo}&type=${encodeURIComponent('Device,Project')}`, projectLinkWithDevice);
    expect(within).toEqual(expect.arrayContaining(found));
    expect(within.some((id) => id.startsWith('urn:ngsi-ld:Project:'))).toBe(true);
  });

  test('re-seeding is idempotent: same entities, same values, same createdAt', async () => {
    const before = await snapshot();
    const again = await runSeed({ broker: app.broker, contexts: app.contexts });
    expect(again.failed).toEqual([]);
    expect(again.created).toBe(0);
    expect(again.updated).toBe(items.length);
    const after = await snapshot();
    expect(after.count).toBe(items.length);
    expect(after.entities).toEqual(before.entities);
    expect(after.createdAt).toEqual(before.createdAt);
    const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM entities WHERE tenant = ''");
    expect(Number(rows[0].n)).toBe(items.length);
  });
});

let projectLinkWithDevice: Record<string, string>;
beforeAll(async () => {
  projectLinkWithDevice = await hosted([SDG, DEVICE, SMARTLAND_CONTEXT_URL]);
});

/** every entity of every type (normalized, no system attributes), and each one's createdAt */
async function snapshot(): Promise<{ count: number; entities: Record<string, unknown>[]; createdAt: Record<string, string> }> {
  const types = json<{ typeList: string[] }>(expectStatus(await c.get(`${BASE}/types`), 200)).typeList;
  const entities: Record<string, unknown>[] = [];
  const createdAt: Record<string, string> = {};
  for (const type of types) {
    const t = encodeURIComponent(type);
    entities.push(...json<Record<string, unknown>[]>(expectStatus(await c.get(`${BASE}/entities?type=${t}&limit=1000`), 200)));
    for (const e of json<{ id: string; createdAt: string }[]>(expectStatus(await c.get(`${BASE}/entities?type=${t}&limit=1000&options=sysAttrs`), 200))) {
      createdAt[e.id] = e.createdAt;
    }
  }
  entities.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  return { count: entities.length, entities, createdAt };
}
