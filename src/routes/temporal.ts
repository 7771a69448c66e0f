import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseProjection } from '../ngsi-ld/entity/projection';
import { badRequestData, notSupported } from '../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE } from '../ngsi-ld/http';
import type { TermMap } from '../ngsi-ld/context/types';
import { buildTemporalQuery, temporalRepresentation, type TemporalQueryInput } from '../temporal/query';
import { renderTemporalEntity } from '../temporal/render';
import { parseInstanceCorrection, parseTemporalAttributes, parseTemporalEntity } from '../temporal/parse';
import {
  appendTemporalAttributes, deleteInstance, deleteTemporalAttribute, deleteTemporalEntity, replaceInstance, upsertTemporalEntity,
} from '../temporal/history-store';
import type { TemporalResult } from '../temporal/types';
import { queryBodyInput } from './batch';
import { assertTenantExists, checkBodyType, entityIdParam, prepareReply, requestTermMap, responseType } from './support';
import * as S from './schemas';

type EntityParams = { entityId: string };
type AttrParams = EntityParams & { attrId: string };
type InstanceParams = AttrParams & { instanceId: string };

/** Runs a temporal query and answers it: 206 + Content-Range when an attribute had more instances than fit. */
async function answer(
  app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, input: TemporalQueryInput, tm: TermMap, byId?: string,
) {
  const { format, sysAttrs } = temporalRepresentation(input);
  const query = buildTemporalQuery(input, tm, format);
  await assertTenantExists(app, request.tenant);
  const result: TemporalResult = await app.temporal.query(request.tenant, query, byId);
  const type = responseType(request, [JSON_TYPE, JSONLD_TYPE]);
  const opts = {
    format, sysAttrs, lang: input.lang, methods: query.aggregation?.methods,
    projection: parseProjection({ attrs: input.attrs, pick: input.pick, omit: input.omit }, tm),
    includeContext: type === JSONLD_TYPE ? tm.context : undefined,
  };
  await prepareReply(app, request, reply, type, tm);
  if (result.count !== undefined) reply.header('NGSILD-Results-Count', String(result.count));
  if (result.truncated) reply.code(206).header('Content-Range', `date-time ${result.truncated.from}-${result.truncated.to}/*`);
  const bodies = result.entities.map((e) => renderTemporalEntity(e, tm, opts));
  return reply.send(byId === undefined ? bodies : bodies[0]);
}

/** The entity and (expanded) attribute a request names; reads of an unknown tenant are 404. */
async function attributeTarget(app: FastifyInstance, request: FastifyRequest<{ Params: AttrParams }>, body?: unknown) {
  const id = entityIdParam(request.params.entityId);
  const tm = await requestTermMap(app, request, body);
  await assertTenantExists(app, request.tenant);
  return { id, tm, attr: tm.expand(request.params.attrId) };
}

const routes = async (app: FastifyInstance) => {
  // with BROKER_URL the entities live in the external broker; the history here would be empty
  // (Orion-LD leaves temporal to a separate service, e.g. Mintaka): say so instead of answering []
  if (app.config.brokerUrl) {
    app.addHook('onRequest', async () => {
      throw notSupported('the temporal API is served by the embedded engine only; with BROKER_URL query the broker\'s temporal service');
    });
  }
  app.addHook('preValidation', checkBodyType);
  const now = () => new Date().toISOString();
  // Temporal writes go to the history directly, not through the scoped broker that checks a
  // contractor's projects entity by entity: administrators only.
  const ADMIN = { access: 'admin' } as const;

  app.get<{ Querystring: TemporalQueryInput }>(
    '/temporal/entities',
    { schema: { querystring: S.temporalQuery, response: S.temporalEntitiesResponses } },
    async (request, reply) => answer(app, request, reply, request.query, await requestTermMap(app, request)),
  );

  app.get<{ Params: EntityParams; Querystring: TemporalQueryInput }>(
    '/temporal/entities/:entityId',
    { schema: { params: S.entityParams, querystring: S.temporalQuery, response: S.temporalEntityResponses } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const input = { ...request.query, id, idPattern: undefined, type: undefined, limit: 1, offset: 0, count: false };
      return answer(app, request, reply, input, await requestTermMap(app, request), id);
    },
  );

  app.post<{ Querystring: TemporalQueryInput }>(
    '/temporal/entityOperations/query',
    { schema: { body: S.temporalQueryBody, querystring: S.temporalQuery, response: S.temporalEntitiesResponses }, config: { access: 'read' } },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const tm = await requestTermMap(app, request, body);
      const input: TemporalQueryInput = { ...queryBodyInput(body, request.query), ...(body.temporalQ as Record<string, string>) };
      return answer(app, request, reply, input, tm);
    },
  );

  app.post('/temporal/entities', { schema: { body: S.objectBody, response: S.noContentResponses }, config: ADMIN }, async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    const tm = await requestTermMap(app, request, body);
    const entity = parseTemporalEntity(body, tm);
    const created = await app.db.transaction((tx) => upsertTemporalEntity(tx, request.tenant, entity.id, entity.types, entity.attrs, now(), entity.scopes));
    if (!created) return reply.code(204).send();
    return reply.code(201).header('Location', `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(entity.id)}`).send();
  });

  app.post<{ Params: EntityParams }>(
    '/temporal/entities/:entityId/attrs',
    { schema: { params: S.entityParams, body: S.objectBody, response: S.noContentResponses }, config: ADMIN },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const body = request.body as Record<string, unknown>;
      const tm = await requestTermMap(app, request, body);
      const attrs = parseTemporalAttributes(body, tm);
      if (Object.keys(attrs).length === 0) throw badRequestData('no attribute instances in the body');
      await app.db.transaction((tx) => appendTemporalAttributes(tx, request.tenant, id, attrs, now()));
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: EntityParams }>(
    '/temporal/entities/:entityId',
    { schema: { params: S.entityParams, response: S.noContentResponses }, config: ADMIN },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      await assertTenantExists(app, request.tenant);
      await app.db.transaction((tx) => deleteTemporalEntity(tx, request.tenant, id));
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: AttrParams; Querystring: { datasetId?: string; deleteAll?: boolean } }>(
    '/temporal/entities/:entityId/attrs/:attrId',
    { schema: { params: S.attrParams, querystring: S.deleteAttrQuery, response: S.noContentResponses }, config: ADMIN },
    async (request, reply) => {
      const { datasetId, deleteAll } = request.query;
      if (datasetId !== undefined && deleteAll) throw badRequestData('datasetId and deleteAll=true cannot be combined');
      const { id, attr } = await attributeTarget(app, request);
      await app.db.transaction((tx) => deleteTemporalAttribute(tx, request.tenant, id, attr, { datasetId, deleteAll }));
      return reply.code(204).send();
    },
  );

  app.patch<{ Params: InstanceParams }>(
    '/temporal/entities/:entityId/attrs/:attrId/:instanceId',
    { schema: { params: S.instanceParams, body: S.objectBody, response: S.noContentResponses }, config: ADMIN },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const { id, tm, attr } = await attributeTarget(app, request, body);
      const instance = parseInstanceCorrection(body, request.params.attrId, tm);
      await app.db.transaction((tx) => replaceInstance(tx, request.tenant, id, attr, request.params.instanceId, instance, now()));
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: InstanceParams }>(
    '/temporal/entities/:entityId/attrs/:attrId/:instanceId',
    { schema: { params: S.instanceParams, response: S.noContentResponses }, config: ADMIN },
    async (request, reply) => {
      const { id, attr } = await attributeTarget(app, request);
      await app.db.transaction((tx) => deleteInstance(tx, request.tenant, id, attr, request.params.instanceId));
      return reply.code(204).send();
    },
  );
};

// Route plugins stay encapsulated (no fastify-plugin) so the '/ngsi-ld/v1' prefix applies.
export default routes;
