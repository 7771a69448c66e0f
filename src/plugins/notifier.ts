import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../notify/worker';

declare module 'fastify' {
  interface FastifyInstance {
    /** the notification delivery worker; undefined when NOTIFY_WORKER=off or the tables are missing */
    notifier?: DeliveryWorker;
  }
}

export interface NotifierPluginOptions {
  /** overrides for the worker (tests: short backoff, poll interval) */
  worker?: Partial<Omit<DeliveryWorkerOptions, 'db' | 'broker' | 'contexts' | 'policy'>>;
}

/**
 * Starts the notification delivery worker when the app is ready and stops it (gracefully: the
 * deliveries in flight finish and release their claims) when it closes. NOTIFY_WORKER=off keeps
 * it out of this process (API-only replicas). After every write request it is woken in-process;
 * other replicas' writes wake it through PostgreSQL LISTEN/NOTIFY, and it polls besides.
 */
export default fp(
  async (app: FastifyInstance, opts: NotifierPluginOptions) => {
    const config = app.config;
    // with BROKER_URL the external broker matches and notifies; our notification outbox stays empty
    if (config.notifyWorker === 'off' || config.brokerUrl) return;
    let worker: DeliveryWorker | undefined;
    app.decorate('notifier', { getter: () => worker });
    app.addHook('onReady', async () => {
      // the worker needs the subscription tables (migrations 5 and 6)
      const { rows } = await app.db.query<{ ok: boolean }>(
        `SELECT to_regclass('notification_outbox') IS NOT NULL AND EXISTS (
           SELECT 1 FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'subscriptions' AND column_name = 'delivery_owner') AS ok`,
      );
      if (!rows[0]?.ok) {
        app.log.warn('notification worker not started: the subscriptions/notification_outbox tables are missing');
        return;
      }
      worker = new DeliveryWorker({
        db: app.db,
        broker: app.broker,
        contexts: app.contexts,
        policy: { allowPrivate: config.notifyAllowPrivate },
        listenUrl: config.databaseUrl,
        leaseMs: config.notifyLeaseSeconds * 1000,
        concurrency: config.notifyConcurrency,
        logger: app.log,
        ...opts.worker,
      });
      await worker.start();
      app.log.info({ worker: worker.id }, 'notification worker started');
    });
    app.addHook('onResponse', async (request) => {
      // with LISTEN connected the commit has woken the worker already; a second claim would come back empty
      if (worker && !worker.listening && request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS') worker.wake();
    });
    // preClose runs before any onClose hook, so before the store plugin closes the database
    app.addHook('preClose', async () => {
      await worker?.stop();
    });
  },
  { name: 'notifier', dependencies: ['store', 'ngsi-ld'] },
);
