import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { TemporalHistory, pruneHistory } from '../temporal/history-store';
import { ensurePartitions } from '../temporal/partitions';

declare module 'fastify' {
  interface FastifyInstance {
    /** the attribute history (temporal API reads) */
    temporal: TemporalHistory;
  }
}

const MAINTAIN_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The attribute history: app.temporal for the temporal API, and its upkeep when the app is ready
 * and hourly after (every replica may run it: partitions are created under a lock, pruning is
 * idempotent): the monthly partitions of this month and the next, and of the rows that landed in
 * the DEFAULT partition; with TEMPORAL_RETENTION_DAYS > 0, the history older than that is pruned.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.decorate('temporal', new TemporalHistory(app.db));
    const days = app.config.temporalRetentionDays;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    const maintain = async () => {
      const now = new Date();
      const partitions = await ensurePartitions(app.db, now);
      const pruned = days > 0 ? await pruneHistory(app.db, new Date(now.getTime() - days * DAY_MS)) : 0;
      app.log.info({ partitions, pruned, retentionDays: days }, 'attribute history maintained');
    };
    const run = () => {
      running ??= maintain()
        .catch((err: unknown) => app.log.error({ err }, 'attribute history maintenance failed'))
        .finally(() => (running = undefined));
    };
    app.addHook('onReady', async () => {
      run();
      timer = setInterval(run, MAINTAIN_EVERY_MS);
      timer.unref();
    });
    // before the store closes (onClose): no statement may be left running on it
    app.addHook('preClose', async () => {
      clearInterval(timer);
      await running;
    });
  },
  { name: 'temporal', dependencies: ['store', 'ngsi-ld'] },
);
