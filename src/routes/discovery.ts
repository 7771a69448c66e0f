import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { notFound } from '../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE } from '../ngsi-ld/http';
import type { TermMap } from '../ngsi-ld/context/types';
import type { AttributeSummary } from '../broker/context-broker';
import { assertTenantExists, prepareReply, requestTermMap, responseType } from './support';
import * as S from './schemas';

/** Discovery (spec 5.7.5–5.7.10): which entity types and attributes exist in a tenant. */
const routes = async (app: FastifyInstance) => {
  /** Shared by every discovery route: context, negotiated type, tenant check, reply headers. */
  const begin = async (request: FastifyRequest, reply: FastifyReply) => {
    const tm = await requestTermMap(app, request);
    const type = responseType(request, [JSON_TYPE, JSONLD_TYPE]);
    await assertTenantExists(app, request.tenant);
    await prepareReply(app, request, reply, type, tm);
    return { tm, ctx: type === JSONLD_TYPE ? { '@context': tm.context } : {} };
  };

  const attribute = (a: AttributeSummary, tm: TermMap) => ({
    id: a.name,
    type: 'Attribute',
    attributeName: tm.compact(a.name),
    attributeCount: a.count,
    attributeTypes: a.kinds,
    typeNames: a.types.map((t) => tm.compact(t)),
  });

  app.get<{ Querystring: { details?: boolean } }>('/types', { schema: { querystring: S.detailsQuery } }, async (request, reply) => {
    const { tm, ctx } = await begin(request, reply);
    const types = await app.broker.listTypes(request.tenant);
    if (request.query.details) {
      return types.map((t) => ({
        id: t.type,
        type: 'EntityType',
        typeName: tm.compact(t.type),
        attributeNames: t.attributes.map((a) => tm.compact(a.name)),
        ...ctx,
      }));
    }
    return { id: `urn:ngsi-ld:EntityTypeList:${randomUUID()}`, type: 'EntityTypeList', typeList: types.map((t) => tm.compact(t.type)), ...ctx };
  });

  app.get<{ Params: { type: string } }>('/types/:type', { schema: { params: S.typeParams } }, async (request, reply) => {
    const { tm, ctx } = await begin(request, reply);
    const wanted = tm.expand(request.params.type);
    const info = (await app.broker.listTypes(request.tenant)).find((t) => t.type === wanted);
    if (!info) throw notFound(`no entity of type '${request.params.type}'`);
    return {
      id: info.type,
      type: 'EntityTypeInfo',
      typeName: tm.compact(info.type),
      entityCount: info.entityCount,
      attributeDetails: info.attributes.map((a) => ({
        id: a.name,
        type: 'Attribute',
        attributeName: tm.compact(a.name),
        attributeTypes: a.kinds,
      })),
      ...ctx,
    };
  });

  app.get<{ Querystring: { details?: boolean } }>('/attributes', { schema: { querystring: S.detailsQuery } }, async (request, reply) => {
    const { tm, ctx } = await begin(request, reply);
    const attributes = await app.broker.listAttributes(request.tenant);
    if (request.query.details) return attributes.map((a) => ({ ...attribute(a, tm), ...ctx }));
    return {
      id: `urn:ngsi-ld:AttributeList:${randomUUID()}`,
      type: 'AttributeList',
      attributeList: attributes.map((a) => tm.compact(a.name)),
      ...ctx,
    };
  });

  app.get<{ Params: { attrId: string } }>('/attributes/:attrId', { schema: { params: S.attrNameParams } }, async (request, reply) => {
    const { tm, ctx } = await begin(request, reply);
    const wanted = tm.expand(request.params.attrId);
    const a = (await app.broker.listAttributes(request.tenant)).find((x) => x.name === wanted);
    if (!a) throw notFound(`no attribute '${request.params.attrId}'`);
    return { ...attribute(a, tm), ...ctx };
  });
};

export default routes;
