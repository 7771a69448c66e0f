import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/db';
import { migrate } from '../store/migrations';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

/** Makes the store available as app.db, migrated, and closes it with the app. */
export default fp(
  async (app: FastifyInstance, opts: { db: Db }) => {
    await migrate(opts.db);
    app.decorate('db', opts.db);
    app.log.info({ store: opts.db.kind, location: opts.db.location }, `store: ${opts.db.kind} at ${opts.db.location}`);
    app.addHook('onClose', async () => opts.db.close());
  },
  { name: 'store' },
);
