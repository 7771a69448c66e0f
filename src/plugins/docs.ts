import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

/**
 * OpenAPI 3 of the contractor API, generated from the routes' JSON Schemas (dynamic mode), with
 * Swagger UI at /docs (assets served from the installed package: no CDN) and the document at
 * /docs/json and /docs/yaml. Only /api/v1 and /contexts routes are listed: the NGSI-LD API is
 * ETSI's, documented by ETSI GS CIM 009 and its OpenAPI file. Register before the routes.
 */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Smartland contractor API',
          description:
            'Push Smart Data Models data (keyValues form) to the Valmalenco platform: JSON, NDJSON or CSV, validated ' +
            'against the vendored schemas, stored as normalized NGSI-LD (readable at /ngsi-ld/v1). Tenant: NGSILD-Tenant header.',
          version: '1',
        },
        tags: [{ name: 'contractor API', description: 'validated ingestion of Smart Data Models items' }],
      },
      transform: ({ schema, url }) => {
        const documented = url.startsWith('/api/v1') || url.startsWith('/contexts/');
        return { schema: documented ? schema : { ...schema, hide: true }, url };
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { docExpansion: 'list', deepLinking: false, validatorUrl: null },
      staticCSP: true,
    });
  },
  { name: 'docs' },
);
