import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseEntity } from '../ngsi-ld/entity/parse';
import { badRequestData, NgsiError } from '../ngsi-ld/errors';
import { JSONLD_TYPE, mediaType } from '../ngsi-ld/http';
import type { Entity } from '../ngsi-ld/types';
import type { TermMap } from '../ngsi-ld/context/types';
import type { BatchResult } from '../broker/context-broker';
import { assertTenantExists, bodyContext, checkBodyType, entityIdParam, hasBody, parseOptions, requestTermMap } from './support';
import { buildEntityQuery, sendQueryResult, type QueryInput } from './entities';
import * as S from './schemas';

type Parsed = { entities: Entity[]; errors: BatchResult['errors'] };

/**
 * Parses a batch body: each entity with its own @context (application/ld+json) or the Link
 * header's; invalid ones become per-entity errors and the rest go on.
 */
async function parseBatch(
  app: FastifyInstance,
  request: FastifyRequest,
  opts: { requireType: boolean; allowNull?: boolean; partial?: boolean },
): Promise<Parsed> {
  const body = request.body as unknown[];
  if (body.length === 0) throw badRequestData('the batch is empty');
  if (body.length > app.config.maxBatchSize) {
    throw badRequestData(`the batch has ${body.length} entities; the maximum is ${app.config.maxBatchSize}`);
  }
  const ldJson = mediaType(request.headers['content-type']) === JSONLD_TYPE;
  const shared = ldJson ? undefined : await requestTermMap(app, request, {});
  const result: Parsed = { entities: [], errors: [] };
  for (const item of body) {
    const entityId = hasBody(item) && typeof item.id === 'string' ? item.id : '';
    try {
      const tm: TermMap = shared ?? (await app.contexts.resolve(bodyContext(item)));
      if (shared && hasBody(item) && '@context' in item) {
        throw badRequestData('@context in an entity requires Content-Type application/ld+json');
      }
      result.entities.push(parseEntity(item, tm, opts));
    } catch (err) {
      if (!(err instanceof NgsiError)) throw err;
      result.errors.push({ entityId, error: err.toProblem() });
    }
  }
  return result;
}

const merge = (parsed: Parsed, result: BatchResult): BatchResult => ({
  ...result,
  errors: [...parsed.errors, ...result.errors],
});

/** 207 with the BatchOperationResult when anything failed; else the operation's success answer. */
function sendBatch(reply: FastifyReply, result: BatchResult, onSuccess: () => FastifyReply) {
  if (result.errors.length) return reply.code(207).send({ success: result.success, errors: result.errors });
  return onSuccess();
}

const routes = async (app: FastifyInstance) => {
  app.addHook('preValidation', checkBodyType);
  const schema = { body: S.arrayBody, response: S.batchResultResponses };
  // every entity of a batch is checked by request.broker: refused ones are per-entity 403 errors
  const config = { access: 'write' } as const;

  app.post('/entityOperations/create', { schema, config }, async (request, reply) => {
    const parsed = await parseBatch(app, request, { requireType: true });
    const result = merge(parsed, await request.broker.batchCreate(request.tenant, parsed.entities));
    return sendBatch(reply, result, () => reply.code(201).send(result.success));
  });

  app.post<{ Querystring: { options?: string } }>(
    '/entityOperations/upsert',
    { schema: { ...schema, querystring: S.optionsQuery }, config },
    async (request, reply) => {
      const options = parseOptions(request.query.options, ['replace', 'update']);
      if (options.size > 1) throw badRequestData("options 'replace' and 'update' exclude each other");
      const parsed = await parseBatch(app, request, { requireType: true });
      const upserted = parsed.entities.length
        ? await request.broker.batchUpsert(request.tenant, parsed.entities, options.has('update') ? 'update' : 'replace')
        : { success: [], errors: [], created: [] };
      const result = merge(parsed, upserted);
      return sendBatch(reply, result, () =>
        upserted.created?.length ? reply.code(201).send(upserted.created) : reply.code(204).send(),
      );
    },
  );

  app.post<{ Querystring: { options?: string } }>(
    '/entityOperations/update',
    { schema: { ...schema, querystring: S.optionsQuery }, config },
    async (request, reply) => {
      const noOverwrite = parseOptions(request.query.options, ['noOverwrite']).has('noOverwrite');
      const parsed = await parseBatch(app, request, { requireType: false });
      const result = merge(parsed, await request.broker.batchUpdate(request.tenant, parsed.entities, { noOverwrite }));
      return sendBatch(reply, result, () => reply.code(204).send());
    },
  );

  app.post('/entityOperations/merge', { schema, config }, async (request, reply) => {
    const parsed = await parseBatch(app, request, { requireType: false, allowNull: true, partial: true });
    const result = merge(parsed, await request.broker.batchMerge(request.tenant, parsed.entities));
    return sendBatch(reply, result, () => reply.code(204).send());
  });

  app.post('/entityOperations/delete', { schema, config }, async (request, reply) => {
    const body = request.body as unknown[];
    if (body.length === 0) throw badRequestData('the batch is empty');
    if (body.length > app.config.maxBatchSize) throw badRequestData(`the batch has ${body.length} ids; the maximum is ${app.config.maxBatchSize}`);
    const errors: BatchResult['errors'] = [];
    const ids: string[] = [];
    for (const id of body) {
      try {
        if (typeof id !== 'string') throw badRequestData('a batch delete body is an array of entity ids (strings)');
        ids.push(entityIdParam(id));
      } catch (err) {
        errors.push({ entityId: typeof id === 'string' ? id : '', error: (err as NgsiError).toProblem() });
      }
    }
    const deleted = ids.length ? await request.broker.batchDelete(request.tenant, ids) : { success: [], errors: [] };
    const result = { success: deleted.success, errors: [...errors, ...deleted.errors] };
    return sendBatch(reply, result, () => reply.code(204).send());
  });

  app.post<{ Querystring: QueryInput }>(
    '/entityOperations/query',
    { schema: { body: S.queryBody, querystring: S.entityQuery }, config: { access: 'read' } },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const tm = await requestTermMap(app, request, body);
      const input = queryBodyInput(body, request.query);
      const query = buildEntityQuery(input, tm);
      await assertTenantExists(app, request.tenant);
      const result = await app.broker.queryEntities(request.tenant, query);
      return sendQueryResult(app, request, reply, input, tm, result);
    },
  );
};

/** The spec's Query body (POST /entityOperations/query) as the query parameters of GET /entities. */
export function queryBodyInput(body: Record<string, unknown>, query: QueryInput): QueryInput {
  const geoQ = (body.geoQ ?? {}) as Record<string, unknown>;
  return {
    ...query,
    entities: body.entities as QueryInput['entities'],
    attrs: Array.isArray(body.attrs) ? (body.attrs as string[]).join(',') : undefined,
    pick: Array.isArray(body.pick) ? (body.pick as string[]).join(',') : (body.pick as string | undefined),
    omit: Array.isArray(body.omit) ? (body.omit as string[]).join(',') : (body.omit as string | undefined),
    q: body.q as string | undefined,
    scopeQ: body.scopeQ as string | undefined,
    lang: (body.lang as string | undefined) ?? query.lang,
    georel: geoQ.georel as string | undefined,
    geometry: geoQ.geometry as string | undefined,
    coordinates: geoQ.coordinates,
    geoproperty: geoQ.geoproperty as string | undefined,
  };
}

export default routes;
