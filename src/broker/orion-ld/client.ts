/**
 * A thin typed client for the NGSI-LD HTTP API of an external broker (Orion-LD, or any broker that
 * speaks ETSI GS CIM 009), on Node's fetch. It knows HTTP and NGSI-LD transport rules, nothing of
 * our internal entity form: bodies go out and come back as JSON (OrionLdBroker converts them).
 *
 * - Tenant as `NGSILD-Tenant`, @context as a `Link` header or in an application/ld+json body.
 * - Optional `Authorization: Bearer <BROKER_TOKEN>` and extra headers (BROKER_HEADERS) on every call.
 * - Problem details from the broker become BrokerProblem (an NgsiError that answers the broker's own
 *   problem unchanged); 207 bodies are returned, not thrown: they are results.
 * - Every call has a timeout. Network errors, timeouts, 5xx and 429 are retried with exponential
 *   backoff (and jitter) when the call is idempotent; then the last answer is passed through, or,
 *   when there was none, BrokerUnavailable (503) is thrown. 4xx answers are never retried.
 * - Batch operations are chunked to the broker's limit (1000 entities) and their results merged.
 */
import { NgsiError, PROBLEM_BASE, type ProblemDetails, type ProblemType } from '../../ngsi-ld/errors';
import { JSON_TYPE, JSONLD_TYPE, contextLinkHeader } from '../../ngsi-ld/http';

export interface NgsiLdClientOptions {
  /** the broker's base URL, e.g. http://orion:1026 (the /ngsi-ld/v1 prefix is added) */
  baseUrl: string;
  /** sent as `Authorization: Bearer <token>` */
  token?: string;
  /** extra headers on every request (API gateways, keys) */
  headers?: Record<string, string>;
  /** per attempt */
  timeoutMs?: number;
  /** attempts after the first one, for idempotent calls */
  retries?: number;
  /** first backoff; doubles per attempt (with jitter), capped at 10 × this */
  retryBaseMs?: number;
  /** entities per batch request (Orion-LD: 1000) */
  batchSize?: number;
}

export type QueryParams = Record<string, string | number | boolean | undefined>;

export interface BrokerRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** below /ngsi-ld/v1, e.g. `/entities/urn%3A…` (segments already encoded) */
  path: string;
  tenant: string;
  query?: QueryParams;
  body?: unknown;
  /** the @context: sent as a Link header (with a JSON body) unless `ldJson` puts it in the body */
  context?: string;
  /** the body carries its own @context (Content-Type application/ld+json) */
  ldJson?: boolean;
  accept?: string;
  /** safe to repeat after a timeout or a 5xx */
  idempotent: boolean;
  /** this call's timeout instead of the client's */
  timeoutMs?: number;
}

export interface BrokerResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T | undefined;
}

/** The answer of a batch operation, merged over chunks (spec BatchOperationResult). */
export interface BatchResponse {
  /** ids the broker reported as done: the 201 body of create/upsert, or `success` of a 207 */
  success: string[];
  errors: { entityId: string; error: ProblemDetails }[];
  /** upsert: ids the broker created (201 bodies) */
  created: string[];
}

const PROBLEM_TYPES: readonly ProblemType[] = [
  'BadRequestData', 'InvalidRequest', 'ResourceNotFound', 'AlreadyExists', 'OperationNotSupported',
  'LdContextNotAvailable', 'NonexistentTenant', 'TooManyResults', 'NoMultiTenantSupport', 'InternalError',
];

const PROBLEM_BY_STATUS: Record<number, ProblemType> = {
  400: 'BadRequestData', 404: 'ResourceNotFound', 409: 'AlreadyExists', 422: 'InvalidRequest', 501: 'OperationNotSupported',
};

/**
 * An error answer of the broker, passed through: status, type, title and detail as the broker sent
 * them (the problem type also as our ProblemType where it is an ETSI one, for callers that branch on it).
 */
export class BrokerProblem extends NgsiError {
  constructor(readonly problem: ProblemDetails) {
    super(problemTypeOf(problem), problem.status, problem.detail);
    this.name = 'BrokerProblem';
  }

  override toProblem(instance?: string): ProblemDetails {
    return { ...this.problem, ...(instance && !this.problem.instance ? { instance } : {}) };
  }
}

/** The broker did not answer (network error, timeout), after the retries of an idempotent call. */
export class BrokerUnavailable extends NgsiError {
  constructor(detail: string) {
    super('InternalError', 503, detail);
    this.name = 'BrokerUnavailable';
  }
}

function problemTypeOf(p: ProblemDetails): ProblemType {
  const name = typeof p.type === 'string' && p.type.startsWith(PROBLEM_BASE) ? p.type.slice(PROBLEM_BASE.length) : '';
  const known = PROBLEM_TYPES.find((t) => t === name);
  return known ?? PROBLEM_BY_STATUS[p.status] ?? (p.status >= 500 ? 'InternalError' : 'BadRequestData');
}

/** A broker's error body as problem details; bodies that are not problem details are described. */
export function toProblemDetails(status: number, body: unknown, statusText = ''): ProblemDetails {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const type = typeof b.type === 'string' ? b.type : PROBLEM_BASE + (PROBLEM_BY_STATUS[status] ?? (status >= 500 ? 'InternalError' : 'BadRequestData'));
  const title = typeof b.title === 'string' ? b.title : statusText || `HTTP ${status}`;
  const detail = typeof b.detail === 'string' ? b.detail
    : typeof body === 'string' && body ? body.slice(0, 1000)
      : title;
  return { type, title, status, detail, ...(typeof b.instance === 'string' ? { instance: b.instance } : {}) };
}

const RETRYABLE_STATUS = (status: number): boolean => status >= 500 || status === 429;

/** The broker did not answer, or answered that it cannot now (5xx, 429): a later try may succeed. */
export const brokerUnreachable = (err: unknown): boolean => err instanceof NgsiError && RETRYABLE_STATUS(err.status);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class NgsiLdClient {
  private readonly base: string;
  private readonly fixedHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  readonly batchSize: number;
  /** scheme, host and port of the broker */
  readonly origin: string;

  constructor(opts: NgsiLdClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '') + '/ngsi-ld/v1';
    this.fixedHeaders = { ...(opts.headers ?? {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.batchSize = opts.batchSize ?? 1000;
    this.origin = new URL(this.base).origin;
  }

  /** One call, retried when idempotent and the failure is transient; 4xx → BrokerProblem. */
  async request<T = unknown>(req: BrokerRequest): Promise<BrokerResponse<T>> {
    const attempts = req.idempotent ? this.retries + 1 : 1;
    let failure = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        const backoff = Math.min(this.retryBaseMs * 2 ** (attempt - 1), this.retryBaseMs * 10);
        await sleep(backoff / 2 + Math.random() * (backoff / 2));
      }
      let res: Response;
      try {
        res = await fetch(this.url(req), {
          method: req.method,
          headers: this.headersOf(req),
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          signal: AbortSignal.timeout(req.timeoutMs ?? this.timeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        failure = e.name === 'TimeoutError' ? `no answer within ${req.timeoutMs ?? this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
        continue;
      }
      const body = await readBody(res);
      if (res.status < 400) return { status: res.status, headers: res.headers, body: body as T | undefined };
      // an answer is passed through as the broker gave it, once it is final (4xx, or the last try)
      const problem = toProblemDetails(res.status, body, res.statusText);
      if (!RETRYABLE_STATUS(res.status) || attempt === attempts - 1) throw new BrokerProblem(problem);
    }
    throw new BrokerUnavailable(`the context broker did not answer ${req.method} ${req.path.split('?')[0]}: ${failure}`);
  }

  /**
   * A batch operation (create, upsert, update, merge, delete), chunked to batchSize: 201 bodies
   * (created ids) and 207 BatchOperationResults merged; a chunk's whole-request error throws.
   */
  async batch(
    op: 'create' | 'upsert' | 'update' | 'merge' | 'delete',
    tenant: string,
    items: unknown[],
    ids: string[],
    query: QueryParams = {},
  ): Promise<BatchResponse> {
    const merged: BatchResponse = { success: [], errors: [], created: [] };
    for (let start = 0; start < items.length; start += this.batchSize) {
      const chunk = items.slice(start, start + this.batchSize);
      const chunkIds = ids.slice(start, start + this.batchSize);
      const res = await this.request<unknown>({
        method: 'POST', path: `/entityOperations/${op}`, tenant, query, body: chunk,
        // create and delete report 409/404 when repeated; the others converge to the same state
        idempotent: op !== 'create' && op !== 'delete',
      });
      if (res.status === 207) {
        const r = (res.body ?? {}) as { success?: unknown; errors?: unknown };
        const success = Array.isArray(r.success) ? r.success.filter((s): s is string => typeof s === 'string') : [];
        merged.success.push(...success);
        for (const e of Array.isArray(r.errors) ? r.errors : []) {
          const entityId = typeof e?.entityId === 'string' ? e.entityId : '';
          merged.errors.push({ entityId, error: toProblemDetails(Number(e?.error?.status) || 400, e?.error) });
        }
      } else {
        const created = res.status === 201 && Array.isArray(res.body) ? res.body.filter((s): s is string => typeof s === 'string') : [];
        if (op === 'upsert') merged.created.push(...created);
        merged.success.push(...(op === 'create' && created.length ? created : [...new Set(chunkIds)]));
      }
    }
    return merged;
  }

  /**
   * Follows offset/limit pages until `limit` results are collected or the broker has no more (it
   * may answer fewer per page than asked, e.g. a lower maximum page size). Count comes from
   * NGSILD-Results-Count, which is asked for on every page so that the end is known without an
   * extra empty request.
   */
  async paged<T>(req: BrokerRequest, limit: number, offset: number): Promise<{ items: T[]; count?: number }> {
    const items: T[] = [];
    let count: number | undefined;
    do {
      const want = limit - items.length;
      const res = await this.request<T[]>({ ...req, query: { ...req.query, limit: want, offset: offset + items.length, count: true } });
      const header = res.headers.get('ngsild-results-count');
      if (header !== null && Number.isFinite(Number(header))) count = Number(header);
      const page = Array.isArray(res.body) ? res.body : [];
      items.push(...page.slice(0, want));
      if (page.length === 0 || want === 0) break;
      if (count !== undefined && offset + items.length >= count) break;
    } while (items.length < limit);
    return { items, count };
  }

  private url(req: BrokerRequest): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.base + req.path + (qs ? '?' + qs : '');
  }

  private headersOf(req: BrokerRequest): Record<string, string> {
    const h: Record<string, string> = { ...this.fixedHeaders, accept: req.accept ?? JSON_TYPE };
    if (req.tenant) h['ngsild-tenant'] = req.tenant;
    if (req.body !== undefined) h['content-type'] = req.ldJson ? JSONLD_TYPE : JSON_TYPE;
    if (req.context && !req.ldJson) h.link = contextLinkHeader(req.context);
    return h;
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
