import type { FastifyInstance } from 'fastify';
import { OrionLdBroker } from '../broker/orion-ld/broker';

const brokerStatus = {
  type: 'object',
  properties: { url: { type: 'string' }, reachable: { type: 'boolean' }, detail: { type: 'string' } },
} as const;
const outboxDepth = { type: 'object', properties: { pending: { type: 'integer' }, failed: { type: 'integer' } } } as const;
const healthBody = {
  type: 'object',
  properties: { status: { type: 'string' }, store: { type: 'string' }, detail: { type: 'string' }, broker: brokerStatus, outbox: outboxDepth },
} as const;

/**
 * Liveness and readiness: the store answers a query (else 503). With an external broker also its
 * reachability and the depth of the ingestion outbox; a broker that does not answer makes the
 * status "degraded", not 503: contractor writes are still accepted (queued), so the service is up.
 */
const routes = async (app: FastifyInstance) => {
  app.get('/health', { schema: { response: { 200: healthBody, 503: healthBody } } }, async (_request, reply) => {
    try {
      await app.db.query('SELECT 1');
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', store: app.db.kind, detail: (err as Error).message });
    }
    if (!(app.broker instanceof OrionLdBroker)) return { status: 'ok', store: app.db.kind };
    const [broker, outbox] = await Promise.all([app.broker.ping(), app.ingestionOutbox?.depth()]);
    const url = new URL(app.config.brokerUrl!);
    return {
      status: broker.reachable ? 'ok' : 'degraded',
      store: app.db.kind,
      broker: { url: url.origin, ...broker },
      ...(outbox ? { outbox } : {}),
    };
  });
};

export default routes;
