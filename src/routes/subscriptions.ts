import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseSubscription, parseSubscriptionPatch, type SubscriptionParseOptions } from '../notify/subscription-parse';
import { renderSubscription } from '../notify/subscription-render';
import type { Subscription } from '../notify/types';
import type { ContextValue, TermMap } from '../ngsi-ld/context/types';
import { badRequestData } from '../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE } from '../ngsi-ld/http';
import { isUri } from '../ngsi-ld/entity/parse';
import {
  assertTenantExists, checkBodyType, parseOptions, prepareReply, requestTermMap, responseType, serviceBaseUrl,
} from './support';
import * as S from './schemas';

/**
 * Subscriptions (spec 5.8, 6.10, 6.11): POST/GET /subscriptions, GET/PATCH/DELETE
 * /subscriptions/{id}, per tenant. Parsing and validation: notify/subscription-parse; output:
 * notify/subscription-render. The subscription's jsonldContext (what notifications are compacted
 * with) is the body's `jsonldContext` when given, else the request's @context; an inline @context
 * (application/ld+json body) is hosted as ImplicitlyCreated (spec 5.13) and named by its URL.
 */

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 20;

const subscriptionParams = { type: 'object', properties: { subscriptionId: { type: 'string', minLength: 1, maxLength: 2048 } }, required: ['subscriptionId'] } as const;
const listQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    count: { type: 'boolean' },
    options: { type: 'string', maxLength: 256 },
  },
} as const;
const getQuery = { type: 'object', properties: { options: { type: 'string', maxLength: 256 } } } as const;

type ListRequest = { Querystring: { limit?: number; offset?: number; count?: boolean; options?: string } };
type OneRequest = { Params: { subscriptionId: string }; Querystring: { options?: string } };

function subscriptionIdParam(id: string): string {
  if (!isUri(id)) throw badRequestData(`subscription id '${id.slice(0, 200)}' is not a URI`);
  return id;
}

const subscriptionUrl = (id: string): string => `/ngsi-ld/v1/subscriptions/${encodeURIComponent(id)}`;

/** A URL for an @context: itself, the single URL of an array, or a hosted copy of an inline one. */
async function contextUrl(app: FastifyInstance, request: FastifyRequest, ctx: Subscription['jsonldContext']): Promise<string> {
  if (typeof ctx === 'string') return ctx;
  if (Array.isArray(ctx) && ctx.length === 1 && typeof ctx[0] === 'string') return ctx[0];
  return app.contextRegistry.implicit(ctx as ContextValue, serviceBaseUrl(app, request));
}

function parseOptionsOf(app: FastifyInstance, request: FastifyRequest, tm: TermMap): SubscriptionParseOptions {
  return {
    tenant: request.tenant,
    now: new Date().toISOString(),
    requestContext: tm.context,
    policy: { allowPrivate: app.config.notifyAllowPrivate },
  };
}

const routes = async (app: FastifyInstance) => {
  app.addHook('preValidation', checkBodyType);
  // admins and subscribers; a subscriber sees and changes its own subscriptions only (request.broker)
  const config = { access: 'subscribe' } as const;

  app.post('/subscriptions', { schema: { body: S.objectBody, response: S.noContentResponses }, config }, async (request, reply) => {
    const tm = await requestTermMap(app, request, request.body);
    const sub = parseSubscription(request.body, tm, parseOptionsOf(app, request, tm));
    // the context notifications will be compacted with must be available now, not at the first change
    if (sub.jsonldContext !== tm.context) await app.contexts.resolve(sub.jsonldContext as ContextValue);
    sub.jsonldContext = await contextUrl(app, request, sub.jsonldContext);
    await request.broker.createSubscription(request.tenant, sub);
    return reply.code(201).header('Location', subscriptionUrl(sub.id)).send();
  });

  app.get<ListRequest>('/subscriptions', { schema: { querystring: listQuery }, config }, async (request, reply) => {
    const limit = request.query.limit ?? DEFAULT_LIMIT;
    const offset = request.query.offset ?? 0;
    const count = request.query.count ?? false;
    if (limit > MAX_LIMIT) throw badRequestData(`limit ${limit} is larger than the maximum ${MAX_LIMIT}`);
    if (limit === 0 && !count) throw badRequestData('limit=0 is only allowed together with count=true');
    const sysAttrs = parseOptions(request.query.options, ['sysAttrs']).has('sysAttrs');
    const tm = await requestTermMap(app, request);
    const type = responseType(request, [JSON_TYPE, JSONLD_TYPE]);
    await assertTenantExists(app, request.tenant);
    const list = await request.broker.listSubscriptions(request.tenant, { limit, offset, count });
    await prepareReply(app, request, reply, type, tm);
    if (list.count !== undefined) reply.header('NGSILD-Results-Count', String(list.count));
    const now = new Date();
    const includeContext = type === JSONLD_TYPE ? tm.context : undefined;
    return reply.send(list.subscriptions.map((s) => renderSubscription(s, tm, { sysAttrs, now, includeContext })));
  });

  app.get<OneRequest>('/subscriptions/:subscriptionId', { schema: { params: subscriptionParams, querystring: getQuery }, config }, async (request, reply) => {
    const id = subscriptionIdParam(request.params.subscriptionId);
    const sysAttrs = parseOptions(request.query.options, ['sysAttrs']).has('sysAttrs');
    const tm = await requestTermMap(app, request);
    const type = responseType(request, [JSON_TYPE, JSONLD_TYPE]);
    await assertTenantExists(app, request.tenant);
    const sub = await request.broker.getSubscription(request.tenant, id);
    await prepareReply(app, request, reply, type, tm);
    return reply.send(renderSubscription(sub, tm, { sysAttrs, includeContext: type === JSONLD_TYPE ? tm.context : undefined }));
  });

  app.patch<OneRequest>(
    '/subscriptions/:subscriptionId',
    { schema: { params: subscriptionParams, body: S.objectBody, response: S.noContentResponses }, config },
    async (request, reply) => {
      const id = subscriptionIdParam(request.params.subscriptionId);
      const tm = await requestTermMap(app, request, request.body);
      const patch = parseSubscriptionPatch(request.body, tm, { ...parseOptionsOf(app, request, tm), id });
      if (patch.jsonldContext !== undefined) {
        if (patch.jsonldContext !== tm.context) await app.contexts.resolve(patch.jsonldContext as ContextValue);
        patch.jsonldContext = await contextUrl(app, request, patch.jsonldContext);
      }
      await assertTenantExists(app, request.tenant);
      await request.broker.updateSubscription(request.tenant, id, patch);
      return reply.code(204).send();
    },
  );

  app.delete<OneRequest>(
    '/subscriptions/:subscriptionId',
    { schema: { params: subscriptionParams, response: S.noContentResponses }, config },
    async (request, reply) => {
      const id = subscriptionIdParam(request.params.subscriptionId);
      await assertTenantExists(app, request.tenant);
      await request.broker.deleteSubscription(request.tenant, id);
      return reply.code(204).send();
    },
  );
};

// Route plugins stay encapsulated (no fastify-plugin) so the '/ngsi-ld/v1' prefix applies.
export default routes;
