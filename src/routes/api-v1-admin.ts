import type { FastifyInstance } from 'fastify';
import { ApiKeyGrantError, createApiKey, type ApiKeyGrant } from '../auth/api-keys';
import { ROLES } from '../auth/principal';
import { badRequestData, notFound } from '../ngsi-ld/errors';
import { listApiKeys, revokeApiKey } from '../store/api-key-store';
import { queryAuditRecords } from '../store/audit-store';
import { checkBodyType } from './support';

/**
 * Administration under /api/v1 (admins only, `config.access: 'admin'`): API keys (created with
 * the key shown once, listed without it, revoked) and the audit trail (newest first, filtered
 * by principal, entity and time, paginated).
 */

const stringList = { type: 'array', items: { type: 'string', maxLength: 2048 }, maxItems: 1000 } as const;

const keyRecord = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    tenants: { type: 'array', items: { type: 'string' } },
    projects: { type: 'array', items: { type: 'string' } },
    entityTypes: { type: 'array', items: { type: 'string' } },
    idPrefixes: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    expiresAt: { type: 'string' },
    revokedAt: { type: 'string' },
  },
} as const;

const createKeySchema = {
  summary: 'Create an API key (the key is in this answer only)',
  tags: ['admin'],
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'roles', 'tenants'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      roles: { type: 'array', items: { type: 'string', enum: [...ROLES] }, minItems: 1, maxItems: 4 },
      tenants: { ...stringList, minItems: 1 },
      projects: stringList,
      entityTypes: stringList,
      idPrefixes: stringList,
      expiresAt: { type: 'string', format: 'date-time' },
    },
  },
  response: { 201: { ...keyRecord, properties: { ...keyRecord.properties, key: { type: 'string' } } } },
} as const;

const listKeysSchema = {
  summary: 'List API keys (never the keys themselves)',
  tags: ['admin'],
  querystring: { type: 'object', properties: { includeRevoked: { type: 'boolean' } } },
  response: { 200: { type: 'array', items: keyRecord } },
} as const;

const revokeKeySchema = {
  summary: 'Revoke an API key (effective on the next request, on every replica)',
  tags: ['admin'],
  params: { type: 'object', properties: { keyId: { type: 'string', maxLength: 100 } }, required: ['keyId'] },
} as const;

const auditRecord = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    principal: { type: 'string' },
    method: { type: 'string' },
    route: { type: 'string' },
    tenant: { type: 'string' },
    entityIds: { type: 'array', items: { type: 'string' } },
    attributes: { type: 'array', items: { type: 'string' } },
    sourceIp: { type: 'string' },
    status: { type: 'integer' },
  },
} as const;

const auditSchema = {
  summary: 'The audit trail of writes, newest first',
  tags: ['admin'],
  querystring: {
    type: 'object',
    properties: {
      principal: { type: 'string', maxLength: 200 },
      entity: { type: 'string', maxLength: 2048 },
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      limit: { type: 'integer', minimum: 1, maximum: 1000 },
      offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      count: { type: 'boolean' },
    },
  },
  response: { 200: { type: 'array', items: auditRecord } },
} as const;

type CreateKeyBody = Omit<ApiKeyGrant, 'types'> & { entityTypes?: string[] };
type AuditQuery = { principal?: string; entity?: string; from?: string; to?: string; limit?: number; offset?: number; count?: boolean };

const routes = async (app: FastifyInstance) => {
  app.addHook('preValidation', checkBodyType);
  const config = { access: 'admin' } as const;

  app.post<{ Body: CreateKeyBody }>('/admin/keys', { schema: createKeySchema, config }, async (request, reply) => {
    const { entityTypes, ...grant } = request.body;
    try {
      const { key, record } = await createApiKey(app.db, { ...grant, types: entityTypes });
      const { types, ...rest } = record;
      return reply.code(201).header('Cache-Control', 'no-store').send({ ...rest, entityTypes: types, key });
    } catch (err) {
      if (err instanceof ApiKeyGrantError) throw badRequestData(err.message);
      throw err;
    }
  });

  app.get<{ Querystring: { includeRevoked?: boolean } }>('/admin/keys', { schema: listKeysSchema, config }, async (request) =>
    (await listApiKeys(app.db, { includeRevoked: request.query.includeRevoked ?? false })).map(({ types, ...rest }) => ({ ...rest, entityTypes: types })));

  app.delete<{ Params: { keyId: string } }>('/admin/keys/:keyId', { schema: revokeKeySchema, config }, async (request, reply) => {
    if (!(await revokeApiKey(app.db, request.params.keyId))) throw notFound(`no live API key ${request.params.keyId}`);
    return reply.code(204).send();
  });

  app.get<{ Querystring: AuditQuery }>('/audit', { schema: auditSchema, config }, async (request, reply) => {
    const q = request.query;
    // what this replica still buffers is part of the answer
    await app.audit.flush();
    const { records, count } = await queryAuditRecords(app.db, {
      principal: q.principal, entity: q.entity, from: q.from, to: q.to, limit: q.limit ?? 100, offset: q.offset ?? 0, count: q.count ?? false,
    });
    if (count !== undefined) reply.header('NGSILD-Results-Count', String(count));
    return records;
  });
};

export default routes;
