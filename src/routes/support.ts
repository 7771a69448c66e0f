import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TermMap } from '../ngsi-ld/context/types';
import { linkHeaderContext, coreContextUrl } from '../ngsi-ld/context/resolver';
import { badRequestData, nonexistentTenant, NgsiError } from '../ngsi-ld/errors';
import { contextLinkHeader, mediaType, negotiate, JSON_TYPE, JSONLD_TYPE, type ResponseType } from '../ngsi-ld/http';
import type { Format } from '../ngsi-ld/types';
import { isUri } from '../ngsi-ld/entity/parse';

/** Request plumbing shared by the NGSI-LD routes: context, tenant, options, responses. */

export const hasBody = (body: unknown): body is Record<string, unknown> =>
  body !== null && typeof body === 'object' && !Array.isArray(body);

/**
 * The @context of a request (spec 6.3.5): with application/ld+json it is the body's @context
 * (and a Link header is an error); otherwise the Link header, if any, and the body may not
 * carry one. No context at all means the core context.
 */
export async function requestTermMap(app: FastifyInstance, request: FastifyRequest, body?: unknown): Promise<TermMap> {
  const link = linkHeaderContext(request.headers.link as string | undefined);
  if (mediaType(request.headers['content-type']) === JSONLD_TYPE && body !== undefined) {
    if (link) throw badRequestData('a Link header with a @context is not allowed with Content-Type application/ld+json');
    return app.contexts.resolve(bodyContext(body));
  }
  if (hasBody(body) && '@context' in body) {
    throw badRequestData('@context in the body requires Content-Type application/ld+json (or use a Link header)');
  }
  return app.contexts.resolve(link);
}

/** The @context member an application/ld+json body must carry. */
export function bodyContext(body: unknown): Parameters<FastifyInstance['contexts']['resolve']>[0] {
  const ctx = hasBody(body) ? body['@context'] : undefined;
  if (ctx === undefined) throw badRequestData('Content-Type application/ld+json requires a @context member in the body');
  return ctx as Parameters<FastifyInstance['contexts']['resolve']>[0];
}

/** Reads are answered 404 NonexistentTenant for tenants that were never written to. */
export async function assertTenantExists(app: FastifyInstance, tenant: string): Promise<void> {
  if (!(await app.broker.tenantExists(tenant))) throw nonexistentTenant(tenant);
}

export function entityIdParam(id: string): string {
  if (!isUri(id)) throw badRequestData(`entity id '${id.slice(0, 200)}' is not a URI`);
  return id;
}

/** `options` (comma list) and `format` query parameters. */
export function parseOptions(options: string | undefined, allowed: readonly string[]): Set<string> {
  const set = new Set((options ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const o of set) if (!allowed.includes(o)) throw badRequestData(`unknown option '${o}'; allowed: ${allowed.join(', ')}`);
  return set;
}

export function representation(query: { options?: string; format?: string }): { format: Format; sysAttrs: boolean } {
  const options = parseOptions(query.options, ['keyValues', 'simplified', 'concise', 'normalized', 'sysAttrs']);
  const formats: Format[] = [];
  if (options.has('keyValues') || options.has('simplified')) formats.push('keyValues');
  if (options.has('concise')) formats.push('concise');
  if (options.has('normalized')) formats.push('normalized');
  if (query.format !== undefined) {
    const f = query.format === 'simplified' ? 'keyValues' : query.format;
    if (!['keyValues', 'concise', 'normalized'].includes(f)) throw badRequestData(`unknown format '${query.format}'`);
    formats.push(f as Format);
  }
  if (new Set(formats).size > 1) throw badRequestData(`conflicting representations requested: ${[...new Set(formats)].join(', ')}`);
  return { format: formats[0] ?? 'normalized', sysAttrs: options.has('sysAttrs') };
}

/** Sets the response type and, for application/json, the Link header to the context used. */
export async function prepareReply(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  type: ResponseType,
  tm: TermMap,
): Promise<void> {
  reply.type(type);
  if (type !== JSONLD_TYPE) reply.header('Link', contextLinkHeader(await linkableContext(app, request, tm)));
}

/**
 * A URL for the context a response was compacted with: the request's own URL, the core context,
 * or for an inline context a hosted copy the service creates (spec 5.13: ImplicitlyCreated).
 */
async function linkableContext(app: FastifyInstance, request: FastifyRequest, tm: TermMap): Promise<string> {
  const ctx = tm.context;
  if (typeof ctx === 'string') return ctx;
  if (Array.isArray(ctx) && ctx.length === 1 && typeof ctx[0] === 'string') return ctx[0];
  if (ctx === undefined || (Array.isArray(ctx) && ctx.length === 0)) return coreContextUrl(app.config.coreContext);
  return app.contextRegistry.implicit(ctx, serviceBaseUrl(app, request));
}

/** The base URL clients reach the service at (PUBLIC_URL, else from the request). */
export const serviceBaseUrl = (app: FastifyInstance, request: FastifyRequest): string =>
  app.config.publicUrl ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;

export const responseType = (request: FastifyRequest, offered: readonly ResponseType[]): ResponseType =>
  negotiate(request.headers.accept, offered);

/** Content-Type check for writes (415 for anything but the JSON family we parse). */
export function assertWritableType(request: FastifyRequest, allowed: readonly string[]): void {
  const type = mediaType(request.headers['content-type']);
  if (!type || !allowed.includes(type)) {
    const headers: Record<string, string> = request.method === 'PATCH' ? { 'Accept-Patch': allowed.join(', ') } : {};
    throw new NgsiError('InvalidRequest', 415, `Content-Type must be one of ${allowed.join(', ')}`, headers);
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** request body media types the route takes; default: BODY_TYPES */
    bodyTypes?: readonly string[];
  }
}

/**
 * Every JSON-family type has a body parser (app-wide), but an operation takes only some of them:
 * application/json and application/ld+json, plus application/merge-patch+json where a route's
 * `config.bodyTypes` says so (PATCH /entities/{id}). Route plugins register this as a
 * preValidation hook, so that every route with a body is covered (415 before any other check).
 */
export const BODY_TYPES: readonly string[] = [JSON_TYPE, JSONLD_TYPE];

export async function checkBodyType(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) return;
  assertWritableType(request, request.routeOptions.config.bodyTypes ?? BODY_TYPES);
}
