import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ENTITY_TYPES } from '../domain/sdm-types';
import { SMARTLAND_CONTEXT_URL } from '../domain/sdm-types';
import { bundledContextDocument } from '../ngsi-ld/context/resolver';
import { badRequestData } from '../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE, mediaType } from '../ngsi-ld/http';
import { assertSupportedType, ingestItems, INGEST_CHUNK_SIZE } from '../ingest/ingest';
import { parseCsv, parseJsonItems, parseNdjson, type ParsedItems } from '../ingest/formats';
import { IdempotencyStore } from '../ingest/idempotency';
import { answerIdempotently } from './idempotent';
import type { IngestResult } from '../ingest/types';
import { assertWritableType } from './support';
import { contractorWrites } from '../plugins/ingestion-outbox';

/**
 * Contractor API (/api/v1): Smart Data Models items in keyValues form, one or many, as JSON,
 * NDJSON or CSV; validated, mapped to normalized NGSI-LD and upserted (src/ingest/). Thin: the
 * use case is ingestItems, the input forms are ingest/formats, retries are ingest/idempotency.
 */

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'] as const;
export const CSV_TYPE = 'text/csv';
const INGEST_TYPES: readonly string[] = [JSON_TYPE, ...NDJSON_TYPES, CSV_TYPE];

/** Headers of a contractor write that may be retried safely (Idempotency-Key). */
export const idempotentWriteHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: '1-200 printable ASCII characters' },
    'ngsild-tenant': { type: 'string', description: 'tenant (default: the default tenant)' },
  },
} as const;

const problem = {
  type: 'object',
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
  required: ['type', 'title'],
} as const;

const itemResult = {
  type: 'object',
  properties: {
    index: { type: 'integer', description: 'position of the item in the request (0-based; CSV: data row; NDJSON: non-blank line)' },
    line: { type: 'integer', description: 'CSV/NDJSON: 1-based line of the body the item starts on' },
    id: { type: 'string' },
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          pointer: { type: 'string', description: 'JSON pointer of the member in the keyValues item ("/" = the item)' },
          reason: { type: 'string' },
        },
        required: ['pointer', 'reason'],
      },
    },
  },
  required: ['index', 'status'],
} as const;

const ingestResult = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    items: { type: 'array', items: itemResult },
  },
  required: ['accepted', 'rejected', 'items'],
} as const;

/** 202 (Orion-LD mode): the accepted items are queued for the external broker; GET /api/v1/ingestions/{ingestionId} follows them. */
export const queuedIngestResult = <T extends { properties: object; required: readonly string[] }>(result: T) => ({
  ...result,
  properties: { ingestionId: { type: 'string', description: 'GET /api/v1/ingestions/{ingestionId} shows the delivery of the accepted items' }, ...result.properties },
  required: ['ingestionId', ...result.required],
});

/** The ingestionId member of an answer, when there is one. */
export const queuedAs = (ingestionId: string | undefined) => (ingestionId !== undefined ? { ingestionId } : {});

const keyValuesItem = { type: 'object', description: 'an entity in the keyValues form of its Smart Data Model', additionalProperties: true } as const;

const ingestSchema = {
  summary: 'Push Smart Data Models items (keyValues) of one type',
  description:
    'Each item is validated against the vendored Smart Data Models JSON Schema of the type, converted to normalized ' +
    'NGSI-LD with the type\'s @context and upserted (members sent replace theirs; others stay). Bodies: one JSON ' +
    'object or an array; NDJSON (one object per line); CSV with a header row (`,` `;` or tab, detected; decimal commas ' +
    'with `;`; dotted columns for nested members, `location.lon`/`location.lat` for a Point). ' +
    '200: all accepted; 207: some rejected (the others are stored); 422: nothing accepted, or atomic=true and some ' +
    'rejected (nothing stored); 503: the store failed (items "not written" may be retried). ' +
    'With an external broker (BROKER_URL) accepted items are queued: 202 with an ingestionId instead of 200/207. ' +
    'Idempotency-Key: a retry with the same key and body gets the stored response (Idempotent-Replayed: true); ' +
    'the same key with another body → 409. Keys expire after 24 h.',
  tags: ['contractor API'],
  params: {
    type: 'object',
    properties: { type: { type: 'string', minLength: 1, maxLength: 200, description: 'entity type, see GET /api/v1/types' } },
    required: ['type'],
  },
  querystring: {
    type: 'object',
    properties: {
      atomic: { type: 'boolean', default: false, description: `all or nothing (at most ${INGEST_CHUNK_SIZE} items)` },
    },
  },
  headers: idempotentWriteHeaders,
  body: {
    content: {
      // items are checked one by one (a bad one is reported, the others go on), not here
      'application/json': { schema: { anyOf: [keyValuesItem, { type: 'array', items: {}, description: 'keyValues items' }] } },
      'application/x-ndjson': { schema: { type: 'string' } },
      'application/ndjson': { schema: { type: 'string' } },
      'text/csv': { schema: { type: 'string' } },
    },
  },
  response: {
    200: ingestResult,
    202: queuedIngestResult(ingestResult),
    207: ingestResult,
    422: ingestResult,
    503: {
      type: 'object',
      description: 'the store failed: per-item results (items not written are rejected) or a problem',
      properties: { ...ingestResult.properties, ...problem.properties },
    },
    '4xx': problem,
    '5xx': problem,
  },
} as const;

const typesSchema = {
  summary: 'Entity types the contractor API takes',
  tags: ['contractor API'],
  response: {
    200: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          family: { type: 'string' },
          origin: { type: 'string', enum: ['sdm', 'smartland'] },
          schemaId: { type: 'string', description: '$id of the JSON Schema of the keyValues form' },
          context: { type: 'string', description: 'the @context of the normalized entities' },
        },
      },
    },
  },
} as const;

/** The status of an ingest response; 202 when items were queued for an external broker (ingestion id). */
export function ingestStatus(result: IngestResult, atomic: boolean, ingestionId?: string): number {
  if (result.retryable) return 503;
  if (ingestionId !== undefined && result.accepted > 0) return 202;
  if (result.rejected === 0) return 200;
  if (atomic || result.accepted === 0) return 422;
  return 207;
}

function itemsOf(request: FastifyRequest, type: string, maxJsonDepth: number): ParsedItems {
  const media = mediaType(request.headers['content-type']);
  if (media === CSV_TYPE) return parseCsv(request.body as string, type);
  if ((NDJSON_TYPES as readonly string[]).includes(media ?? '')) return parseNdjson(request.body as string, { maxJsonDepth });
  return parseJsonItems(request.body);
}

const routes = async (app: FastifyInstance) => {
  const maxItems = app.config.ingestMaxItems;
  const idempotency = new IdempotencyStore(app.db);

  // text bodies for this scope only (the NGSI-LD plugin parses the JSON family app-wide)
  app.addContentTypeParser([...NDJSON_TYPES, CSV_TYPE], { parseAs: 'string', bodyLimit: app.config.bodyLimit }, (_req, body, done) =>
    done(null, body));
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined) assertWritableType(request, INGEST_TYPES);
  });

  app.get('/types', { schema: typesSchema }, async () =>
    [...ENTITY_TYPES.values()].map((s) => ({ type: s.type, family: s.family, origin: s.origin, schemaId: s.schemaId, context: s.context })));

  app.post<{ Params: { type: string }; Querystring: { atomic?: boolean } }>(
    '/entities/:type',
    { schema: ingestSchema, config: { access: 'write' } },
    async (request, reply: FastifyReply) => {
      const { type } = request.params;
      const atomic = request.query.atomic ?? false;
      assertSupportedType(type);
      if (request.body === undefined || request.body === '') throw badRequestData('the request has no body');
      const parsed = itemsOf(request, type, app.config.maxJsonDepth);
      if (parsed.items.length > maxItems) {
        throw badRequestData(`the request has ${parsed.items.length} items; the maximum is ${maxItems}`);
      }
      return answerIdempotently(idempotency, request, reply, [type, String(atomic)], async () => {
        const writes = contractorWrites(app, request);
        const result = await ingestItems(writes.deps, request.tenant, type, parsed.items, { atomic, maxItems, lines: parsed.lines });
        const body = { ...queuedAs(writes.ingestionId), accepted: result.accepted, rejected: result.rejected, items: result.items };
        return { status: ingestStatus(result, atomic, writes.ingestionId), body, retryable: result.retryable };
      });
    },
  );
};

export default routes;

/** GET /contexts/smartland.jsonld: our extension @context (the bundled file SMARTLAND_CONTEXT_URL resolves to). */
export const contextFileRoutes = async (app: FastifyInstance) => {
  app.get('/contexts/smartland.jsonld', { schema: { summary: 'The Smartland @context', tags: ['contexts'] } }, async (_request, reply) =>
    reply.type(JSONLD_TYPE).header('Cache-Control', 'public, max-age=3600').send(bundledContextDocument(SMARTLAND_CONTEXT_URL)));
};
