import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { badRequestData, contextNotAvailable } from '../errors';
import type { ContextCacheControl, ContextStore } from './registry';
import { compileTermMap, type CompiledTermMap } from './term-map';
import type { ContextValue } from './types';
import { SMARTLAND_CONTEXT_URL } from '../../domain/sdm-types';
import { EndpointRefused, policyGet, type EndpointPolicy } from '../../notify/ssrf';
import { isRecord } from '../json';

export type CoreVersion = 'v1.8' | 'v1.6';

export interface ContextResolverOptions {
  coreVersion: CoreVersion;
  /**
   * Hosts remote @contexts may be downloaded from. An entry without a port ("example.org") allows
   * the host on any port; an entry with one ("127.0.0.1:8080") only that port (default ports
   * count: "example.org:443" allows https://example.org/). Matching is exact, no wildcards.
   */
  allowHosts: string[];
  store: ContextStore;
  /** allow-listed hosts may resolve to loopback/private addresses (CONTEXT_ALLOW_PRIVATE; default no) */
  allowPrivate?: boolean;
  fetchTimeoutMs?: number;
  maxContextBytes?: number;
  /** compiled term maps kept (LRU) */
  cacheSize?: number;
  /**
   * Orion-LD mode: the document of a context the external broker hosts at this URL, read from the
   * broker (undefined when it does not host it). Such contexts are not stored here: the broker is
   * their home, only their compiled term maps are cached.
   */
  brokerHosted?: (url: string) => Promise<Record<string, unknown> | undefined>;
}

/** Path under which this service serves hosted contexts (on whatever host it is reached). */
export const HOSTED_PATH = '/ngsi-ld/v1/jsonldContexts/';
const HOSTED_PATH_RE = /\/ngsi-ld\/v1\/jsonldContexts\/([^/]+)$/;

const CORE_URLS: Record<CoreVersion, string> = {
  'v1.8': 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld',
  'v1.6': 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld',
};
/** the unversioned URL: answered with the configured core version */
const GENERIC_CORE_URL = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld';

const MAX_DEPTH = 8;
const MAX_REDIRECTS = 5;
const JSON_CONTENT_TYPE = /^(application\/(ld\+)?json|application\/[\w.+-]+\+json|text\/plain)\s*(;|$)/i;

export const coreContextUrl = (version: CoreVersion): string => CORE_URLS[version];

export const isCoreContextUrl = (url: string): boolean =>
  url === GENERIC_CORE_URL || url === CORE_URLS['v1.8'] || url === CORE_URLS['v1.6'];

/** The bundled core document ({"@context": ...}) answered for a core URL. */
export function coreContextDocument(url: string, configured: CoreVersion): Record<string, unknown> {
  const version = url === CORE_URLS['v1.6'] ? 'v1.6' : url === CORE_URLS['v1.8'] ? 'v1.8' : configured;
  return readBundled(`ngsi-ld-core-context-${version}.jsonld`);
}

// --- bundled files -------------------------------------------------------------------------------

// Works from src/ (ts-jest/swc) and from dist/src/ (compiled): look upwards for contexts/.
const CONTEXTS_DIR = ((): string => {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'contexts');
    if (existsSync(join(candidate, 'ngsi-ld-core-context-v1.8.jsonld'))) return candidate;
  }
  throw new Error(`bundled contexts/ folder not found above ${__dirname}`);
})();

const bundledFiles = new Map<string, Record<string, unknown>>();

function readBundled(file: string): Record<string, unknown> {
  let doc = bundledFiles.get(file);
  if (!doc) {
    doc = JSON.parse(readFileSync(join(CONTEXTS_DIR, file), 'utf8')) as Record<string, unknown>;
    bundledFiles.set(file, doc);
  }
  return doc;
}

/** canonical URL (and aliases) → bundled Smart Data Models file under contexts/ */
const SDM_URLS: ReadonlyMap<string, string> = (() => {
  const urls = new Map<string, string>();
  const sdm = 'smart-data-models';
  for (const name of readdirSync(join(CONTEXTS_DIR, sdm))) {
    const file = `${sdm}/${name}`;
    const subject = /^(dataModel\.[\w.-]+)\.context\.jsonld$/.exec(name)?.[1];
    if (subject) {
      urls.set(`https://smart-data-models.github.io/${subject}/context.jsonld`, file);
      urls.set(`https://raw.githubusercontent.com/smart-data-models/${subject}/master/context.jsonld`, file);
    }
  }
  const all = `${sdm}/smart-data-models-all-subjects.context.jsonld`;
  urls.set('https://smartdatamodels.org/context.jsonld', all);
  urls.set('https://smart-data-models.github.io/data-models/context.jsonld', all);
  urls.set('https://raw.githubusercontent.com/smart-data-models/data-models/master/context.jsonld', all);
  const common = `${sdm}/smart-data-models-common-context.jsonld`;
  urls.set('https://smart-data-models.github.io/data-models/context/common-context.jsonld', common);
  urls.set('https://raw.githubusercontent.com/smart-data-models/data-models/master/context/common-context.jsonld', common);
  // our own extension context (contexts/smartland.jsonld), also served at GET /contexts/smartland.jsonld
  urls.set(SMARTLAND_CONTEXT_URL, 'smartland.jsonld');
  return urls;
})();

/** The bundled document ({"@context": ...}) answered for a URL, if that URL is bundled (not the core's). */
export function bundledContextDocument(url: string): Record<string, unknown> | undefined {
  const file = SDM_URLS.get(url);
  return file ? readBundled(file) : undefined;
}

// --- Link header ---------------------------------------------------------------------------------

const CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';

/**
 * The URL of the Link header entry with rel="http://www.w3.org/ns/json-ld#context" (RFC 8288),
 * undefined when there is none; 400 when the header is malformed or names several contexts.
 */
export function linkHeaderContext(link: string | undefined): string | undefined {
  if (link === undefined || link.trim() === '') return undefined;
  const found: string[] = [];
  let i = 0;
  const malformed = () => badRequestData(`malformed Link header: ${link}`);
  const skipSpace = () => {
    while (i < link.length && (link[i] === ' ' || link[i] === '\t')) i++;
  };
  while (i < link.length) {
    skipSpace();
    if (link[i] !== '<') throw malformed();
    const end = link.indexOf('>', i);
    if (end < 0) throw malformed();
    const url = link.slice(i + 1, end).trim();
    i = end + 1;
    let rel: string | undefined;
    for (skipSpace(); link[i] === ';'; skipSpace()) {
      i++;
      skipSpace();
      const name = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(link.slice(i))?.[0];
      if (!name) throw malformed();
      i += name.length;
      skipSpace();
      let value = '';
      if (link[i] === '=') {
        i++;
        skipSpace();
        if (link[i] === '"') {
          const close = link.indexOf('"', i + 1);
          if (close < 0) throw malformed();
          value = link.slice(i + 1, close);
          i = close + 1;
        } else {
          value = /^[^;,\s]*/.exec(link.slice(i))![0];
          i += value.length;
        }
      }
      if (name.toLowerCase() === 'rel') rel = value;
    }
    if (i < link.length && link[i] !== ',') throw malformed();
    i++;
    if (rel?.split(/\s+/).includes(CONTEXT_REL)) found.push(url);
  }
  if (found.length > 1) throw badRequestData('the Link header names more than one JSON-LD @context');
  return found[0];
}

// --- resolver ------------------------------------------------------------------------------------

/**
 * Turns the @context of a request (Link header or body) into a compiled TermMap. Compiled maps
 * are cached by URL or by content hash, so the hot path is one Map lookup (plus a sha256 of the
 * value for inline contexts). URLs are answered from, in order: the bundled core and Smart Data
 * Models contexts, the context store (hosted and previously downloaded), in Orion-LD mode the
 * contexts the external broker hosts, and a download from an allowed host, which is then stored
 * as "Cached".
 */
export class ContextResolver implements ContextCacheControl {
  private readonly coreVersion: CoreVersion;
  private readonly allowHosts: Set<string>;
  private readonly store: ContextStore;
  private readonly fetchTimeoutMs: number;
  private readonly policy: EndpointPolicy;
  private readonly maxContextBytes: number;
  private readonly cacheSize: number;
  private readonly brokerHosted?: ContextResolverOptions['brokerHosted'];
  /** LRU: Map keeps insertion order; a hit is re-inserted at the end */
  private readonly cache = new Map<string, CompiledTermMap>();
  private readonly compiling = new Map<string, Promise<CompiledTermMap>>();
  private readonly downloading = new Map<string, Promise<Record<string, unknown>>>();
  private coreOnly?: CompiledTermMap;

  constructor(opts: ContextResolverOptions) {
    this.coreVersion = opts.coreVersion;
    this.allowHosts = new Set(opts.allowHosts.map((h) => h.trim().toLowerCase()).filter(Boolean));
    this.store = opts.store;
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? 5000;
    this.policy = { allowPrivate: opts.allowPrivate ?? false, subject: '@context URL', allowPrivateSetting: 'CONTEXT_ALLOW_PRIVATE' };
    this.maxContextBytes = opts.maxContextBytes ?? 2 * 1024 * 1024;
    this.cacheSize = opts.cacheSize ?? 500;
    this.brokerHosted = opts.brokerHosted;
  }

  /** The term map for a request's @context; no @context (or []) means the core context alone. */
  async resolve(ctx: ContextValue | undefined): Promise<CompiledTermMap> {
    if (ctx === undefined || (Array.isArray(ctx) && ctx.length === 0)) return this.core();
    const key = typeof ctx === 'string' ? ctx : 'sha256:' + createHash('sha256').update(JSON.stringify(ctx)).digest('hex');
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    let pending = this.compiling.get(key);
    if (!pending) {
      pending = this.compile(ctx, key).finally(() => this.compiling.delete(key));
      this.compiling.set(key, pending);
    }
    return pending;
  }

  /** Downloads a cached context again (DELETE ?reload=true) and replaces the stored copy. */
  async refetch(url: string): Promise<void> {
    await this.storeDownload(url, await this.fetchDocument(url));
    this.invalidate();
  }

  /** Forgets compiled term maps (after a stored context was deleted or replaced). */
  invalidate(): void {
    this.cache.clear();
  }

  private core(): CompiledTermMap {
    const url = CORE_URLS[this.coreVersion];
    this.coreOnly ??= compileTermMap([], this.coreObject(), url, url);
    return this.coreOnly;
  }

  private coreObject(url = CORE_URLS[this.coreVersion]): unknown {
    return coreContextDocument(url, this.coreVersion)['@context'];
  }

  private async compile(ctx: ContextValue, key: string): Promise<CompiledTermMap> {
    if (typeof ctx !== 'string' && !Array.isArray(ctx) && !isRecord(ctx)) {
      throw badRequestData('@context must be a URL, an object, or an array of URLs and objects');
    }
    const documents = await this.collect(ctx, 0, []);
    const termMap = compileTermMap(documents, this.coreObject(), ctx, key);
    this.cache.set(key, termMap);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return termMap;
  }

  /**
   * Flattens a @context value into local context objects in order (null = reset), loading URLs.
   * `chain` holds the URLs being expanded above this value: meeting one again is a cycle.
   */
  private async collect(value: unknown, depth: number, chain: readonly string[]): Promise<unknown[]> {
    if (Array.isArray(value)) {
      // load the members in parallel, keep their order
      const parts = await Promise.all(value.map((v) => this.collect(v, depth, chain)));
      return parts.flat();
    }
    if (value === null) return [null];
    if (isRecord(value)) return ['@import' in value ? await this.withImport(value, depth, chain) : value];
    if (typeof value !== 'string') {
      throw badRequestData('@context must be a URL, an object, or an array of URLs and objects');
    }
    if (isCoreContextUrl(value)) return [this.coreObject(value)];
    if (chain.includes(value)) throw badRequestData(`@context ${value} includes itself`);
    if (depth >= MAX_DEPTH) throw badRequestData(`@context references are nested deeper than ${MAX_DEPTH} levels`);
    const doc = await this.load(value);
    return this.collect(doc['@context'], depth + 1, [...chain, value]);
  }

  /** JSON-LD 1.1 @import: the imported context's members, overridden by the importing ones. */
  private async withImport(local: Record<string, unknown>, depth: number, chain: readonly string[]) {
    const url = local['@import'];
    if (typeof url !== 'string') throw badRequestData('@import must be a URL string');
    if (chain.includes(url)) throw badRequestData(`@context ${url} includes itself`);
    if (depth >= MAX_DEPTH) throw badRequestData(`@context references are nested deeper than ${MAX_DEPTH} levels`);
    const imported = isCoreContextUrl(url) ? this.coreObject(url) : (await this.load(url))['@context'];
    if (!isRecord(imported) || '@import' in imported) {
      throw badRequestData(`@import ${url} must name a single context object without @import`);
    }
    const merged: Record<string, unknown> = { ...imported, ...local };
    delete merged['@import'];
    return merged;
  }

  /** The document ({"@context": ...}) behind a URL other than the core's. */
  private async load(url: string): Promise<Record<string, unknown>> {
    const file = SDM_URLS.get(url);
    if (file) return readBundled(file);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequestData(`@context '${url}' is not an absolute URL`);
    }
    const stored = await this.findStored(url, parsed);
    if (stored) return stored;
    const hosted = await this.brokerHosted?.(url);
    if (hosted) return asDocument(hosted, url);
    return this.download(url);
  }

  private async findStored(url: string, parsed: URL): Promise<Record<string, unknown> | undefined> {
    let stored = await this.store.get(url);
    if (!stored) {
      // our own hosted contexts, whatever host name the client reached us by
      const id = hostedId(parsed.pathname);
      const byId = id === undefined ? undefined : await this.store.getById(id);
      if (byId && byId.kind !== 'Cached') stored = byId;
    }
    if (!stored) return undefined;
    await this.store.touch(stored.url);
    return asDocument(stored.body, url);
  }

  /** One download per URL at a time, however many requests ask for it. */
  private download(url: string): Promise<Record<string, unknown>> {
    let pending = this.downloading.get(url);
    if (!pending) {
      pending = this.fetchDocument(url)
        .then(async (doc) => {
          await this.storeDownload(url, doc);
          return doc;
        })
        .finally(() => this.downloading.delete(url));
      this.downloading.set(url, pending);
    }
    return pending;
  }

  private async storeDownload(url: string, doc: Record<string, unknown>): Promise<void> {
    await this.store.put({ id: randomUUID(), url, kind: 'Cached', body: doc, createdAt: new Date().toISOString(), numberOfHits: 0 });
  }

  /** GET with the allow-list checked before every request, redirects included. */
  private async fetchDocument(url: string): Promise<Record<string, unknown>> {
    let current = url;
    for (let hop = 0; ; hop++) {
      this.assertAllowed(current, url);
      let res: Response;
      try {
        // the address is checked too (SSRF policy, after DNS); redirects come back to this loop
        res = await policyGet(current, this.policy, {
          signal: AbortSignal.timeout(this.fetchTimeoutMs),
          headers: { accept: 'application/ld+json, application/json;q=0.9' },
        });
      } catch (err) {
        if (err instanceof EndpointRefused) throw contextNotAvailable(`@context ${url} is not available: ${err.message}`);
        throw contextNotAvailable(`@context ${url} could not be downloaded: ${(err as Error).message}`);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        if (hop >= MAX_REDIRECTS) throw contextNotAvailable(`@context ${url}: too many redirects`);
        current = new URL(location, current).toString();
        continue;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw contextNotAvailable(`@context ${url} could not be downloaded: HTTP ${res.status}`);
      }
      const type = res.headers.get('content-type') ?? '';
      if (!JSON_CONTENT_TYPE.test(type)) {
        await res.body?.cancel();
        throw contextNotAvailable(`@context ${url} is not JSON (content-type '${type}')`);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(await this.readLimited(res, url));
      } catch (err) {
        if (err instanceof SyntaxError) throw contextNotAvailable(`@context ${url} is not valid JSON`);
        throw err;
      }
      return asDocument(doc, url);
    }
  }

  private assertAllowed(url: string, requested: string): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw badRequestData(`@context '${url}' is not an absolute URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw badRequestData(`@context '${url}' must be an http(s) URL`);
    }
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    const host = u.hostname.toLowerCase();
    if (!this.allowHosts.has(host) && !this.allowHosts.has(`${host}:${port}`)) {
      throw contextNotAvailable(
        `@context ${requested} is not available: it is not bundled nor stored, and remote fetching is not allowed for host ${u.host}`,
      );
    }
  }

  private async readLimited(res: Response, url: string): Promise<string> {
    const tooLarge = () => contextNotAvailable(`@context ${url} is larger than ${this.maxContextBytes} bytes`);
    if (Number(res.headers.get('content-length') ?? 0) > this.maxContextBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    if (!res.body) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw contextNotAvailable(`@context ${url} could not be downloaded: ${(err as Error).message}`);
      }
      if (chunk.done) break;
      size += chunk.value.byteLength;
      if (size > this.maxContextBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(chunk.value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** The {contextId} of a URL shaped like a hosted context's (…/ngsi-ld/v1/jsonldContexts/{contextId}), any host. */
export function hostedId(pathname: string): string | undefined {
  const encoded = HOSTED_PATH_RE.exec(pathname)?.[1];
  if (encoded === undefined) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined; // malformed %-escape: cannot be one of ours
  }
}

function asDocument(doc: unknown, url: string): Record<string, unknown> {
  if (!isRecord(doc) || !('@context' in doc)) {
    throw badRequestData(`@context ${url} is not a JSON-LD context document (no @context member)`);
  }
  return doc;
}
