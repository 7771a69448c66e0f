import type { FastifyInstance } from 'fastify';

/** Liveness and readiness: the store answers a query. */
const routes = async (app: FastifyInstance) => {
  app.get(
    '/health',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, store: { type: 'string' } } },
          503: { type: 'object', properties: { status: { type: 'string' }, store: { type: 'string' }, detail: { type: 'string' } } },
        },
      },
    },
    async (_request, reply) => {
      try {
        await app.db.query('SELECT 1');
        return { status: 'ok', store: app.db.kind };
      } catch (err) {
        return reply.code(503).send({ status: 'unavailable', store: app.db.kind, detail: (err as Error).message });
      }
    },
  );
};

export default routes;
