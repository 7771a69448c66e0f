import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config';
import type { Db } from './store/db';
import errors, { sendProblem } from './plugins/errors';
import store from './plugins/store';
import ngsiLd from './plugins/ngsi-ld';
import entityRoutes from './routes/entities';
import batchRoutes from './routes/batch';
import discoveryRoutes from './routes/discovery';
import contextRoutes from './routes/jsonld-contexts';
import healthRoutes from './routes/health';

export interface AppDeps {
  db: Db;
}

/** Builds the service; server.ts listens, tests call inject(). */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    // NGSI-LD ids are URIs with ':' and '/', percent-encoded in paths
    routerOptions: { maxParamLength: 1024 },
    // router errors (bad %-escapes, too long parameters) as problem details too
    frameworkErrors: sendProblem,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  });
  await app.register(errors);
  await app.register(store, { db: deps.db });
  await app.register(ngsiLd, { config });
  await app.register(healthRoutes);
  await app.register(entityRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(batchRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(discoveryRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(contextRoutes, { prefix: '/ngsi-ld/v1' });
  return app;
}
