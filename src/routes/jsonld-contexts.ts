import type { FastifyInstance } from 'fastify';
import { addContext, listContexts, getContext, deleteContext } from '../ngsi-ld/context/registry';
import { JSON_TYPE, JSONLD_TYPE } from '../ngsi-ld/http';
import { checkBodyType, serviceBaseUrl } from './support';

/** @context management (spec 5.13): clients register contexts that the service then serves. */
const routes = async (app: FastifyInstance) => {
  app.addHook('preValidation', checkBodyType);
  app.get<{ Querystring: { details?: boolean; kind?: string } }>(
    '/jsonldContexts',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { details: { type: 'boolean' }, kind: { type: 'string', enum: ['Hosted', 'Cached', 'ImplicitlyCreated'] } },
        },
      },
    },
    async (request) => listContexts(app.contextStore, { details: request.query.details ?? false, kind: request.query.kind }),
  );

  app.get<{ Params: { contextId: string }; Querystring: { details?: boolean } }>(
    '/jsonldContexts/:contextId',
    {
      schema: {
        params: { type: 'object', properties: { contextId: { type: 'string', minLength: 1, maxLength: 1024 } } },
        querystring: { type: 'object', properties: { details: { type: 'boolean' } } },
      },
    },
    async (request, reply) => {
      const details = request.query.details ?? false;
      const doc = await getContext(app.contextStore, request.params.contextId, { details, coreVersion: app.config.coreContext });
      return reply.type(details ? JSON_TYPE : JSONLD_TYPE).send(doc);
    },
  );

  app.post('/jsonldContexts', { schema: { body: { type: 'object' } } }, async (request, reply) => {
    const stored = await addContext(app.contextStore, request.body, serviceBaseUrl(app, request));
    return reply.code(201).header('Location', stored.url).send();
  });

  app.delete<{ Params: { contextId: string }; Querystring: { reload?: boolean } }>(
    '/jsonldContexts/:contextId',
    {
      schema: {
        params: { type: 'object', properties: { contextId: { type: 'string', minLength: 1, maxLength: 1024 } } },
        querystring: { type: 'object', properties: { reload: { type: 'boolean' } } },
      },
    },
    async (request, reply) => {
      await deleteContext(app.contextStore, request.params.contextId, { reload: request.query.reload ?? false, cache: app.contexts });
      return reply.code(204).send();
    },
  );
};

export default routes;
