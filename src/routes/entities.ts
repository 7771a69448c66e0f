
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseEntity, parseAttributes, parseAttribute } from '../ngsi-ld/entity/parse';
import { renderEntity, renderEntities, renderGeoJson, renderGeoJsonFeature } from '../ngsi-ld/entity/render';
import { parseProjection, projectionAttributeNames } from '../ngsi-ld/entity/projection';
import { parseQ } from '../ngsi-ld/query/q';
import { parseGeoQuery } from '../ngsi-ld/query/geo';
import { parseScopeQ } from '../ngsi-ld/query/scope';
import { parseTypeExpr } from '../ngsi-ld/query/type-expr';
import { badRequestData } from '../ngsi-ld/errors';
import { GEOJSON_TYPE, JSON_TYPE, JSONLD_TYPE, MERGE_PATCH_TYPE } from '../ngsi-ld/http';
import type { TermMap } from '../ngsi-ld/context/types';
import type { EntityQuery, EntitySelector, QueryResult } from '../broker/context-broker';
import {
  assertTenantExists, checkBodyType, entityIdParam, hasBody, parseOptions, prepareReply, representation,
  requestTermMap, responseType,
} from './support';
import * as S from './schemas';

/** Query parameters of GET /entities and the body of POST /entityOperations/query, in one shape. */
export interface QueryInput {
  id?: string;
  idPattern?: string;
  type?: string;
  attrs?: string;
  pick?: string;
  omit?: string;
  q?: string;
  scopeQ?: string;
  georel?: string;
  geometry?: string;
  coordinates?: unknown;
  geoproperty?: string;
  /** GeoJSON representation: which GeoProperty is the Feature geometry (spec 4.5.16) */
  geometryProperty?: string;
  lang?: string;
  limit?: number;
  offset?: number;
  count?: boolean;
  options?: string;
  format?: string;
  local?: boolean;
  /** POST /entityOperations/query: several selectors, any of which may match */
  entities?: { id?: string; idPattern?: string; type?: string }[];
}

export const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 20;

/** Turns query input into the broker's EntityQuery (all parsing and bounds checks happen here). */
export function buildEntityQuery(input: QueryInput, tm: TermMap): EntityQuery {
  const limit = input.limit ?? DEFAULT_LIMIT;
  const offset = input.offset ?? 0;
  if (limit > MAX_LIMIT) throw badRequestData(`limit ${limit} is larger than the maximum ${MAX_LIMIT}`);
  if (limit === 0 && !input.count) throw badRequestData('limit=0 is only allowed together with count=true');
  const selectorInputs = input.entities ?? [{ id: input.id, idPattern: input.idPattern, type: input.type }];
  const selectors = selectorInputs.map((sel) => parseSelector(sel, tm)).filter((sel) => sel.types || sel.ids || sel.idPattern);
  const projection = parseProjection({ attrs: input.attrs, pick: input.pick, omit: input.omit }, tm);
  const query: EntityQuery = {
    selectors,
    q: input.q !== undefined ? parseQ(input.q) : undefined,
    scopeQ: input.scopeQ !== undefined ? parseScopeQ(input.scopeQ) : undefined,
    geo: parseGeoQuery(
      { georel: input.georel, geometry: input.geometry, coordinates: input.coordinates, geoproperty: input.geoproperty },
      (t) => tm.expand(t),
    ),
    attrs: input.attrs !== undefined ? projectionAttributeNames(projection) : undefined,
    limit,
    offset,
    count: input.count ?? false,
    expand: (t) => tm.expand(t),
  };
  const filtered = query.selectors.length || query.q || query.scopeQ || query.geo || query.attrs;
  if (!filtered && !input.local) {
    throw badRequestData('too broad query: give at least one of type, id, idPattern, attrs, q, scopeQ or a geo-query (or local=true)');
  }
  return query;
}

function parseSelector(sel: { id?: string; idPattern?: string; type?: string }, tm: TermMap): EntitySelector {
  const ids = sel.id?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids ?? []) entityIdParam(id);
  if (sel.idPattern !== undefined) {
    try {
      new RegExp(sel.idPattern);
    } catch {
      throw badRequestData(`idPattern '${sel.idPattern}' is not a valid regular expression`);
    }
  }
  return {
    types: sel.type !== undefined ? parseTypeExpr(sel.type, (t) => tm.expand(t)) : undefined,
    ids: ids?.length ? ids : undefined,
    idPattern: sel.idPattern,
  };
}

/** Renders a query result in the negotiated representation, with the count header. */
export async function sendQueryResult(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  input: QueryInput,
  tm: TermMap,
  result: QueryResult,
) {
  const type = responseType(request, [JSON_TYPE, JSONLD_TYPE, GEOJSON_TYPE]);
  const { format, sysAttrs } = representation(input);
  const projection = parseProjection({ attrs: input.attrs, pick: input.pick, omit: input.omit }, tm);
  const opts = { format, sysAttrs, projection, lang: input.lang, includeContext: type === JSONLD_TYPE ? tm.context : undefined };
  await prepareReply(app, request, reply, type, tm);
  if (result.count !== undefined) reply.header('NGSILD-Results-Count', String(result.count));
  if (type === GEOJSON_TYPE) {
    const geometryProperty = input.geometryProperty ? tm.expand(input.geometryProperty) : undefined;
    return reply.send(renderGeoJson(result.entities, tm, { ...opts, geometryProperty }));
  }
  return reply.send(renderEntities(result.entities, tm, opts));
}

const routes = async (app: FastifyInstance) => {
  app.addHook('preValidation', checkBodyType);

  app.post('/entities', { schema: { body: S.objectBody, response: S.noContentResponses }, config: { access: 'write' } }, async (request, reply) => {
    const tm = await requestTermMap(app, request, request.body);
    const entity = parseEntity(request.body, tm);
    await request.broker.createEntity(request.tenant, entity);
    return reply.code(201).header('Location', `/ngsi-ld/v1/entities/${encodeURIComponent(entity.id)}`).send();
  });

  app.get<{ Querystring: QueryInput }>('/entities', { schema: { querystring: S.entityQuery } }, async (request, reply) => {
    const tm = await requestTermMap(app, request);
    const query = buildEntityQuery(request.query, tm);
    await assertTenantExists(app, request.tenant);
    const result = await app.broker.queryEntities(request.tenant, query);
    return sendQueryResult(app, request, reply, request.query, tm, result);
  });

  app.get<{ Params: { entityId: string }; Querystring: QueryInput }>(
    '/entities/:entityId',
    { schema: { params: S.entityParams, querystring: S.entityQuery } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const tm = await requestTermMap(app, request);
      const type = responseType(request, [JSON_TYPE, JSONLD_TYPE, GEOJSON_TYPE]);
      const { format, sysAttrs } = representation(request.query);
      const projection = parseProjection(request.query, tm);
      await assertTenantExists(app, request.tenant);
      const entity = await app.broker.getEntity(request.tenant, id);
      const opts = { format, sysAttrs, projection, lang: request.query.lang, includeContext: type === JSONLD_TYPE ? tm.context : undefined };
      await prepareReply(app, request, reply, type, tm);
      if (type === GEOJSON_TYPE) {
        const geometryProperty = request.query.geometryProperty ? tm.expand(request.query.geometryProperty) : undefined;
        return reply.send(renderGeoJsonFeature(entity, tm, { ...opts, geometryProperty }));
      }
      return reply.send(renderEntity(entity, tm, opts));
    },
  );

  app.put<{ Params: { entityId: string } }>(
    '/entities/:entityId',
    { schema: { params: S.entityParams, body: S.objectBody, response: S.noContentResponses }, config: { access: 'write' } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const tm = await requestTermMap(app, request, request.body);
      const body = request.body as Record<string, unknown>;
      if (body.id !== undefined && body.id !== id) throw badRequestData(`body id '${String(body.id)}' does not match the URL`);
      const entity = parseEntity({ ...body, id }, tm);
      await request.broker.replaceEntity(request.tenant, entity);
      return reply.code(204).send();
    },
  );

  app.patch<{ Params: { entityId: string } }>(
    '/entities/:entityId',
    {
      schema: { params: S.entityParams, body: S.objectBody, response: S.noContentResponses },
      config: { bodyTypes: [JSON_TYPE, JSONLD_TYPE, MERGE_PATCH_TYPE], access: 'write' },
    },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const tm = await requestTermMap(app, request, request.body);
      const body = request.body as Record<string, unknown>;
      if (body.id !== undefined && body.id !== id) throw badRequestData(`body id '${String(body.id)}' does not match the URL`);
      const patch = parseEntity({ ...body, id }, tm, { requireType: false, allowNull: true, partial: true });
      await request.broker.mergeEntity(request.tenant, id, patch.attrs, {
        type: body.type !== undefined ? patch.type : undefined,
        scope: body.scope !== undefined ? patch.scope : undefined,
      });
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { entityId: string } }>(
    '/entities/:entityId',
    { schema: { params: S.entityParams, response: S.noContentResponses }, config: { access: 'write' } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      await assertTenantExists(app, request.tenant);
      await request.broker.deleteEntity(request.tenant, id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { entityId: string }; Querystring: { options?: string } }>(
    '/entities/:entityId/attrs',
    { schema: { params: S.entityParams, querystring: S.optionsQuery, body: S.objectBody, response: S.updateResultResponses }, config: { access: 'write' } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const noOverwrite = parseOptions(request.query.options, ['noOverwrite']).has('noOverwrite');
      const tm = await requestTermMap(app, request, request.body);
      const attrs = parseAttributes(request.body, tm);
      const result = await request.broker.appendAttributes(request.tenant, id, attrs, { noOverwrite });
      return sendUpdateResult(reply, result, tm);
    },
  );

  app.patch<{ Params: { entityId: string } }>(
    '/entities/:entityId/attrs',
    { schema: { params: S.entityParams, body: S.objectBody, response: S.updateResultResponses }, config: { access: 'write' } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const tm = await requestTermMap(app, request, request.body);
      const attrs = parseAttributes(request.body, tm);
      const result = await request.broker.updateAttributes(request.tenant, id, attrs);
      return sendUpdateResult(reply, result, tm);
    },
  );

  const attrRoute = { params: S.attrParams };
  type AttrRequest = { Params: { entityId: string; attrId: string }; Querystring: { datasetId?: string; deleteAll?: boolean } };

  app.patch<AttrRequest>('/entities/:entityId/attrs/:attrId', { schema: { ...attrRoute, body: S.objectBody, response: S.noContentResponses }, config: { access: 'write' } }, async (request, reply) => {
    const id = entityIdParam(request.params.entityId);
    const tm = await requestTermMap(app, request, request.body);
    const attr = tm.expand(request.params.attrId);
    const instances = parseAttribute(request.params.attrId, withoutContext(request.body), tm, request.params.attrId, { partial: true, allowNull: true });
    await request.broker.partialUpdateAttribute(request.tenant, id, attr, instances);
    return reply.code(204).send();
  });

  app.put<AttrRequest>('/entities/:entityId/attrs/:attrId', { schema: { ...attrRoute, body: S.objectBody, response: S.noContentResponses }, config: { access: 'write' } }, async (request, reply) => {
    const id = entityIdParam(request.params.entityId);
    const tm = await requestTermMap(app, request, request.body);
    const attr = tm.expand(request.params.attrId);
    const instances = parseAttribute(request.params.attrId, withoutContext(request.body), tm, request.params.attrId);
    await request.broker.replaceAttribute(request.tenant, id, attr, instances);
    return reply.code(204).send();
  });

  app.delete<AttrRequest>(
    '/entities/:entityId/attrs/:attrId',
    { schema: { ...attrRoute, querystring: S.deleteAttrQuery, response: S.noContentResponses }, config: { access: 'write' } },
    async (request, reply) => {
      const id = entityIdParam(request.params.entityId);
      const tm = await requestTermMap(app, request);
      await assertTenantExists(app, request.tenant);
      const { datasetId, deleteAll } = request.query;
      if (datasetId !== undefined && deleteAll) throw badRequestData('datasetId and deleteAll=true cannot be combined');
      await request.broker.deleteAttribute(request.tenant, id, tm.expand(request.params.attrId), { datasetId, deleteAll });
      return reply.code(204).send();
    },
  );
};

const withoutContext = (body: unknown): unknown => {
  if (!hasBody(body) || !('@context' in body)) return body;
  const { ['@context']: _ignored, ...rest } = body;
  return rest;
};

/** 204 when every attribute was written, else 207 with the spec's UpdateResult (names compacted). */
function sendUpdateResult(reply: FastifyReply, result: { updated: string[]; notUpdated: { attributeName: string; reason: string }[] }, tm: TermMap) {
  if (result.notUpdated.length === 0) return reply.code(204).send();
  return reply.code(207).type(JSON_TYPE).send({
    updated: result.updated.map((a) => tm.compact(a)),
    notUpdated: result.notUpdated.map((n) => ({ attributeName: tm.compact(n.attributeName), reason: n.reason })),
  });
}

// Route plugins stay encapsulated (no fastify-plugin) so the '/ngsi-ld/v1' prefix applies.
export default routes;
