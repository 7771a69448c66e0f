import fp from 'fastify-plugin';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IngestionOutbox } from '../store/ingestion-outbox';
import { OutboxDelivery, type OutboxDeliveryOptions } from '../broker/orion-ld/outbox-delivery';
import type { IngestDeps } from '../ingest/types';
import type { ContextBroker } from '../broker/context-broker';
import { ScopedBroker } from '../auth/scoped-broker';
import { NOBODY, writeScopeOf } from '../auth/principal';
import { BrokerUnavailable, brokerUnreachable } from '../broker/orion-ld/client';
import type { OutboxMode } from '../store/ingestion-outbox';
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
  /** the same writes for what ingestItems does not do (deleting an entity) */
  broker: Pick<ContextBroker, 'batchUpsert' | 'deleteEntity'>;
  /** Orion-LD mode: the writes go to the outbox */
  readonly queued: boolean;
  /** set once items were committed to the outbox (the answer is then 202 with this id) */
  readonly ingestionId: string | undefined;
}

/**
 * The IngestDeps of a contractor request: the request's broker (embedded mode), or (Orion-LD mode)
 * the outbox under one ingestion id, created with the first committed chunk. Queued writes pass the
 * same per-entity authorisation as direct ones: the request's ScopedBroker is put in front of a
 * broker whose batchUpsert and deleteEntity enqueue (everything else, e.g. reading stored types, is
 * the real one). While the broker cannot tell the stored types of the entities, a type-restricted
 * writer is not refused: its items are queued with its scope, and the worker checks them against
 * the stored types before delivery (outbox-delivery.ts).
 */
export function contractorWrites(app: FastifyInstance, request: FastifyRequest): ContractorWrites {
  const outbox = app.ingestionOutbox;
  const refusalsOf = (broker: ContextBroker) =>
    broker instanceof ScopedBroker ? (tenant: string, entities: Entity[]) => broker.writeRefusals(tenant, entities) : undefined;
  if (!outbox) {
    return {
      deps: { broker: request.broker, writeRefusals: refusalsOf(request.broker), contexts: app.contexts, log: request.log },
      broker: request.broker, queued: false, ingestionId: undefined,
    };
  }
  const id = `urn:smartland:ingestion:${randomUUID()}`;
  const principal = request.principal ?? NOBODY;
  let used = false;
  const unchecked = new Set<string>();
  let unreachable = false;
  const enqueue = async (tenant: string, entities: Entity[], mode: OutboxMode) => {
    await outbox.enqueue(id, tenant, entities, mode, (e) => (unchecked.has(e.id) ? writeScopeOf(principal) : undefined));
    used = true;
  };
  const queue: Pick<ContextBroker, 'batchUpsert' | 'deleteEntity' | 'queryEntities'> = {
    async batchUpsert(tenant, entities, mode) {
      await enqueue(tenant, entities, mode);
      return { success: entities.map((e) => e.id), errors: [] };
    },
    async deleteEntity(tenant, entityId) {
      await enqueue(tenant, [{ id: entityId, type: [], attrs: {} }], 'delete');
    },
    // a broker found down is not asked again (each try waits out the client's retries): by this
    // request, or by the delivery worker, whose circuit breaker is open
    async queryEntities(tenant, query) {
      if (unreachable || app.outboxDelivery?.breaker.state === 'open') throw new BrokerUnavailable('the context broker is down');
      return app.broker.queryEntities(tenant, query).catch((err: unknown) => {
        if (brokerUnreachable(err)) unreachable = true;
        throw err;
      });
    },
  };
  const queued: ContextBroker = Object.assign(Object.create(app.broker) as ContextBroker, queue);
  const scoped = new ScopedBroker(queued, app.db, principal, (ids) => ids.forEach((i) => unchecked.add(i)));
  return {
    deps: { broker: scoped, writeRefusals: refusalsOf(scoped), contexts: app.contexts, log: request.log },
    broker: scoped,
    queued: true,
    get ingestionId() {
      return used ? id : undefined;
    },
  };
}
