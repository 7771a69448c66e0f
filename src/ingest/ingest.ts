/**
 * The contractor ingestion use case: keyValues items of one Smart Data Models type → validated
 * (ajv, the vendored schema) → normalized NGSI-LD with the type's @context → parsed into the
 * expanded internal form → upserted (mode 'update': members sent replace theirs, others stay;
 * or, when asked, 'replace').
 *
 * - An unknown type is refused (400) before anything else.
 * - Items are written in chunks of at most `chunkSize` (the broker's batch limit), one
 *   transaction per chunk; an item is reported 'accepted' only after its chunk committed.
 * - atomic: with any rejected item nothing is written; an atomic batch larger than one chunk is
 *   refused (400) rather than split, so that all-or-nothing stays one transaction.
 * - A chunk the store fails to write: its items and all later ones are reported rejected
 *   ("not written") and the result is marked `retryable` (the route then answers 503 and does not
 *   keep the Idempotency-Key, so that a retry does the work). Earlier chunks stay committed.
 */
import { NgsiError, badRequestData } from '../ngsi-ld/errors';
import { parseEntity } from '../ngsi-ld/entity/parse';
import type { Entity } from '../ngsi-ld/types';
import type { TermMap } from '../ngsi-ld/context/types';
import { entityTypeSpec, SUPPORTED_TYPES } from '../domain/sdm-types';
import { validateKeyValues } from '../domain/sdm-validator';
import { toNormalized } from '../domain/keyvalues-to-normalized';
import { UnreadableItem } from './formats';
import type { IngestDeps, IngestIssue, IngestItemResult, IngestOptions, IngestResult } from './types';
import { isRecord } from '../ngsi-ld/json';

/** Default bound of items per request (the route's limit). */
/** Default chunk size: the NGSI-LD batch limit (MAX_BATCH_SIZE). */
export const INGEST_CHUNK_SIZE = 1000;

/** entity members NGSI-LD reserves for the broker (spec 4.8): ignored on input, so refused here */
const SYSTEM_MEMBERS = ['createdAt', 'modifiedAt', 'deletedAt'] as const;

/** 400 for a type outside DESIGN.md's table. */
export function assertSupportedType(type: string): void {
  if (!entityTypeSpec(type)) {
    throw badRequestData(`unsupported entity type ${JSON.stringify(type.slice(0, 200))}; supported: ${SUPPORTED_TYPES.join(', ')}`);
  }
}

/** "/member: reason" details of the mappers and the NGSI-LD parser → pointer + reason. */
function issueOf(err: NgsiError): IngestIssue {
  const m = /^(\/[^\s:]*): ([\s\S]*)$/.exec(err.detail);
  return m ? { pointer: m[1], reason: m[2] } : { pointer: '/', reason: err.detail };
}

export async function ingestItems(
  deps: IngestDeps,
  tenant: string,
  type: string,
  items: unknown[],
  opts: IngestOptions,
): Promise<IngestResult> {
  assertSupportedType(type);
  const chunkSize = opts.chunkSize ?? INGEST_CHUNK_SIZE;
  if (items.length === 0) throw badRequestData('no items to ingest');
  if (opts.maxItems !== undefined && items.length > opts.maxItems) {
    throw badRequestData(`the request has ${items.length} items; the maximum is ${opts.maxItems}`);
  }
  if (opts.atomic && items.length > chunkSize) {
    throw badRequestData(
      `an atomic request may hold at most ${chunkSize} items (one transaction); this one has ${items.length}: ` +
      'send it without atomic=true or split it',
    );
  }

  const results: IngestItemResult[] = [];
  const valid: { index: number; entity: Entity }[] = [];
  const termMaps = new Map<string, Promise<TermMap>>();
  for (const [index, raw] of items.entries()) {
    const result: IngestItemResult = { index, status: 'rejected' };
    if (opts.lines?.[index] !== undefined) result.line = opts.lines[index];
    results.push(result);
    if (raw instanceof UnreadableItem) {
      result.errors = raw.errors;
      continue;
    }
    if (!isRecord(raw)) {
      result.errors = [{ pointer: '/', reason: 'an item must be a JSON object' }];
      continue;
    }
    // keyValues items name their type by the URL; an item's own @context is not used (the type's is)
    const { '@context': _ignored, ...item } = raw;
    if (item.type === undefined) item.type = type;
    if (typeof item.id === 'string') result.id = item.id;
    const checked = validateKeyValues(type, item);
    const issues: IngestIssue[] = checked.ok ? [] : checked.errors.map((e) => ({ pointer: e.pointer || '/', reason: e.message }));
    // NGSI-LD would drop these silently (the broker sets them): refuse rather than lose data
    for (const name of SYSTEM_MEMBERS) {
      if (name in item) issues.push({ pointer: `/${name}`, reason: 'is an NGSI-LD system member set by the broker; send the time as dateModified/dateCreated' });
    }
    if (issues.length) {
      result.errors = issues;
      continue;
    }
    try {
      const normalized = toNormalized(type, item, opts.normalize?.(index));
      const ctx = normalized['@context'] as string[];
      const key = ctx.join(' ');
      let tm = termMaps.get(key);
      if (!tm) termMaps.set(key, (tm = deps.contexts.resolve(ctx)));
      const { '@context': _ctx, ...body } = normalized;
      valid.push({ index, entity: parseEntity(body, await tm, { requireType: true }) });
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      result.errors = [issueOf(err)];
    }
  }

  // all or nothing also for authorisation: a refused item must not let the others in
  if (opts.atomic && valid.length === items.length && deps.writeRefusals) {
    const refused = await deps.writeRefusals(tenant, valid.map((v) => v.entity));
    for (const { index, entity } of valid) {
      const reason = refused.get(entity.id);
      if (reason !== undefined) results[index].errors = [{ pointer: '/', reason }];
    }
    valid.splice(0, valid.length, ...valid.filter((v) => !refused.has(v.entity.id)));
  }
  if (opts.atomic && valid.length < items.length) {
    for (const { index } of valid) {
      results[index].errors = [{ pointer: '/', reason: 'valid, but not written: the atomic request has rejected items' }];
    }
    return summary(results);
  }

  let retryable = false;
  for (let start = 0; start < valid.length; start += chunkSize) {
    const chunk = valid.slice(start, start + chunkSize);
    if (retryable) {
      for (const { index } of chunk) results[index].errors = [{ pointer: '/', reason: 'not written: an earlier chunk failed; retry' }];
      continue;
    }
    try {
      const written = await deps.broker.batchUpsert(tenant, chunk.map((v) => v.entity), opts.mode ?? 'update');
      const failed = new Map(written.errors.map((e) => [e.entityId, e.error.detail]));
      for (const { index, entity } of chunk) {
        const reason = failed.get(entity.id);
        if (reason === undefined) {
          results[index].status = 'accepted';
          delete results[index].errors;
        } else {
          results[index].errors = [{ pointer: '/', reason }];
        }
      }
    } catch (err) {
      if (err instanceof NgsiError && err.status < 500) {
        for (const { index } of chunk) results[index].errors = [{ pointer: '/', reason: err.detail }];
        continue;
      }
      deps.log?.error({ err }, 'ingest: a chunk could not be written');
      retryable = true;
      const reason = `not written: ${err instanceof NgsiError ? err.detail : 'the store failed'}; retry`;
      for (const { index } of chunk) results[index].errors = [{ pointer: '/', reason }];
    }
  }
  const out = summary(results);
  if (retryable) out.retryable = true;
  return out;
}

function summary(items: IngestItemResult[]): IngestResult {
  const accepted = items.filter((i) => i.status === 'accepted').length;
  return { accepted, rejected: items.length - accepted, items };
}
