/**
 * The operator CLI (src/cli): `seed` and `import` as functions on a real store (runSeed,
 * runImport), and the command line itself (runCli: argument parsing, exit codes) with the store
 * injected, so no build and no child process is needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import type { Db } from '../../src/store/db';
import { cliDeps, EXIT, runCli } from '../../src/cli/index';
import { runSeed } from '../../src/cli/seed';
import { RecordSplitter, detectFormat, runImport, type ImportOptions } from '../../src/cli/import';
import { buildSeedEntities } from '../../src/domain/valmalenco';
import type { SeedDeps } from '../../src/cli/seed';
import { openTestDb } from '../helpers/db';
import { keptOpen } from '../helpers/instances';

let db: Db;
let deps: SeedDeps;
let dir: string;

/** the test store, which runCli may "close" as often as it likes */
const sharedDb = (): Db => keptOpen(db);

beforeAll(async () => {
  db = await openTestDb();
  deps = cliDeps(loadConfig({}), db);
  dir = mkdtempSync(join(os.tmpdir(), 'smartland-cli-test-'));
});

afterAll(async () => {
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const count = async (tenant: string, type?: string): Promise<number> => {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM entities WHERE tenant = $1${type ? ' AND types[1] LIKE $2' : ''}`,
    type ? [tenant, `%/${type}`] : [tenant],
  );
  return Number(rows[0].n);
};

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** a WeatherObserved item in keyValues form, as a contractor sends it */
const weather = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:WeatherObserved:cli-${String(i).padStart(5, '0')}`,
  type: 'WeatherObserved',
  dateObserved: '2025-06-01T10:00:00Z',
  location: { type: 'Point', coordinates: [9.85 + (i % 100) / 10000, 46.26 + (i % 37) / 10000] },
  temperature: 10 + (i % 20),
  relativeHumidity: 0.5,
  ...extra,
});

const captured = () => {
  const lines: string[] = [];
  return { lines, log: (l: string) => lines.push(l), text: () => lines.join('\n') };
};

const quiet = (o: Omit<ImportOptions, 'progress'>): ImportOptions => ({ progress: 'none', ...o });

describe('runSeed', () => {
  test('loads the Valmalenco seed; a second run changes nothing but modifiedAt', async () => {
    const n = buildSeedEntities().length;
    const out = captured();
    const first = await runSeed(deps, { tenant: 'seedtest', log: out.log });
    expect(first).toEqual(expect.objectContaining({ total: n, created: n, updated: 0, failed: [] }));
    expect(out.text()).toMatch(new RegExp(`seed: ${n} Valmalenco entities into tenant 'seedtest': ${n} created, 0 updated`));
    expect(await count('seedtest')).toBe(n);

    const state = async () => {
      const { rows } = await db.query<{ id: string; types: string[]; attrs: unknown; created_at: unknown }>(
        "SELECT id, types, attrs, created_at FROM entities WHERE tenant = 'seedtest' ORDER BY id",
      );
      // attribute values without their system timestamps
      return rows.map((r) => ({ ...r, attrs: JSON.parse(JSON.stringify(r.attrs, (k, v) => (k === 'modifiedAt' ? undefined : v))) }));
    };
    const before = await state();
    const second = await runSeed(deps, { tenant: 'seedtest' });
    expect(second).toEqual(expect.objectContaining({ total: n, created: 0, updated: n, failed: [] }));
    expect(await state()).toEqual(before);
    expect(await count('')).toBe(0); // the default tenant was not touched
  });
});

describe('runImport', () => {
  test('NDJSON across chunks: accepted and rejected rows with their line numbers', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++) lines.push(JSON.stringify(weather(i)));
    lines[1200] = '{"id": "urn:ngsi-ld:WeatherObserved:broken", '; // line 1201: not JSON
    lines[1700] = JSON.stringify(weather(1700, { temperature: 'hot' })); // line 1701: schema
    lines.splice(10, 0, ''); // a blank line: skipped, but counted in the line numbers
    lines[2300] = JSON.stringify({ ...weather(2299), id: 'not a uri' }); // line 2301 (after the blank one)
    const path = file('weather.ndjson', lines.join('\r\n') + '\n');
    const out = captured();
    const s = await runImport(deps, quiet({ file: path, type: 'WeatherObserved', tenant: 'nd', log: out.log }));
    expect(s.format).toBe('ndjson');
    expect(s.rows).toBe(2500);
    expect(s.accepted).toBe(2497);
    expect(s.rejected).toBe(3);
    expect(s.rejections.map((r) => r.row)).toEqual([1202, 1702, 2301]);
    expect(s.rejections[0].reasons[0]).toMatch(/invalid JSON/);
    expect(s.rejections[1]).toEqual({ row: 1702, id: 'urn:ngsi-ld:WeatherObserved:cli-01700', reasons: ['/temperature: must be number'] });
    expect(await count('nd')).toBe(2497);
    expect(out.text()).toMatch(/accepted: 2,497/);
    expect(out.text()).toMatch(/rejected: 3/);
    expect(out.text()).toMatch(/line 1702 \(urn:ngsi-ld:WeatherObserved:cli-01700\): \/temperature: must be number/);

    // the same file again: the same entities, updated in place
    const again = await runImport(deps, quiet({ file: path, type: 'WeatherObserved', tenant: 'nd' }));
    expect(again.accepted).toBe(2497);
    expect(await count('nd')).toBe(2497);
  });

  test('CSV: header once, quoted line breaks, ragged rows, chunk boundaries', async () => {
    // location as a GeoJSON cell: a quoted field with doubled quotes
    const at = (lon: number, lat: number) => `"{""type"":""Point"",""coordinates"":[${lon},${lat}]}"`;
    const header = 'id;dateObserved;temperature;location;description';
    const rows = [
      `urn:ngsi-ld:WeatherObserved:csv-1;2025-06-01T10:00:00Z;12,5;${at(9.85, 46.26)};plain`,
      `urn:ngsi-ld:WeatherObserved:csv-2;2025-06-01T10:00:00Z;7;${at(9.86, 46.27)};"two\nlines; and ""quotes"""`,
      'urn:ngsi-ld:WeatherObserved:csv-3;2025-06-01T10:00:00Z;7', // ragged: line 5
      `urn:ngsi-ld:WeatherObserved:csv-4;2025-06-01T10:00:00Z;warm;${at(9.86, 46.27)};x`, // line 6: temperature
      `urn:ngsi-ld:WeatherObserved:csv-5;2025-06-01T10:00:00Z;-3;${at(9.87, 46.28)};"a\n\nb"`,
      `urn:ngsi-ld:WeatherObserved:csv-6;2025-06-01T10:00:00Z;1;${at(9.87, 46.28)};last`,
    ];
    const path = file('weather.csv', '\uFEFF' + [header, ...rows].join('\n'));
    for (const chunkSize of [1000, 2, 1]) {
      const s = await runImport(deps, quiet({ file: path, type: 'WeatherObserved', tenant: `csv${chunkSize}`, chunkSize }));
      expect({ rows: s.rows, accepted: s.accepted, rejected: s.rejected }).toEqual({ rows: 6, accepted: 4, rejected: 2 });
      expect(s.rejections.map((r) => r.row)).toEqual([5, 6]);
      expect(s.rejections[0].reasons[0]).toMatch(/fields/);
      expect(s.rejections[1].reasons).toEqual(['/temperature: must be number']);
    }
    const { rows: got } = await db.query<{ attrs: Record<string, any> }>(
      "SELECT attrs FROM entities WHERE tenant = 'csv1' AND id = 'urn:ngsi-ld:WeatherObserved:csv-2'",
    );
    const description = Object.entries(got[0].attrs).find(([k]) => k.endsWith('description'))![1];
    expect(description[0].value).toBe('two\nlines; and "quotes"');
  });

  test('JSON array: rows are item numbers; too large a file is refused', async () => {
    const items = [weather(1), weather(2, { temperature: 'x' }), 42, weather(4)];
    const path = file('weather.json', JSON.stringify(items));
    const s = await runImport(deps, quiet({ file: path, type: 'WeatherObserved', tenant: 'js' }));
    expect({ rows: s.rows, accepted: s.accepted, rejected: s.rejected }).toEqual({ rows: 4, accepted: 2, rejected: 2 });
    expect(s.rejections.map((r) => r.row)).toEqual([2, 3]);
    await expect(runImport(deps, quiet({ file: path, type: 'WeatherObserved', maxWholeFileBytes: 10 }))).rejects.toThrow(/read whole/);
  });

  test('--atomic: one rejected row, nothing written; all valid, everything written', async () => {
    const bad = file('atomic-bad.ndjson', [1, 2, 3].map((i) => JSON.stringify(weather(i, i === 2 ? { temperature: 'x' } : {}))).join('\n'));
    const s = await runImport(deps, quiet({ file: bad, type: 'WeatherObserved', tenant: 'at', atomic: true, chunkSize: 1 }));
    expect({ accepted: s.accepted, rejected: s.rejected, notWritten: s.notWritten }).toEqual({ accepted: 0, rejected: 3, notWritten: 2 });
    expect(s.rejections[0]).toEqual(expect.objectContaining({ row: 2, reasons: ['/temperature: must be number'] }));
    expect(await count('at')).toBe(0);

    // more rows than one API chunk still go in one transaction
    const good = file('atomic-good.ndjson', Array.from({ length: 1500 }, (_, i) => JSON.stringify(weather(i))).join('\n'));
    const ok = await runImport(deps, quiet({ file: good, type: 'WeatherObserved', tenant: 'at', atomic: true }));
    expect({ accepted: ok.accepted, rejected: ok.rejected }).toEqual({ accepted: 1500, rejected: 0 });
    expect(await count('at')).toBe(1500);
  });

  test('progress: plain lines when not a terminal', async () => {
    const path = file('progress.ndjson', Array.from({ length: 50 }, (_, i) => JSON.stringify(weather(i))).join('\n'));
    let written = '';
    const stream = new Writable({ write: (chunk, _enc, cb) => ((written += String(chunk)), cb()) });
    await runImport(deps, { file: path, type: 'WeatherObserved', tenant: 'pr', chunkSize: 10, progressStream: stream, progressIntervalMs: 0 });
    const lines = written.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines[lines.length - 1]).toMatch(/^import: 50 rows \(100%\), 50 accepted, 0 rejected, [\d,]+ rows\/s$/);
  });

  test('format detection and record splitting', () => {
    expect(detectFormat('a.JSON')).toBe('json');
    expect(detectFormat('a.jsonl')).toBe('ndjson');
    expect(detectFormat('a.txt', '  [')).toBe('json');
    expect(detectFormat('a.txt', '\uFEFF{"id"')).toBe('ndjson');
    expect(detectFormat('a.txt', 'id,type')).toBe('csv');
    const out: { text: string; line: number }[] = [];
    const s = new RecordSplitter(true);
    for (const piece of ['a,"x', '\ny"\r\n\nb,', '"""q""', '"\nc,d']) s.feed(piece, out);
    s.end(out);
    expect(out).toEqual([
      { text: 'a,"x\ny"', line: 1 },
      { text: 'b,"""q"""', line: 4 },
      { text: 'c,d', line: 5 },
    ]);
  });
});

describe('runCli', () => {
  const run = async (argv: string[], env: Record<string, string> = {}) => {
    let stdout = '';
    let stderr = '';
    const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) });
    const code = await runCli(argv, {
      env,
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
      openDb: async () => sharedDb(),
      progress: 'none',
    });
    return { code, stdout, stderr };
  };

  test('usage errors exit 2', async () => {
    expect((await run([])).code).toBe(EXIT.usage);
    expect((await run(['frobnicate'])).code).toBe(EXIT.usage);
    const noType = await run(['import', 'x.ndjson']);
    expect(noType.code).toBe(EXIT.usage);
    expect(noType.stderr).toMatch(/--type/);
    const badType = await run(['import', 'x.ndjson', '--type', 'Spaceship']);
    expect(badType).toEqual(expect.objectContaining({ code: EXIT.usage, stderr: expect.stringMatching(/unsupported entity type 'Spaceship'/) }));
    expect((await run(['import', 'x.ndjson', '--type', 'WeatherObserved', '--format', 'xml'])).code).toBe(EXIT.usage);
    expect((await run(['seed', '--tenant', 'not a tenant!'])).code).toBe(EXIT.usage);
    const missing = await run(['import', join(dir, 'nope.ndjson'), '--type', 'WeatherObserved']);
    expect(missing).toEqual(expect.objectContaining({ code: EXIT.usage, stderr: expect.stringMatching(/cannot read .*nope\.ndjson: ENOENT/) }));
  });

  test('configuration errors exit 2', async () => {
    const bad = await run(['seed'], { PORT: 'eighty' });
    expect(bad).toEqual(expect.objectContaining({ code: EXIT.usage, stderr: expect.stringMatching(/PORT must be an integer/) }));
    expect((await run(['seed'], { BROKER_URL: 'http://orion:1026' })).code).toBe(EXIT.usage);
  });

  test('help exits 0', async () => {
    const help = await run(['import', '--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toMatch(/--format <format>/);
  });

  test('seed exits 0 and prints its summary; import exits 0, or 1 with rejected rows', async () => {
    const seeded = await run(['seed', '--tenant', 'CliSeed']);
    expect(seeded.code).toBe(EXIT.ok);
    expect(seeded.stdout).toMatch(/into tenant 'cliseed'/);
    expect(await count('cliseed')).toBe(buildSeedEntities().length);

    const good = file('good.ndjson', [1, 2].map((i) => JSON.stringify(weather(i))).join('\n'));
    const ok = await run(['import', good, '--type', 'WeatherObserved', '--tenant', 'cli']);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toMatch(/accepted: 2\n/);

    const bad = file('bad.txt', JSON.stringify([weather(3), weather(4, { temperature: 'x' })]));
    const rejected = await run(['import', bad, '--type', 'WeatherObserved', '--tenant', 'cli', '--format', 'json']);
    expect(rejected.code).toBe(EXIT.rejected);
    expect(rejected.stdout).toMatch(/item 2 \(urn:ngsi-ld:WeatherObserved:cli-00004\): \/temperature: must be number/);
    expect(await count('cli')).toBe(3);
  });
});
