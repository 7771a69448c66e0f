import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ContextBroker } from '../broker/context-broker';
import { Authenticator } from '../auth/authenticate';
import { assertAccess, routeAccess, type Access } from '../auth/access';
import { createApiKey, storeBootstrapAdminKey } from '../auth/api-keys';
import { JwtVerifier } from '../auth/jwt';
import { ANY, AUTH_OFF_PRINCIPAL, NOBODY, publicReader, type Principal } from '../auth/principal';
import { ScopedBroker } from '../auth/scoped-broker';
import { countLiveApiKeys } from '../store/api-key-store';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** what the route needs (auth/access.ts); undeclared: see routeAccess */
    access?: Access;
  }
  interface FastifyRequest {
    /** who is calling; undefined on public routes without credentials */
    principal?: Principal;
    /** the broker as this principal may use it (auth/scoped-broker.ts): routes write through it */
    broker: ContextBroker;
  }
}

/**
 * Authentication and route-level authorisation (MIM6). On every request: the route's access
 * (declared in its `config.access`), then the credentials (API key or bearer JWT) → principal,
 * then its roles and its tenant (NGSILD-Tenant) → 401/403 problem details before any handler
 * runs. Entity- and subscription-level rules live in request.broker (ScopedBroker).
 * AUTH=off: every request is an admin on every tenant (server.ts logs a loud warning).
 * PUBLIC_READ_TENANTS: reads of those tenants without credentials act as a reader ('public').
 */
export default fp(
  async (app: FastifyInstance) => {
    const config = app.config;
    const jwt = config.jwksFile || config.jwksUrl
      ? await JwtVerifier.create({ jwksFile: config.jwksFile, jwksUrl: config.jwksUrl, issuer: config.jwtIssuer!, audience: config.jwtAudience! })
      : undefined;
    const authenticator = new Authenticator(app.db, jwt);
    if (config.adminApiKey) await storeBootstrapAdminKey(app.db, config.adminApiKey);
    if (config.auth === 'on' && !config.adminApiKey && !jwt && (await countLiveApiKeys(app.db)) === 0) {
      // a fresh install must be usable: one admin key, shown once, stored hashed (SECURITY.md)
      const { key } = await createApiKey(app.db, { name: 'first-admin', roles: ['admin'], tenants: [ANY] });
      app.log.warn(`no API keys exist: created an admin key, shown this once: ${key} (Authorization: Bearer <key>; create others with POST /api/v1/admin/keys and revoke this one)`);
    }

    const publicReading = publicReader(config.publicReadTenants);
    app.decorateRequest('principal', undefined);
    const brokers = new WeakMap<FastifyRequest, ContextBroker>();
    app.decorateRequest('broker', {
      getter(this: FastifyRequest) {
        let broker = brokers.get(this);
        if (!broker) {
          broker = new ScopedBroker(app.broker, app.db, this.principal ?? NOBODY);
          brokers.set(this, broker);
        }
        return broker;
      },
    });

    app.addHook('onRequest', async (request) => {
      const access = routeAccess(request.routeOptions.config?.access, request.method, request.routeOptions.url ?? request.url);
      if (config.auth === 'off') {
        request.principal = AUTH_OFF_PRINCIPAL;
        return;
      }
      if (access === 'public') return;
      request.principal =
        access === 'read' && request.headers.authorization === undefined && config.publicReadTenants.includes(request.tenant)
          ? publicReading
          : await authenticator.authenticate(request.headers.authorization);
      const { projectId } = (request.params ?? {}) as { projectId?: string };
      assertAccess(request.principal, access, request.tenant, projectId);
    });
  },
  { name: 'auth', dependencies: ['store', 'ngsi-ld', 'errors'] },
);
