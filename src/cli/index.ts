#!/usr/bin/env node
/**
 * The operator's command line (`smartland`, package.json "bin"):
 *
 *   smartland seed [--tenant T]                     the Valmalenco seed, idempotently
 *   smartland import FILE --type T [--tenant T] [--format json|ndjson|csv] [--atomic]
 *   smartland keys create --name N --role R… --tenant T… [--project P…] [--type T…] [--id-prefix P…] [--expires ISO]
 *   smartland keys list [--all] | keys revoke KEY_ID
 *
 * Configuration is the service's (config.ts: DATA_DIR, DATABASE_URL, …) and the store is opened
 * exactly as the server opens it (store/open.ts), so the CLI writes where the service reads.
 * Exit codes: 0 done, 1 rows were rejected (or the run failed), 2 usage or configuration error.
 * With PGlite (no DATABASE_URL) the data folder belongs to one process at a time: stop the
 * service before seeding or importing into its DATA_DIR (or send the data to its /api/v1).
 */
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, ConfigError, type Config } from '../config';
import { EmbeddedBroker } from '../broker/embedded/engine';
import { ContextResolver } from '../ngsi-ld/context/resolver';
import { NgsiError } from '../ngsi-ld/errors';
import { tenantOf } from '../ngsi-ld/http';
import { SUPPORTED_TYPES } from '../domain/sdm-types';
import type { Db } from '../store/db';
import { migrate } from '../store/migrations';
import { SqlContextStore } from '../store/context-store';
import { openStore } from '../store/open';
import { runSeed, type SeedDeps } from './seed';
import { IMPORT_FORMATS, ImportStoreError, ImportUsageError, runImport, type ImportFormat } from './import';
import { cliList, keysCreate, keysList, keysRevoke, KeysUsageError } from './keys';
import { ROLES, type Role } from '../auth/principal';

export const EXIT = { ok: 0, rejected: 1, usage: 2 } as const;

export interface CliIo {
  /** environment the configuration is read from (process.env) */
  env?: Record<string, string | undefined>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  /** opens the store (store/open.ts openStore); tests pass their own */
  openDb?: (config: Config) => Promise<Db>;
  /** progress display of import (default: bar on a TTY stderr, else lines) */
  progress?: 'bar' | 'lines' | 'none';
}

class UsageError extends Error {}

/** The services the commands need, on the configured store. */
export function cliDeps(config: Config, db: Db): SeedDeps {
  return {
    broker: new EmbeddedBroker(db),
    contexts: new ContextResolver({
      coreVersion: config.coreContext, allowHosts: config.contextAllowHosts, allowPrivate: config.contextAllowPrivate, store: new SqlContextStore(db),
    }),
  };
}

/** Runs the CLI with `argv` (the arguments after the program name); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const out = (line: string) => stdout.write(line + '\n');
  const err = (line: string) => stderr.write(line + '\n');
  let code: number = EXIT.ok;

  /** config → store (migrated) → deps; closes the store afterwards */
  const withStore = async (fn: (deps: SeedDeps, db: Db) => Promise<number>): Promise<number> => {
    let config: Config;
    try {
      config = loadConfig(io.env ?? process.env);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    if (config.brokerUrl) {
      throw new UsageError('BROKER_URL is set: the CLI writes through the embedded engine only; unset BROKER_URL to use it');
    }
    const db = await (io.openDb ?? openStore)(config);
    try {
      await migrate(db);
      return await fn(cliDeps(config, db), db);
    } finally {
      await db.close();
    }
  };

  const tenantArg = (raw: string | undefined): string => {
    try {
      return tenantOf(raw);
    } catch (e) {
      if (e instanceof NgsiError) throw new UsageError(`--tenant: ${e.message}`);
      throw e;
    }
  };

  const program = new Command('smartland')
    .description('Smartland operator commands (NGSI-LD context adapter for the ITI In Valmalenco)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('seed')
    .description('load the Valmalenco seed (programme, corridors, municipalities, projects, devices, observations) idempotently')
    .option('--tenant <tenant>', 'NGSILD-Tenant to seed (default: the default tenant)')
    .action(async (opts: { tenant?: string }) => {
      const tenant = tenantArg(opts.tenant);
      code = await withStore(async (deps) => {
        const summary = await runSeed(deps, { tenant, log: out });
        return summary.failed.length ? EXIT.rejected : EXIT.ok;
      });
    });

  program
    .command('import')
    .description('stream a JSON array, NDJSON or CSV file of keyValues items through the contractor ingestion path')
    .argument('<file>', 'the file to import')
    .requiredOption('--type <type>', `entity type of the rows: ${SUPPORTED_TYPES.join(', ')}`)
    .option('--tenant <tenant>', 'NGSILD-Tenant to write to (default: the default tenant)')
    .addOption(new Option('--format <format>', 'input format (default: from the file name, else sniffed)').choices(IMPORT_FORMATS))
    .option('--atomic', 'all or nothing: with any rejected row nothing is written (the file is read whole)', false)
    .action(async (file: string, opts: { type: string; tenant?: string; format?: ImportFormat; atomic: boolean }) => {
      if (!SUPPORTED_TYPES.includes(opts.type)) {
        throw new UsageError(`--type: unsupported entity type '${opts.type}'; one of ${SUPPORTED_TYPES.join(', ')}`);
      }
      const tenant = tenantArg(opts.tenant);
      code = await withStore(async (deps) => {
        const summary = await runImport(deps, {
          file, type: opts.type, tenant, format: opts.format, atomic: opts.atomic, log: out, progressStream: stderr, progress: io.progress,
        });
        return summary.rejected > 0 ? EXIT.rejected : EXIT.ok;
      });
    });

  const keys = program.command('keys').description('API keys: create (the key is printed once), list, revoke');
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  keys
    .command('create')
    .description('create an API key; lists take several options or commas; tenant - is the default tenant, * any')
    .requiredOption('--name <name>', 'who the key is for (the audit trail records this name)')
    .requiredOption('--role <role>', `role(s): ${ROLES.join(', ')}`, collect)
    .requiredOption('--tenant <tenant>', 'tenant(s) the key may use', collect)
    .option('--project <project>', 'contractor: project(s) it reports on', collect)
    .option('--type <type>', 'contractor: entity type(s) it writes (* any)', collect)
    .option('--id-prefix <prefix>', 'contractor: entity id prefix(es) it writes (* any)', collect)
    .option('--expires <date-time>', 'expiry (ISO 8601)')
    .action(async (opts: { name: string; role: string[]; tenant: string[]; project?: string[]; type?: string[]; idPrefix?: string[]; expires?: string }) => {
      code = await withStore(async (_deps, db) => {
        await keysCreate(db, {
          name: opts.name,
          roles: cliList(opts.role) as Role[],
          tenants: cliList(opts.tenant, { tenants: true }),
          projects: cliList(opts.project),
          types: cliList(opts.type),
          idPrefixes: cliList(opts.idPrefix),
          expiresAt: opts.expires,
        }, out);
        return EXIT.ok;
      });
    });
  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .option('--all', 'include revoked keys', false)
    .action(async (opts: { all: boolean }) => {
      code = await withStore(async (_deps, db) => {
        await keysList(db, opts.all, out);
        return EXIT.ok;
      });
    });
  keys
    .command('revoke')
    .description('revoke an API key by its id (key_…)')
    .argument('<keyId>')
    .action(async (keyId: string) => {
      code = await withStore(async (_deps, db) => ((await keysRevoke(db, keyId, out)) ? EXIT.ok : EXIT.rejected));
    });

  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are not errors; commander has already written its message
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError || e instanceof ImportUsageError || e instanceof KeysUsageError) {
      err(`smartland: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof ImportStoreError) {
      err(`smartland: import stopped: ${e.message}`);
      return EXIT.rejected;
    }
    err(`smartland: failed: ${(e as Error).stack ?? e}`);
    return EXIT.rejected;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
