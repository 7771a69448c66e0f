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
import docs from './plugins/docs';
import apiV1Routes, { contextFileRoutes } from './routes/api-v1';
import apiV1DeviceRoutes from './routes/api-v1-devices';
import subscriptionRoutes from './routes/subscriptions';
import notifier, { type NotifierPluginOptions } from './plugins/notifier';
import ingestionOutbox, { type IngestionOutboxPluginOptions } from './plugins/ingestion-outbox';
import apiV1IngestionRoutes from './routes/api-v1-ingestions';
import temporal from './plugins/temporal';
import dashboard from './plugins/dashboard';
import temporalRoutes from './routes/temporal';
import auth from './plugins/auth';
import audit from './plugins/audit';
import hardening from './plugins/hardening';
import apiV1AdminRoutes from './routes/api-v1-admin';

export interface AppDeps {
  db: Db;
  /** notification worker overrides (tests, bench) */
  notifier?: NotifierPluginOptions;
  /** ingestion outbox worker overrides (tests) */
  ingestionOutbox?: IngestionOutboxPluginOptions;
}

/** Builds the service; server.ts listens, tests call inject(). */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    // a slow or stalled client cannot hold a connection and its buffers forever
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    // NGSI-LD ids are URIs with ':' and '/', percent-encoded in paths
    routerOptions: { maxParamLength: 1024 },
    // router errors (bad %-escapes, too long parameters) as problem details too
    frameworkErrors: sendProblem,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  });
  await app.register(errors);
  await app.register(store, { db: deps.db });
  await app.register(ngsiLd, { config });
  // after ngsi-ld (the tenant is known), before the routes: 401/403 before any handler runs
  await app.register(auth);
  await app.register(hardening);
  await app.register(audit);
  await app.register(notifier, deps.notifier ?? {});
  await app.register(ingestionOutbox, deps.ingestionOutbox ?? {});
  await app.register(temporal);
  // before the routes: its onResponse hook (live updates after writes) must cover them
  await app.register(dashboard);
  // before the routes: the OpenAPI document is built from the routes' schemas as they are added
  await app.register(docs);
  await app.register(healthRoutes);
  await app.register(entityRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(batchRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(discoveryRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(contextRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(subscriptionRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(temporalRoutes, { prefix: '/ngsi-ld/v1' });
  await app.register(apiV1Routes, { prefix: '/api/v1' });
  await app.register(apiV1DeviceRoutes, { prefix: '/api/v1' });
  await app.register(apiV1IngestionRoutes, { prefix: '/api/v1' });
  await app.register(apiV1AdminRoutes, { prefix: '/api/v1' });
  await app.register(contextFileRoutes);
  return app;
}
