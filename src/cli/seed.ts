/**
 * `smartland seed`: the Valmalenco seed (domain/valmalenco.ts) into the configured store, through
 * the broker like any other write. Each entity is parsed with the term map of its own @context
 * (subject context, plus ours where it uses our terms), then all are upserted in one batch with
 * mode 'update': a second run rewrites the same attribute values onto the same entities (only
 * modifiedAt moves), so seeding is idempotent. All or nothing: when any entity cannot be parsed,
 * nothing is written.
 */
import type { ContextBroker } from '../broker/context-broker';
import type { ContextResolver } from '../ngsi-ld/context/resolver';
import type { ContextValue } from '../ngsi-ld/context/types';
import { parseEntity } from '../ngsi-ld/entity/parse';
import { NgsiError } from '../ngsi-ld/errors';
import type { Entity } from '../ngsi-ld/types';
import { buildSeedEntities } from '../domain/valmalenco';

export interface SeedDeps {
  broker: ContextBroker;
  contexts: ContextResolver;
}

export interface SeedOptions {
  /** NGSILD-Tenant to seed ('' = the default tenant) */
  tenant?: string;
  /** where the summary lines go (default: nowhere) */
  log?: (line: string) => void;
}

export interface SeedSummary {
  tenant: string;
  /** entities in the seed */
  total: number;
  /** entities that did not exist before this run */
  created: number;
  /** entities that existed and were updated in place */
  updated: number;
  /** entities per (short) type name, in seed order */
  byType: Record<string, number>;
  /** entities that could not be parsed or written (then nothing is written) */
  failed: { id: string; reason: string }[];
  seconds: number;
}

/** Entities per upsert call: the seed is ~60 entities, so this is one call today. */
const BATCH = 1000;

export async function runSeed(deps: SeedDeps, opts: SeedOptions = {}): Promise<SeedSummary> {
  const t0 = performance.now();
  const tenant = opts.tenant ?? '';
  const log = opts.log ?? (() => undefined);
  const items = buildSeedEntities();
  const summary: SeedSummary = { tenant, total: items.length, created: 0, updated: 0, byType: {}, failed: [], seconds: 0 };

  const entities: Entity[] = [];
  for (const item of items) {
    const id = String(item.id);
    summary.byType[String(item.type)] = (summary.byType[String(item.type)] ?? 0) + 1;
    try {
      const tm = await deps.contexts.resolve(item['@context'] as ContextValue);
      entities.push(parseEntity(item, tm, { requireType: true }));
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      summary.failed.push({ id, reason: err.message });
    }
  }

  if (summary.failed.length === 0) {
    for (let i = 0; i < entities.length; i += BATCH) {
      const batch = entities.slice(i, i + BATCH);
      const result = await deps.broker.batchUpsert(tenant, batch, 'update');
      for (const e of result.errors) summary.failed.push({ id: e.entityId, reason: e.error.detail ?? e.error.title ?? 'rejected' });
      const created = new Set(result.created ?? []);
      summary.created += created.size;
      summary.updated += result.success.filter((id) => !created.has(id)).length;
    }
  }
  summary.seconds = (performance.now() - t0) / 1000;

  const where = tenant ? `tenant '${tenant}'` : 'the default tenant';
  if (summary.failed.length) {
    log(`seed: FAILED, nothing written to ${where}; ${summary.failed.length} of ${summary.total} entities were refused:`);
    for (const f of summary.failed.slice(0, 20)) log(`  ${f.id}: ${f.reason}`);
    if (summary.failed.length > 20) log(`  … and ${summary.failed.length - 20} more`);
  } else {
    log(`seed: ${summary.total} Valmalenco entities into ${where}: ${summary.created} created, ${summary.updated} updated` +
      ` (${summary.seconds.toFixed(2)} s)`);
    log('  ' + Object.entries(summary.byType).map(([t, n]) => `${t} ${n}`).join(', '));
  }
  return summary;
}
