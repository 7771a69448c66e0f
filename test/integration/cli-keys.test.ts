import { Writable } from 'node:stream';
import { runCli, EXIT } from '../../src/cli/index';
import { hashApiKey } from '../../src/auth/api-keys';
import { principalByKeyHash } from '../../src/store/api-key-store';
import type { Db } from '../../src/store/db';
import { openTestDb } from '../helpers/db';

/** `smartland keys create|list|revoke` on a real store, through runCli (no build, no child process). */

let db: Db;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => db?.close());

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) });
  const code = await runCli(argv, {
    env: {},
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    // the test store, which runCli may "close"
    openDb: async () => ({ ...db, close: async () => undefined }),
  });
  return { code, stdout, stderr };
}

test('create prints the key once; it authenticates with its grant; list never shows it; revoke ends it', async () => {
  const created = await run([
    'keys', 'create', '--name', 'lanzada-contractor', '--role', 'contractor', '--tenant', 'valmalenco,-',
    '--type', 'WeatherObserved', '--type', 'Streetlight', '--id-prefix', 'urn:ngsi-ld:WeatherObserved:lanzada-', '--project', 'P-1',
  ]);
  expect(created.code).toBe(EXIT.ok);
  const key = /key \(shown once, store it now\): (slk_\S+)/.exec(created.stdout)![1];
  const id = /^(key_[0-9a-f]+)\t/.exec(created.stdout)![1];
  expect(await principalByKeyHash(db, hashApiKey(key))).toEqual({
    name: 'lanzada-contractor', via: 'api-key', roles: ['contractor'], tenants: ['valmalenco', ''],
    projects: ['P-1'], types: ['WeatherObserved', 'Streetlight'], idPrefixes: ['urn:ngsi-ld:WeatherObserved:lanzada-'],
  });

  const listed = await run(['keys', 'list']);
  expect(listed.stdout).toContain(`${id}\tlanzada-contractor\troles=contractor\ttenants=valmalenco,-`);
  expect(listed.stdout).not.toContain(key);

  expect((await run(['keys', 'revoke', id])).code).toBe(EXIT.ok);
  expect(await principalByKeyHash(db, hashApiKey(key))).toBeUndefined();
  expect((await run(['keys', 'list'])).stdout).not.toContain(id);
  expect((await run(['keys', 'list', '--all'])).stdout).toMatch(new RegExp(`${id}.*revoked=`));
  expect((await run(['keys', 'revoke', id])).code).toBe(EXIT.rejected);
});

test('bad grants are usage errors', async () => {
  const res = await run(['keys', 'create', '--name', 'x', '--role', 'root', '--tenant', 'a']);
  expect(res.code).toBe(EXIT.usage);
  expect(res.stderr).toMatch(/unknown role 'root'/);
  expect((await run(['keys', 'create', '--name', 'x', '--tenant', 'a'])).code).toBe(EXIT.usage);
});
