import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { TemporalHistory, pruneHistory } from '../temporal/history-store';

declare module 'fastify' {
  interface FastifyInstance {
    /** the attribute history (temporal API reads) */
    temporal: TemporalHistory;
  }
}

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The attribute history: app.temporal for the temporal API, and retention. With
 * TEMPORAL_RETENTION_DAYS > 0, instances older than that are pruned when the app is ready and
 * hourly after (every replica may prune: the DELETE is idempotent).
 */
export default fp(
  async (app: FastifyInstance) => {
    app.decorate('temporal', new TemporalHistory(app.db));
    const days = app.config.temporalRetentionDays;
    if (days === 0) return;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    const prune = () => {
      running ??= pruneHistory(app.db, new Date(Date.now() - days * DAY_MS))
        .then((n) => app.log.info({ pruned: n, retentionDays: days }, 'attribute history pruned'))
        .catch((err: unknown) => app.log.error({ err }, 'attribute history pruning failed'))
        .finally(() => (running = undefined));
    };
    app.addHook('onReady', async () => {
      prune();
      timer = setInterval(prune, PRUNE_EVERY_MS);
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
