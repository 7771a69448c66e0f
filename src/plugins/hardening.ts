import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { NgsiError } from '../ngsi-ld/errors';

/**
 * Abuse limits beside authentication: security headers (helmet; no Content-Security-Policy: the
 * API answers JSON, and HTML pages set their own), a request rate per principal (per client
 * address before authentication and with AUTH=off) → 429, and load shedding when the event loop
 * lags (under-pressure) → 503 with Retry-After, both as problem details. Body size, JSON depth
 * and request timeouts are set where the body parser and the server are made (ngsi-ld.ts, app.ts).
 */
export default fp(
  async (app: FastifyInstance) => {
    const config = app.config;
    // cross-origin resources: our published @context and the API are meant to be fetched from other sites
    await app.register(helmet, { contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' }, global: true });

    if (config.rateLimitMax > 0) {
      await app.register(rateLimit, {
        max: config.rateLimitMax,
        timeWindow: config.rateLimitWindowMs,
        // after authentication (registered after the auth plugin, so its onRequest hook runs later)
        keyGenerator: (request: FastifyRequest) =>
          request.principal && request.principal.via !== 'auth-off' ? `principal:${request.principal.name}` : `ip:${request.ip}`,
        errorResponseBuilder: (_request, context) =>
          new NgsiError('TooManyRequests', 429, `rate limit of ${context.max} requests per ${context.after} exceeded; retry later`),
      });
    }

    if (config.maxEventLoopDelayMs > 0) {
      await app.register(underPressure, {
        maxEventLoopDelay: config.maxEventLoopDelayMs,
        retryAfter: 10,
        pressureHandler: async (_request, reply, type) => {
          reply.header('Retry-After', '10');
          throw new NgsiError('ServiceUnavailable', 503, `the service is overloaded (${type}); retry later`);
        },
      });
    }
  },
  { name: 'hardening', dependencies: ['errors', 'auth'] },
);
