/**
 * @context management in Orion-LD mode (spec 5.13): the external broker hosts the contexts clients
 * register, so that a context registered through us is one the broker serves and resolves itself
 * when we forward subscriptions and entity requests that name it. /jsonldContexts (POST, GET list,
 * GET one, DELETE) goes to the broker's /ngsi-ld/v1/jsonldContexts; its answers and problems come
 * back unchanged (client.ts).
 *
 * Our own context resolution stays ours (we need term maps to validate and expand a request before
 * forwarding it), with one source more:
 * - A URL of a context the broker hosts (its origin is BROKER_URL's, or the broker names that very
 *   URL for the id) is read from the broker through the client: it is not a download, so
 *   CONTEXT_ALLOW_HOSTS need not list the broker. It is kept only as a compiled term map in the
 *   resolver's in-memory cache, not in our store, since the broker is its one home; a DELETE through
 *   us forgets the cache (another replica keeps its compiled copy until it is evicted or restarts —
 *   a hosted context's content never changes, it can only disappear).
 * - Bundled contexts, and downloads from CONTEXT_ALLOW_HOSTS (stored here as Cached), work as in
 *   embedded mode. They are not listed by GET /jsonldContexts, which lists the broker's.
 * - An inline @context a response or a subscription must name by URL (ImplicitlyCreated) is
 *   registered at the broker once per content (the broker can resolve it; a URL of ours it could
 *   not); our store remembers content hash → the broker's URL, and the body.
 */
import { contextNotAvailable, NgsiError } from '../../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE } from '../../ngsi-ld/http';
import { implicitContext, type ContextCacheControl, type ContextRegistry, type ContextStore } from '../../ngsi-ld/context/registry';
import { hostedId } from '../../ngsi-ld/context/resolver';
import { BrokerProblem, brokerUnreachable, type NgsiLdClient } from './client';
import { isRecord } from '../../ngsi-ld/json';

const PATH = '/jsonldContexts';
const contextPath = (id: string) => `${PATH}/${encodeURIComponent(id)}`;
const DOCUMENT_ACCEPT = `${JSONLD_TYPE}, ${JSON_TYPE};q=0.9`;

export class BrokerContextRegistry implements ContextRegistry {
  constructor(
    private readonly client: NgsiLdClient,
    private readonly store: ContextStore,
    private readonly cache: ContextCacheControl,
  ) {}

  async add(body: unknown, opts: { ldJson: boolean }): Promise<string> {
    // not repeated after a timeout: a second POST would host a second copy
    const res = await this.client.request({ method: 'POST', path: PATH, tenant: '', body, ldJson: opts.ldJson, idempotent: false });
    const location = res.headers.get('location');
    if (!location) throw new NgsiError('InternalError', 502, 'the context broker registered the @context but answered no Location');
    return new URL(location, this.client.origin).toString();
  }

  async list(opts: { details: boolean; kind?: string }): Promise<unknown> {
    const res = await this.client.request({ method: 'GET', path: PATH, tenant: '', query: { details: opts.details || undefined, kind: opts.kind }, idempotent: true });
    return res.body ?? [];
  }

  async get(id: string, opts: { details: boolean }): Promise<{ body: unknown; type: string }> {
    const res = await this.client.request({
      method: 'GET', path: contextPath(id), tenant: '', query: { details: opts.details || undefined },
      accept: opts.details ? JSON_TYPE : DOCUMENT_ACCEPT, idempotent: true,
    });
    return { body: res.body, type: res.headers.get('content-type') ?? (opts.details ? JSON_TYPE : JSONLD_TYPE) };
  }

  async delete(id: string, opts: { reload: boolean }): Promise<void> {
    // not repeated after a timeout: the repeat would answer 404 for a context that was deleted
    await this.client.request({ method: 'DELETE', path: contextPath(id), tenant: '', query: { reload: opts.reload || undefined }, idempotent: false });
    // what we keep of it: a Cached copy named by its URL, or the URL of an inline context we registered
    for (const c of await this.store.list()) {
      if (c.url === id || hostedId(new URL(c.url).pathname) === id) await this.store.delete(c.id);
    }
    this.cache.invalidate();
  }

  implicit(ctx: Parameters<ContextRegistry['implicit']>[0], baseUrl: string): Promise<string> {
    return implicitContext(this.store, ctx, baseUrl, (doc) => this.add(doc, { ldJson: false }));
  }
}

/**
 * The resolver's source of the contexts the broker hosts (ContextResolverOptions.brokerHosted):
 * the document behind `url`, or undefined when the broker does not host a context there.
 */
export function brokerHostedContexts(client: NgsiLdClient): (url: string) => Promise<Record<string, unknown> | undefined> {
  return async (url) => {
    const parsed = new URL(url);
    const id = hostedId(parsed.pathname);
    if (id === undefined) return undefined;
    try {
      // the broker may name itself otherwise than BROKER_URL does (its own host name): then it must say so
      if (parsed.origin !== client.origin) {
        const meta = await client.request({ method: 'GET', path: contextPath(id), tenant: '', query: { details: true }, idempotent: true });
        if (!isRecord(meta.body) || meta.body.URL !== url) return undefined;
      }
      const res = await client.request({ method: 'GET', path: contextPath(id), tenant: '', accept: DOCUMENT_ACCEPT, idempotent: true });
      return isRecord(res.body) ? res.body : undefined;
    } catch (err) {
      if (brokerUnreachable(err)) throw contextNotAvailable(`@context ${url} is hosted by the context broker, which did not answer: ${(err as NgsiError).detail}`);
      // not the broker's (404), or a copy it does not serve (422): resolved as any other URL
      if (err instanceof BrokerProblem) return undefined;
      throw err;
    }
  };
}
