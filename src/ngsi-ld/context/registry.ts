import { createHash, randomUUID } from 'node:crypto';
import { badRequestData, notFound, NgsiError } from '../errors';
import { compileTermMap } from './term-map';
import { HOSTED_PATH, coreContextDocument, isCoreContextUrl, type CoreVersion } from './resolver';
import type { ContextValue } from './types';
import { JSON_TYPE, JSONLD_TYPE } from '../http';

/** An @context the broker keeps (spec 5.13): registered by a client, or downloaded once and cached. */
export interface StoredContext {
  /** local identifier (the {contextId} of /jsonldContexts/{contextId}) */
  id: string;
  /** Hosted/ImplicitlyCreated: the URL the service serves it at; Cached: the original URL */
  url: string;
  kind: ContextKind;
  /** the full document, {"@context": ...} */
  body: unknown;
  createdAt: string;
  lastUsage?: string;
  numberOfHits: number;
}

export type ContextKind = 'Hosted' | 'Cached' | 'ImplicitlyCreated';
export const CONTEXT_KINDS: readonly ContextKind[] = ['Hosted', 'Cached', 'ImplicitlyCreated'];

export interface ContextStore {
  get(url: string): Promise<StoredContext | undefined>;
  getById(id: string): Promise<StoredContext | undefined>;
  /** inserts, or replaces the entry with the same URL (keeping its id) */
  put(c: StoredContext): Promise<void>;
  list(kind?: string): Promise<StoredContext[]>;
  delete(id: string): Promise<boolean>;
  /** counts a use (numberOfHits, lastUsage); one cheap UPDATE */
  touch(url: string): Promise<void>;
}

/** What deleting a context needs from the resolver: re-download a cached one, forget compiled maps. */
export interface ContextCacheControl {
  refetch(url: string): Promise<void>;
  invalidate(): void;
}

/**
 * @context management (spec 5.13) as the routes use it: this service's store (embedded mode), or
 * the external broker's (Orion-LD mode, broker/orion-ld/contexts.ts). Failures are NgsiErrors.
 */
export interface ContextRegistry {
  /** registers {"@context": ...}; the URL it is served at (Location) */
  add(body: unknown, opts: { baseUrl: string; ldJson: boolean }): Promise<string>;
  list(opts: { details: boolean; kind?: string }): Promise<unknown>;
  /** the document or (details) its metadata, and the media type to answer it with */
  get(id: string, opts: { details: boolean }): Promise<{ body: unknown; type: string }>;
  delete(id: string, opts: { reload: boolean }): Promise<void>;
  /** a URL for an inline @context (ImplicitlyCreated), the same for the same content */
  implicit(ctx: ContextValue, baseUrl: string): Promise<string>;
}

/** The registry on this service's own store. */
export function localContextRegistry(store: ContextStore, cache: ContextCacheControl, coreVersion: CoreVersion): ContextRegistry {
  return {
    add: async (body, { baseUrl }) => (await addContext(store, body, baseUrl)).url,
    list: (opts) => listContexts(store, opts),
    get: async (id, { details }) => ({ body: await getContext(store, id, { details, coreVersion }), type: details ? JSON_TYPE : JSONLD_TYPE }),
    delete: (id, { reload }) => deleteContext(store, id, { reload, cache }),
    implicit: (ctx, baseUrl) => implicitContext(store, ctx, baseUrl),
  };
}

/** LdContextMetadata (OpenAPI 1.8.1 names) */
export interface ContextMetadata {
  URL: string;
  localId: string;
  kind: ContextKind;
  timestamp: string;
  lastUsage?: string;
  numberOfHits: number;
}

/** POST /jsonldContexts: stores {"@context": ...} as a Hosted context served by this service. */
export async function addContext(store: ContextStore, body: unknown, baseUrl: string): Promise<StoredContext> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('@context' in body)) {
    throw badRequestData('the payload must be a JSON object with an @context member');
  }
  const ctx = (body as { '@context': unknown })['@context'];
  validateContextShape(ctx);
  const id = randomUUID();
  const stored: StoredContext = {
    id,
    url: `${baseUrl.replace(/\/+$/, '')}${HOSTED_PATH}${encodeURIComponent(id)}`,
    kind: 'Hosted',
    body: { '@context': ctx },
    createdAt: new Date().toISOString(),
    numberOfHits: 0,
  };
  await store.put(stored);
  return stored;
}

/**
 * The URL of a hosted copy of an inline @context (kind ImplicitlyCreated), created on first use,
 * so that application/json responses can name the context they were compacted with in a Link.
 * The id is the content hash: the same context always gets the same URL. With `publish` the row
 * only remembers that URL (and the body, so that resolving it needs nobody else).
 */
export async function implicitContext(
  store: ContextStore,
  ctx: ContextValue,
  baseUrl: string,
  /** hosts the document elsewhere and returns its URL there (Orion-LD mode: the broker) */
  publish?: (doc: { '@context': ContextValue }) => Promise<string>,
): Promise<string> {
  const id = 'implicit-' + createHash('sha256').update(JSON.stringify(ctx)).digest('hex').slice(0, 32);
  const existing = await store.getById(id);
  if (existing) return existing.url;
  const url = publish ? await publish({ '@context': ctx }) : `${baseUrl.replace(/\/+$/, '')}${HOSTED_PATH}${id}`;
  try {
    await store.put({ id, url, kind: 'ImplicitlyCreated', body: { '@context': ctx }, createdAt: new Date().toISOString(), numberOfHits: 0 });
  } catch (err) {
    // a concurrent request created it first (perhaps under another host name): use that one
    const raced = await store.getById(id);
    if (!raced) throw err;
    return raced.url;
  }
  return url;
}

/** GET /jsonldContexts: URLs, or LdContextMetadata objects with details. */
export async function listContexts(
  store: ContextStore,
  opts: { details?: boolean; kind?: string },
): Promise<string[] | ContextMetadata[]> {
  if (opts.kind !== undefined && !CONTEXT_KINDS.includes(opts.kind as ContextKind)) {
    throw badRequestData(`kind must be one of ${CONTEXT_KINDS.join(', ')}`);
  }
  const all = await store.list(opts.kind);
  return opts.details ? all.map(metadata) : all.map((c) => c.url);
}

/**
 * GET /jsonldContexts/{id}: the document (Hosted/ImplicitlyCreated), or its metadata with details.
 * A Cached context may also be named by its original URL; its content is not served (422).
 * The core context is served when asked for by its URL (the generic URL: the configured version).
 */
export async function getContext(
  store: ContextStore,
  id: string,
  opts: { details?: boolean; coreVersion?: CoreVersion } = {},
): Promise<unknown> {
  if (isCoreContextUrl(id) && !opts.details) return coreContextDocument(id, opts.coreVersion ?? 'v1.8');
  const stored = await find(store, id);
  if (opts.details) return metadata(stored);
  if (stored.kind === 'Cached') {
    throw new NgsiError('OperationNotSupported', 422, `@context '${id}' is a cached copy of ${stored.url}; fetch it from there`);
  }
  return stored.body;
}

/**
 * DELETE /jsonldContexts/{id}[?reload=true]. The core context cannot be deleted (400). Reloading
 * applies to Cached contexts only. Without `cache` (the resolver), a reload just drops the copy
 * and the next use downloads it again; with it, compiled term maps are forgotten too.
 */
export async function deleteContext(
  store: ContextStore,
  id: string,
  opts: { reload?: boolean; cache?: ContextCacheControl } = {},
): Promise<void> {
  if (isCoreContextUrl(id)) throw badRequestData('the NGSI-LD core @context cannot be deleted');
  const stored = await find(store, id);
  if (opts.reload && stored.kind !== 'Cached') {
    throw badRequestData(`reload applies to Cached @contexts only; '${id}' is ${stored.kind}`);
  }
  if (opts.reload && opts.cache) {
    try {
      await opts.cache.refetch(stored.url);
    } catch (err) {
      // the spec answers a failed re-download with 504; the stored copy stays
      const detail = err instanceof NgsiError ? err.detail : String(err);
      throw new NgsiError('LdContextNotAvailable', 504, `re-downloading ${stored.url} failed: ${detail}`);
    }
  } else {
    await store.delete(stored.id);
  }
  opts.cache?.invalidate();
}

async function find(store: ContextStore, id: string): Promise<StoredContext> {
  const stored = (await store.getById(id)) ?? (await cachedByUrl(store, id));
  if (!stored) throw notFound(`@context '${id}' is not known`);
  return stored;
}

async function cachedByUrl(store: ContextStore, url: string): Promise<StoredContext | undefined> {
  const stored = await store.get(url);
  return stored?.kind === 'Cached' ? stored : undefined;
}

const metadata = (c: StoredContext): ContextMetadata => ({
  URL: c.url,
  localId: c.id,
  kind: c.kind,
  timestamp: c.createdAt,
  ...(c.lastUsage ? { lastUsage: c.lastUsage } : {}),
  numberOfHits: c.numberOfHits,
});

/**
 * A registered @context must be a URL, an object or an array of them. Inline term definitions are
 * checked by compiling them when the value holds no URL nor @import (a term may rely on a @vocab
 * or prefix that a referenced context defines, which is only known at use).
 */
function validateContextShape(ctx: unknown): asserts ctx is ContextValue {
  const items = Array.isArray(ctx) ? ctx : [ctx];
  for (const item of items) {
    const isObject = typeof item === 'object' && item !== null && !Array.isArray(item);
    if (typeof item !== 'string' && !isObject) {
      throw badRequestData('@context must be a URL, an object, or an array of URLs and objects');
    }
    if (typeof item === 'string' && !/^https?:\/\//i.test(item)) {
      throw badRequestData(`@context URL '${item}' must be an absolute http(s) URL`);
    }
  }
  if (items.every((i) => typeof i !== 'string' && !('@import' in i))) {
    compileTermMap(items, {}, ctx as ContextValue, 'validation');
  }
}
