import type { FastifyInstance } from 'fastify';
import { JSONLD_TYPE, mediaType } from '../ngsi-ld/http';
import { checkBodyType, serviceBaseUrl } from './support';

/**
 * @context management (spec 5.13): clients register contexts that the service then serves, or in
 * Orion-LD mode that the external broker serves (app.contextRegistry).
 */
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
    async (request) => app.contextRegistry.list({ details: request.query.details ?? false, kind: request.query.kind }),
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
      const { body, type } = await app.contextRegistry.get(request.params.contextId, { details: request.query.details ?? false });
      return reply.type(type).send(body);
    },
  );

  app.post('/jsonldContexts', { schema: { body: { type: 'object' } } }, async (request, reply) => {
    const ldJson = mediaType(request.headers['content-type']) === JSONLD_TYPE;
    const url = await app.contextRegistry.add(request.body, { baseUrl: serviceBaseUrl(app, request), ldJson });
    return reply.code(201).header('Location', url).send();
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
      await app.contextRegistry.delete(request.params.contextId, { reload: request.query.reload ?? false });
      return reply.code(204).send();
    },
  );
};

export default routes;
