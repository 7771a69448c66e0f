import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import type { ContextBroker } from '../broker/context-broker';
import { EmbeddedBroker } from '../broker/embedded/engine';
import { OrionLdBroker, orionLdClient } from '../broker/orion-ld/broker';
import { BrokerContextRegistry, brokerHostedContexts } from '../broker/orion-ld/contexts';
import { ContextResolver } from '../ngsi-ld/context/resolver';
import { SqlContextStore } from '../store/context-store';
import { localContextRegistry, type ContextRegistry, type ContextStore } from '../ngsi-ld/context/registry';
import { badRequestData } from '../ngsi-ld/errors';
import { assertJsonDepth, assertStorableText, tenantOf, JSON_TYPE, JSONLD_TYPE, MERGE_PATCH_TYPE, GEOJSON_TYPE } from '../ngsi-ld/http';

declare module 'fastify' {
  interface FastifyInstance {
    broker: ContextBroker;
    contexts: ContextResolver;
    contextStore: ContextStore;
    /** where /jsonldContexts registers contexts: our store, or the external broker */
    contextRegistry: ContextRegistry;
    config: Config;
  }
  interface FastifyRequest {
    /** NGSILD-Tenant ('' = default tenant) */
    tenant: string;
  }
}

/**
 * What every NGSI-LD route needs: JSON bodies parsed with a depth bound (json, ld+json,
 * merge-patch), the tenant of the request, the context resolver and the broker.
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    app.decorate('config', config);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      [JSON_TYPE, JSONLD_TYPE, MERGE_PATCH_TYPE, GEOJSON_TYPE],
      { parseAs: 'string', bodyLimit: config.bodyLimit },
      (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body as string);
        } catch (err) {
          return done(badRequestData(`invalid JSON: ${(err as Error).message}`));
        }
        try {
          assertJsonDepth(parsed, config.maxJsonDepth);
          assertStorableText(parsed, 'the JSON body');
        } catch (err) {
          return done(err as Error);
        }
        done(null, parsed);
      },
    );

    // BROKER_URL: an external NGSI-LD broker (Orion-LD) holds entities, subscriptions and registered @contexts
    const client = config.brokerUrl ? orionLdClient(config) : undefined;
    const contextStore = new SqlContextStore(app.db);
    app.decorate('contextStore', contextStore);
    const contexts = new ContextResolver({
      coreVersion: config.coreContext, allowHosts: config.contextAllowHosts, allowPrivate: config.contextAllowPrivate, store: contextStore,
      brokerHosted: client && brokerHostedContexts(client),
    });
    app.decorate('contexts', contexts);
    app.decorate('contextRegistry', client ? new BrokerContextRegistry(client, contextStore, contexts) : localContextRegistry(contextStore, contexts, config.coreContext));
    const broker: ContextBroker = client ? new OrionLdBroker(client, contexts) : new EmbeddedBroker(app.db);
    app.decorate('broker', broker);

    app.decorateRequest('tenant', '');
    app.addHook('onRequest', async (request) => {
      request.tenant = tenantOf(request.headers['ngsild-tenant']);
    });
    // query parameters and path parameters end up in SQL parameters too
    app.addHook('preValidation', async (request) => {
      assertStorableText(request.params, 'a path parameter');
      assertStorableText(request.query, 'a query parameter');
    });
  },
  { name: 'ngsi-ld', dependencies: ['store', 'errors'] },
);
