import type { FastifyInstance } from 'fastify';
import { notFound } from '../ngsi-ld/errors';
import type { IngestionOutbox } from '../store/ingestion-outbox';
import { problem } from './schemas';

/**
 * Orion-LD mode (BROKER_URL): what became of queued contractor writes. GET /ingestions/{id} counts
 * and lists the items of one ingestion (pending / delivered / failed, each failed one with the
 * broker's problem); GET /dead-letters lists the items the broker refused for good, per tenant.
 * In embedded mode writes are not queued, so there is nothing to show (404).
 */

const brokerProblem = { ...problem, description: 'the problem details the broker answered (or the last transient failure of a pending item)' } as const;

const page = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
    offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
  },
} as const;

const statusSchema = {
  summary: 'Delivery status of a queued ingestion (external broker mode)',
  tags: ['contractor API'],
  params: { type: 'object', properties: { ingestionId: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['ingestionId'] },
  querystring: page,
  response: {
    200: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' },
        total: { type: 'integer' },
        pending: { type: 'integer' },
        delivered: { type: 'integer' },
        failed: { type: 'integer' },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              position: { type: 'integer', description: 'order in which the item was queued within the ingestion' },
              entityId: { type: 'string' },
              status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
              attempts: { type: 'integer' },
              finishedAt: { type: 'string', format: 'date-time' },
              error: brokerProblem,
            },
          },
        },
      },
    },
    '4xx': problem,
  },
} as const;

const deadLetterSchema = {
  summary: 'Items the external broker refused (dead letters), oldest first',
  tags: ['contractor API'],
  querystring: page,
  response: {
    200: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              ingestionId: { type: 'string' },
              position: { type: 'integer' },
              entityId: { type: 'string' },
              failedAt: { type: 'string', format: 'date-time' },
              attempts: { type: 'integer' },
              error: brokerProblem,
            },
          },
        },
      },
    },
    '4xx': problem,
  },
} as const;

type Page = { Querystring: { limit: number; offset: number } };

const routes = async (app: FastifyInstance) => {
  const outbox = (): IngestionOutbox => {
    if (!app.ingestionOutbox) throw notFound('writes are not queued: this service has no external broker (BROKER_URL)');
    return app.ingestionOutbox;
  };

  app.get<Page & { Params: { ingestionId: string } }>('/ingestions/:ingestionId', { schema: statusSchema }, async (request) => {
    const status = await outbox().status(request.tenant, request.params.ingestionId, request.query);
    if (!status) throw notFound(`ingestion ${request.params.ingestionId.slice(0, 200)} does not exist in this tenant`);
    return status;
  });

  app.get<Page>('/dead-letters', { schema: deadLetterSchema, config: { access: 'write' } }, async (request) =>
    outbox().deadLetters(request.tenant, request.query));
};

export default routes;
