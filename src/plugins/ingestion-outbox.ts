import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IngestionOutbox } from '../store/ingestion-outbox';
import { OutboxDelivery, type OutboxDeliveryOptions } from '../broker/orion-ld/outbox-delivery';
import type { IngestDeps } from '../ingest/types';
import type { ContextBroker } from '../broker/context-broker';
import { ScopedBroker } from '../auth/scoped-broker';
import { NOBODY } from '../auth/principal';
import type { Entity } from '../ngsi-ld/types';

declare module 'fastify' {
  interface FastifyInstance {
    /** Orion-LD mode (BROKER_URL): the durable queue of contractor writes; undefined in embedded mode */
    ingestionOutbox?: IngestionOutbox;
    /** its delivery worker in this process (OUTBOX_WORKER=on) */
    outboxDelivery?: OutboxDelivery;
  }
}

export interface IngestionOutboxPluginOptions {
  /** worker overrides (tests: short backoff, breaker cooldown, poll interval) */
  worker?: Partial<Omit<OutboxDeliveryOptions, 'outbox' | 'broker'>>;
}

/**
 * With an external broker, contractor writes are not sent while the contractor waits: they are
 * committed to the ingestion outbox in our store and answered 202 with an ingestion id, and a worker
 * delivers them (outbox-delivery.ts), so that nothing a contractor was told "accepted" is lost
 * while the broker is down. In embedded mode this plugin does nothing: writes go to the engine.
 */
export default fp(
  async (app: FastifyInstance, opts: IngestionOutboxPluginOptions) => {
    if (!app.config.brokerUrl) return;
    const outbox = new IngestionOutbox(app.db);
    app.decorate('ingestionOutbox', outbox);
    if (app.config.outboxWorker === 'off') return;
    const worker = new OutboxDelivery({
      outbox, broker: app.broker, logger: app.log,
      leaseMs: app.config.outboxLeaseSeconds * 1000, retentionMs: app.config.outboxRetentionHours * 3_600_000,
      ...opts.worker,
    });
    app.decorate('outboxDelivery', worker);
    app.addHook('onReady', async () => worker.start());
    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode === 202 && request.url.startsWith('/api/v1/')) worker.wake();
    });
    // before the store plugin's onClose closes the database
    app.addHook('preClose', async () => worker.stop());
  },
  { name: 'ingestion-outbox', dependencies: ['store', 'ngsi-ld'] },
);

/** Where a contractor request's items are written, and whether they were queued. */
export interface ContractorWrites {
  deps: IngestDeps;
  /** set once items were committed to the outbox (the answer is then 202 with this id) */
  readonly ingestionId: string | undefined;
}

/**
 * The IngestDeps of a contractor request: the request's broker (embedded mode), or (Orion-LD mode)
 * the outbox under one ingestion id, created with the first committed chunk. Queued writes pass the
 * same per-entity authorisation as direct ones: the request's ScopedBroker is put in front of a
 * broker whose batchUpsert enqueues (everything else, e.g. reading stored types, is the real one).
 */
export function contractorWrites(app: FastifyInstance, request: FastifyRequest): ContractorWrites {
  const outbox = app.ingestionOutbox;
  const refusalsOf = (broker: ContextBroker) =>
    broker instanceof ScopedBroker ? (tenant: string, entities: Entity[]) => broker.writeRefusals(tenant, entities) : undefined;
  if (!outbox) {
    return { deps: { broker: request.broker, writeRefusals: refusalsOf(request.broker), contexts: app.contexts, log: request.log }, ingestionId: undefined };
  }
  const id = `urn:smartland:ingestion:${randomUUID()}`;
  let used = false;
  const queue: Pick<ContextBroker, 'batchUpsert'> = {
    async batchUpsert(tenant, entities, mode) {
      await outbox.enqueue(id, tenant, entities, mode);
      used = true;
      return { success: entities.map((e) => e.id), errors: [] };
    },
  };
  const queued: ContextBroker = Object.assign(Object.create(app.broker) as ContextBroker, queue);
  const scoped = new ScopedBroker(queued, app.db, request.principal ?? NOBODY);
  return {
    deps: { broker: scoped, writeRefusals: refusalsOf(scoped), contexts: app.contexts, log: request.log },
    get ingestionId() {
      return used ? id : undefined;
    },
  };
}
