import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { toNormalized } from '../domain/keyvalues-to-normalized';
import { alreadyExists, badRequestData, NgsiError, notFound } from '../ngsi-ld/errors';
import { JSON_TYPE } from '../ngsi-ld/http';
import { ingestItems, INGEST_CHUNK_SIZE } from '../ingest/ingest';
import { IdempotencyStore } from '../ingest/idempotency';
import { answerIdempotently } from './idempotent';
import { parseJsonItems, parseNdjson, UnreadableItem } from '../ingest/formats';
import {
  checkRegistration, deviceEntityId, mapMeasurement, observedEntityId, registrationToDevice, REGISTRATION_SCHEMA,
  type DeviceRegistration, type MappedObservation,
} from '../ingest/devices';
import { checkProgress, checkProgressItems, progressToItems, projectIds, PROGRESS_SCHEMA } from '../ingest/progress';
import type { IngestIssue, IngestItemResult, IngestOptions, IngestResult } from '../ingest/types';
import { DeviceRegistry, type StoredRegistration } from '../store/device-registry';
import { assertWritableType } from './support';
import { assertEntityWrite } from '../auth/principal';
import { idempotentWriteHeaders, ingestStatus, NDJSON_TYPES, queuedAs, queuedIngestResult } from './api-v1';
import { contractorWrites, type ContractorWrites } from '../plugins/ingestion-outbox';

/**
 * Contractor API, devices and project progress (/api/v1; src/ingest/devices.ts and progress.ts
 * hold the mappings, this file only the HTTP side):
 *
 * - POST /devices (201; 409 when registered: PUT replaces), PUT/GET/DELETE /devices/:deviceId,
 *   GET /devices: registrations (table device_registrations) + their `Device` entities;
 * - POST /measurements: `{deviceId, observedAt, values}`, an array of them, or NDJSON → the
 *   registered observed type's entity of each device, answered per measurement as ingestItems
 *   answers per item (200 all accepted, 207 some, 422 none / atomic, 503 store failure);
 * - PATCH /projects/:projectId/progress → Project + KeyPerformanceIndicator + Action entities.
 *
 * Every write goes through ingestItems (schema validation → normalized → upsert 'update'); in
 * Orion-LD mode all of them, device registrations and deletions too, go through the ingestion
 * outbox (contractorWrites) and are answered 202 with an ingestion id.
 */

/**
 * What observations need from ingestItems beyond IngestOptions: per item, the toNormalized
 * options (observedAt on every attribute, the registered unit codes). ingestItems passes them to
 * toNormalized once it supports this member; until then they are ignored (unitCode then comes
 * only from the SDM defaults, UNIT_CODES, and observedAt is missing).
 */

const DEVICE_BODY_TYPES: readonly string[] = [JSON_TYPE];
const MEASUREMENT_BODY_TYPES: readonly string[] = [JSON_TYPE, ...NDJSON_TYPES];

// --- schemas -----------------------------------------------------------------------------------------

const issue = {
  type: 'object',
  properties: { pointer: { type: 'string' }, reason: { type: 'string' } },
  required: ['pointer', 'reason'],
} as const;

const problem = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: { type: 'array', items: issue, description: 'for invalid bodies: JSON pointer + reason per problem' },
  },
  required: ['type', 'title'],
} as const;

const errorResponses = { '4xx': problem, '5xx': problem } as const;

const itemResult = {
  type: 'object',
  properties: {
    index: { type: 'integer', description: 'position of the measurement / entity in the request (0-based)' },
    line: { type: 'integer', description: 'NDJSON: 1-based line of the measurement' },
    id: { type: 'string', description: 'the entity written' },
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    errors: { type: 'array', items: issue },
  },
  required: ['index', 'status'],
} as const;

const ingestResult = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    items: { type: 'array', items: itemResult },
  },
  required: ['accepted', 'rejected', 'items'],
} as const;

const deviceView = {
  type: 'object',
  properties: {
    deviceId: { type: 'string' },
    entityId: { type: 'string', description: 'the Device entity: urn:ngsi-ld:Device:<deviceId>' },
    observedEntityId: { type: 'string', description: 'the entity its measurements update: urn:ngsi-ld:<observedType>:<deviceId>' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    // the registration as validated (REGISTRATION_SCHEMA), returned as stored
    registration: { type: 'object', additionalProperties: true },
  },
  required: ['deviceId', 'entityId', 'observedEntityId', 'createdAt', 'updatedAt', 'registration'],
} as const;

const deviceParams = {
  type: 'object',
  properties: { deviceId: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['deviceId'],
} as const;

const tenantHeader = {
  type: 'object',
  properties: { 'ngsild-tenant': { type: 'string', description: 'tenant (default: the default tenant)' } },
} as const;

const TAGS = ['contractor API: devices'];

const registerSchema = {
  summary: 'Register a device',
  description:
    'Registers a device once (as FIWARE IoT agents provision devices): the Smart Data Models type of its observations, ' +
    'location, municipality (PublicOrganization id or ISTAT code), thematic corridor, project, and the mapping of its ' +
    'measurement keys to attributes (unitCode, scale/offset, bounds). Writes the Device entity urn:ngsi-ld:Device:<deviceId>. ' +
    '409 if the device is registered (PUT /devices/{deviceId} replaces). With an external broker (Orion-LD mode) the Device ' +
    'entity is queued for it: 202 with an ingestionId (GET /api/v1/ingestions/{ingestionId}).',
  tags: TAGS,
  headers: tenantHeader,
  body: REGISTRATION_SCHEMA,
  response: { 201: deviceView, 202: queuedIngestResult(deviceView), ...errorResponses },
} as const;

const replaceSchema = {
  summary: 'Register or replace a device',
  tags: TAGS,
  headers: tenantHeader,
  params: deviceParams,
  body: { ...REGISTRATION_SCHEMA, required: REGISTRATION_SCHEMA.required.filter((r) => r !== 'deviceId') },
  response: { 200: deviceView, 201: deviceView, 202: queuedIngestResult(deviceView), ...errorResponses },
} as const;

const listSchema = {
  summary: 'List the registered devices',
  tags: TAGS,
  headers: tenantHeader,
  querystring: {
    type: 'object',
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
      offset: { type: 'integer', minimum: 0, maximum: 1_000_000_000, default: 0 },
      count: { type: 'boolean', description: 'NGSILD-Results-Count header with the total' },
    },
  },
  response: { 200: { type: 'array', items: deviceView }, ...errorResponses },
} as const;

const getSchema = { summary: 'A device registration', tags: TAGS, headers: tenantHeader, params: deviceParams, response: { 200: deviceView, ...errorResponses } } as const;

const deleteSchema = {
  summary: 'Delete a device registration',
  description: 'Deletes the registration and the Device entity; its observations stay (they are data). ' +
    'With an external broker (Orion-LD mode) the deletion of the Device entity is queued for it: 202 with an ingestionId.',
  tags: TAGS,
  headers: tenantHeader,
  params: deviceParams,
  response: { 202: queuedIngestResult({ type: 'object', properties: {}, required: [] }), 204: { type: 'null' }, ...errorResponses },
} as const;

const measurement = {
  type: 'object',
  properties: {
    deviceId: { type: 'string' },
    observedAt: { type: 'string', format: 'date-time' },
    values: {
      type: 'object',
      additionalProperties: { description: 'a number/string/boolean, or {"value": …, "unitCode": "<UN/CEFACT code>"}' },
    },
  },
  required: ['deviceId', 'observedAt', 'values'],
} as const;

const measurementsSchema = {
  summary: 'Push measurements of registered devices',
  description:
    'Compact measurements {deviceId, observedAt, values} become the registered observed type\'s entity of each device ' +
    '(urn:ngsi-ld:<observedType>:<deviceId>, updated in place; several measurements of a device in one request are ' +
    'applied oldest first): values scaled (raw × scale + offset), unitCode from the registration, observedAt, refDevice, ' +
    'location. Per measurement: accepted, or rejected with JSON pointers (/deviceId unknown device, /observedAt bad date, ' +
    '/values/<key> unknown key, wrong type, out of range, /values/<key>/unitCode wrong unit). ' +
    '200: all accepted; 207: some rejected; 422: none accepted, or atomic=true and some rejected (nothing stored); 503: store failure. ' +
    'Idempotency-Key: a retry with the same key and body gets the stored response (Idempotent-Replayed: true).',
  tags: TAGS,
  headers: idempotentWriteHeaders,
  querystring: {
    type: 'object',
    properties: {
      atomic: { type: 'boolean', default: false, description: `all or nothing (one observed type, at most ${INGEST_CHUNK_SIZE})` },
    },
  },
  body: {
    content: {
      'application/json': { schema: { anyOf: [measurement, { type: 'array', items: measurement }] } },
      'application/x-ndjson': { schema: { type: 'string' } },
      'application/ndjson': { schema: { type: 'string' } },
    },
  },
  response: { 200: ingestResult, 202: queuedIngestResult(ingestResult), 207: ingestResult, 422: ingestResult, 503: ingestResult, ...errorResponses },
} as const;

const progressResult = {
  type: 'object',
  properties: { projectId: { type: 'string' }, ...ingestResult.properties },
  required: ['projectId', ...ingestResult.required],
} as const;

const progressSchema = {
  summary: 'Report the progress of a project',
  description:
    'Updates the Project (status, completionPercentage, spending), one KeyPerformanceIndicator per metric ' +
    '(<project>-completion, -spending, -milestones) and one Action per milestone (<project>-<slug of its name>). ' +
    '404 if the project does not exist.',
  tags: TAGS,
  headers: tenantHeader,
  params: {
    type: 'object',
    properties: { projectId: { type: 'string', minLength: 1, maxLength: 256, description: 'local id or urn:ngsi-ld:Project:<local id>' } },
    required: ['projectId'],
  },
  body: PROGRESS_SCHEMA,
  response: {
    200: progressResult,
    202: queuedIngestResult(progressResult),
    422: progressResult,
    503: progressResult,
    ...errorResponses,
  },
} as const;

// --- helpers -----------------------------------------------------------------------------------------

/** 400 with the body's problems as pointer + reason (also summed up in detail). */
function invalidBody(reply: FastifyReply, what: string, errors: IngestIssue[]): FastifyReply {
  const detail = `invalid ${what}: ${errors.slice(0, 10).map((e) => `${e.pointer}: ${e.reason}`).join('; ')}${errors.length > 10 ? '; …' : ''}`;
  return reply.code(400).type('application/problem+json').send({ ...badRequestData(detail).toProblem(), errors });
}

const view = (s: StoredRegistration) => ({
  deviceId: s.deviceId,
  entityId: deviceEntityId(s.deviceId),
  observedEntityId: observedEntityId(s.registration.observedType, s.deviceId),
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
  registration: s.registration,
});

/**
 * Routes with a body: the body schema documents it (OpenAPI) but the ingest modules validate it
 * (strictly, no coercion, every problem as pointer + reason); params, query and headers are
 * validated here as the service's Fastify instance does (coercing query strings).
 */
const partsAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
addFormats(partsAjv);
const bodyByIngest = ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
  httpPart === 'body' ? () => true : partsAjv.compile(schema);

const WRITE = { access: 'write' } as const;

const routes = async (app: FastifyInstance): Promise<void> => {
  const registry = new DeviceRegistry(app.db);
  const idempotency = new IdempotencyStore(app.db);

  // NDJSON measurements (this scope only; the JSON family is parsed app-wide)
  app.addContentTypeParser([...NDJSON_TYPES], { parseAs: 'string', bodyLimit: app.config.bodyLimit }, (_req, body, done) => done(null, body));
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined) return;
    assertWritableType(request, request.routeOptions.url?.endsWith('/measurements') ? MEASUREMENT_BODY_TYPES : DEVICE_BODY_TYPES);
  });
  // a registration is its Device entity: checked before the registry changes, not only when the entity is written
  app.addHook('preHandler', async (request) => {
    const deviceId = (request.params as { deviceId?: string }).deviceId ?? (request.body as { deviceId?: unknown } | undefined)?.deviceId;
    const registering = request.routeOptions.config.access === 'write' && request.routeOptions.url?.includes('/devices');
    if (registering && typeof deviceId === 'string' && request.principal) {
      assertEntityWrite(request.principal, deviceEntityId(deviceId), ['Device']);
    }
  });

  /**
   * Writes the Device entity of a registration; attributes a replaced registration had and this
   * one has not (a link removed) are deleted. Throws (and the caller restores the registry) when
   * the entity could not be written. Orion-LD mode: queued in the outbox (writes.ingestionId), as a
   * replacement of the whole entity, which is the registration's: the outbox carries no attribute
   * deletes, and the broker may be down.
   */
  async function writeDevice(request: FastifyRequest, writes: ContractorWrites, reg: DeviceRegistration, previous?: DeviceRegistration): Promise<void> {
    const item = registrationToDevice(reg);
    const mode = writes.queued ? 'replace' : 'update';
    const result = await ingestItems(writes.deps, request.tenant, 'Device', [item], { atomic: true, mode });
    if (result.accepted !== 1) {
      const errors = result.items[0]?.errors ?? [];
      const detail = `the Device entity could not be written: ${errors.map((e) => `${e.pointer}: ${e.reason}`).join('; ')}`;
      throw result.retryable ? new NgsiError('InternalError', 503, detail) : badRequestData(detail);
    }
    if (!previous || mode === 'replace') return;
    const before = registrationToDevice(previous);
    const removed = Object.keys(before).filter((k) => !(k in item));
    if (!removed.length) return;
    const tm = await app.contexts.resolve(toNormalized('Device', before)['@context'] as string[]);
    for (const name of removed) {
      await request.broker.deleteAttribute(request.tenant, item.id as string, tm.expand(name), { deleteAll: true }).catch((err: unknown) => {
        if (!(err instanceof NgsiError && err.status === 404)) throw err;
      });
    }
  }

  app.post('/devices', { schema: registerSchema, validatorCompiler: bodyByIngest, config: WRITE }, async (request, reply) => {
    const checked = checkRegistration(request.body);
    if (!checked.ok) return invalidBody(reply, 'device registration', checked.errors);
    const reg = checked.value;
    const stored = await registry.create(request.tenant, reg);
    if (!stored) throw alreadyExists(`device ${reg.deviceId} is registered already; PUT /api/v1/devices/${reg.deviceId} replaces its registration`);
    const writes = contractorWrites(app, request);
    try {
      await writeDevice(request, writes, reg);
    } catch (err) {
      await registry.restore(request.tenant, reg.deviceId, undefined);
      throw err;
    }
    reply.header('Location', `/api/v1/devices/${encodeURIComponent(reg.deviceId)}`);
    return reply.code(writes.ingestionId ? 202 : 201).send({ ...queuedAs(writes.ingestionId), ...view(stored) });
  });

  app.put<{ Params: { deviceId: string } }>(
    '/devices/:deviceId',
    { schema: replaceSchema, validatorCompiler: bodyByIngest, config: WRITE },
    async (request, reply) => {
      const checked = checkRegistration(request.body, request.params.deviceId);
      if (!checked.ok) return invalidBody(reply, 'device registration', checked.errors);
      const reg = checked.value;
      const { stored, created, previous } = await registry.put(request.tenant, reg);
      const writes = contractorWrites(app, request);
      try {
        await writeDevice(request, writes, reg, previous);
      } catch (err) {
        await registry.restore(request.tenant, reg.deviceId, previous);
        throw err;
      }
      if (created) reply.header('Location', `/api/v1/devices/${encodeURIComponent(reg.deviceId)}`);
      return reply.code(writes.ingestionId ? 202 : created ? 201 : 200).send({ ...queuedAs(writes.ingestionId), ...view(stored) });
    },
  );

  app.get<{ Querystring: { limit?: number; offset?: number; count?: boolean } }>('/devices', { schema: listSchema }, async (request, reply) => {
    const { registrations, count } = await registry.list(request.tenant, { limit: request.query.limit ?? 20, offset: request.query.offset ?? 0 });
    if (request.query.count) reply.header('NGSILD-Results-Count', String(count));
    return registrations.map(view);
  });

  app.get<{ Params: { deviceId: string } }>('/devices/:deviceId', { schema: getSchema }, async (request) => {
    const stored = await registry.get(request.tenant, request.params.deviceId);
    if (!stored) throw notFound(`device ${request.params.deviceId} is not registered`);
    return view(stored);
  });

  app.delete<{ Params: { deviceId: string } }>('/devices/:deviceId', { schema: deleteSchema, config: WRITE }, async (request, reply) => {
    const { deviceId } = request.params;
    const previous = await registry.get(request.tenant, deviceId);
    if (!previous || !(await registry.delete(request.tenant, deviceId))) throw notFound(`device ${deviceId} is not registered`);
    const writes = contractorWrites(app, request);
    try {
      await writes.broker.deleteEntity(request.tenant, deviceEntityId(deviceId)).catch((err: unknown) => {
        if (!(err instanceof NgsiError && err.status === 404)) throw err;
      });
    } catch (err) {
      await registry.restore(request.tenant, deviceId, previous.registration);
      throw err;
    }
    return writes.ingestionId ? reply.code(202).send({ ingestionId: writes.ingestionId }) : reply.code(204).send();
  });

  app.post<{ Querystring: { atomic?: boolean } }>(
    '/measurements',
    { schema: measurementsSchema, validatorCompiler: bodyByIngest, config: WRITE },
    async (request, reply) => {
      const atomic = request.query.atomic ?? false;
      if (request.body === undefined || request.body === '') throw badRequestData('the request has no body');
      const parsed = typeof request.body === 'string'
        ? parseNdjson(request.body, { maxJsonDepth: app.config.maxJsonDepth })
        : parseJsonItems(request.body);
      const { items: input, lines } = parsed;
      if (input.length === 0) throw badRequestData('no measurements');
      const max = app.config.ingestMaxItems;
      if (input.length > max) throw badRequestData(`the request has ${input.length} measurements; the maximum is ${max}`);

      return answerIdempotently(idempotency, request, reply, ['measurements', String(atomic)], async () => {
        const deviceIds = input.flatMap((m) => (m && typeof m === 'object' && typeof (m as { deviceId?: unknown }).deviceId === 'string'
          ? [(m as { deviceId: string }).deviceId] : []));
        const registrations = await registry.getMany(request.tenant, deviceIds);
        const now = Date.now();
        const results: IngestItemResult[] = input.map((_, index) => ({ index, status: 'rejected', ...(lines?.[index] !== undefined ? { line: lines[index] } : {}) }));
        const groups = new Map<string, { index: number; mapped: MappedObservation }[]>();
        for (const [index, raw] of input.entries()) {
          if (raw instanceof UnreadableItem) {
            results[index].errors = raw.errors;
            continue;
          }
          const deviceId = (raw as { deviceId?: unknown } | null)?.deviceId;
          const mapped = mapMeasurement(typeof deviceId === 'string' ? registrations.get(deviceId)?.registration : undefined, raw, now);
          if (!mapped.ok) {
            results[index].errors = mapped.errors;
            continue;
          }
          results[index].id = mapped.value.item.id as string;
          const group = groups.get(mapped.value.type) ?? [];
          group.push({ index, mapped: mapped.value });
          groups.set(mapped.value.type, group);
        }
        const valid = [...groups.values()].reduce((n, g) => n + g.length, 0);
        if (atomic && groups.size > 1) throw badRequestData('atomic=true takes measurements of devices of one observed type only');
        if (atomic && valid < input.length) {
          for (const g of groups.values()) {
            for (const { index } of g) results[index].errors = [{ pointer: '/', reason: 'valid, but not written: the atomic request has rejected measurements' }];
          }
          return { status: 422, body: summary(results) };
        }

        let retryable = false;
        const writes = contractorWrites(app, request);
        for (const [type, group] of groups) {
          // oldest first: the entity of a device ends with its newest observation
          group.sort((a, b) => (a.mapped.normalize.observedAt < b.mapped.normalize.observedAt ? -1 : a.mapped.normalize.observedAt > b.mapped.normalize.observedAt ? 1 : 0));
          const opts: IngestOptions = { atomic, normalize: (i) => group[i]?.mapped.normalize };
          const written: IngestResult = await ingestItems(writes.deps, request.tenant, type, group.map((g) => g.mapped.item), opts);
          if (written.retryable) retryable = true;
          for (const r of written.items) {
            const { index, mapped } = group[r.index];
            results[index].status = r.status;
            if (r.status === 'accepted') delete results[index].errors;
            else results[index].errors = (r.errors ?? []).map((e) => remap(e, mapped));
          }
        }
        const out = { ...queuedAs(writes.ingestionId), ...summary(results) };
        return { status: ingestStatus({ ...out, ...(retryable ? { retryable } : {}) }, atomic, writes.ingestionId), body: out, retryable };
      });
    },
  );

  app.patch<{ Params: { projectId: string } }>(
    '/projects/:projectId/progress',
    { schema: progressSchema, validatorCompiler: bodyByIngest, config: WRITE },
    async (request, reply) => {
      const project = projectIds(request.params.projectId);
      if (!project) throw badRequestData(`'${request.params.projectId.slice(0, 200)}' is not a project id (local id or urn:ngsi-ld:Project:<local id>)`);
      const checked = checkProgress(request.body);
      if (!checked.ok) return invalidBody(reply, 'progress report', checked.errors);
      // 404 (ResourceNotFound / NonexistentTenant) when there is no such project
      const entity = await app.broker.getEntity(request.tenant, project.id).catch((err: unknown) => {
        if (err instanceof NgsiError && err.status === 404) throw notFound(`project ${project.id} does not exist`);
        throw err;
      });
      const name = projectName(entity.attrs);
      const update = checked.value;
      const reportedAt = new Date(update.reportedAt !== undefined ? Date.parse(update.reportedAt) : Date.now()).toISOString();
      const items = progressToItems({ ...project, ...(name ? { name } : {}) }, update, reportedAt);
      const problems = checkProgressItems(items);
      if (problems.length) return invalidBody(reply, 'progress report', problems);

      const all: IngestItemResult[] = [];
      let failed: IngestResult | undefined;
      const writes = contractorWrites(app, request);
      for (const { type, items: list } of items.byType) {
        const written = await ingestItems(writes.deps, request.tenant, type, list, { atomic: true });
        for (const r of written.items) all.push({ ...r, index: all.length });
        if (written.rejected) {
          failed = written;
          break;
        }
      }
      const out = summary(all);
      const status = failed ? (failed.retryable ? 503 : 422) : writes.ingestionId !== undefined ? 202 : 200;
      return reply.code(status).type(JSON_TYPE).send({ projectId: project.id, ...queuedAs(writes.ingestionId), ...out });
    },
  );
};

/** The project's name (SDM `name`), for the KPIs' names. */
function projectName(attrs: Record<string, unknown>): string | undefined {
  const name = attrs['https://smartdatamodels.org/name'] as { value?: unknown }[] | undefined;
  const value = name?.[0]?.value;
  return typeof value === 'string' ? value : undefined;
}

/** A pointer into the observed item → the measurement member it came from. */
function remap(e: IngestIssue, mapped: MappedObservation): IngestIssue {
  const [, top, ...rest] = e.pointer.split('/');
  const src = top !== undefined ? mapped.sources[top] : undefined;
  return src ? { pointer: [src, ...rest].join('/'), reason: e.reason } : e;
}

function summary(items: IngestItemResult[]): IngestResult {
  const accepted = items.filter((i) => i.status === 'accepted').length;
  return { accepted, rejected: items.length - accepted, items };
}

export default routes;
