import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';

/** Small helpers shared by the API tests (test/api): URLs, unique ids, problem-details checks. */

export const BASE = '/ngsi-ld/v1';
export const NGSI_LD = 'https://uri.etsi.org/ngsi-ld/';
export const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
export const WEATHER_CTX = 'https://smart-data-models.github.io/dataModel.Weather/context.jsonld';

/** `/ngsi-ld/v1/entities/<id percent-encoded>` and friends. */
export const entityUrl = (id: string, rest = ''): string => `${BASE}/entities/${encodeURIComponent(id)}${rest}`;

let counter = 0;
/** A fresh entity id for one test: `urn:ngsi-ld:<type>:<random>-<n>`. */
export const uid = (type = 'T'): string => `urn:ngsi-ld:${type}:${randomBytes(4).toString('hex')}-${++counter}`;
/** A fresh, unique entity type name (keeps queries of one test apart from the others). */
export const utype = (prefix = 'Type'): string => `${prefix}${randomBytes(4).toString('hex')}`;

export type Res = LightMyRequestResponse;

export function json<T = any>(res: Res): T {
  return res.body === '' ? (undefined as T) : (JSON.parse(res.body) as T);
}

/** Asserts an NGSI-LD problem-details response: status, ETSI error type, title, status and detail. */
export function expectProblem(res: Res, status: number, type: string): Record<string, unknown> {
  if (res.statusCode !== status) throw new Error(`expected ${status} ${type}, got ${res.statusCode}: ${res.body}`);
  expect(res.headers['content-type']).toMatch(/^application\/(problem\+)?json/);
  const body = json(res);
  expect(body).toEqual(
    expect.objectContaining({
      type: `https://uri.etsi.org/ngsi-ld/errors/${type}`,
      title: expect.any(String),
      status,
      detail: expect.any(String),
    }),
  );
  return body;
}

/** Asserts a status code, showing the body when it differs. */
export function expectStatus(res: Res, status: number): Res {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`);
  return res;
}

export interface Client {
  inject: (opts: InjectOptions) => Promise<Res>;
  get: (url: string, headers?: Record<string, string>) => Promise<Res>;
  post: (url: string, payload: unknown, headers?: Record<string, string>) => Promise<Res>;
  patch: (url: string, payload: unknown, headers?: Record<string, string>) => Promise<Res>;
  put: (url: string, payload: unknown, headers?: Record<string, string>) => Promise<Res>;
  del: (url: string, headers?: Record<string, string>) => Promise<Res>;
  /** GET an entity as normalized JSON (status asserted 200) */
  entity: (id: string, query?: string, headers?: Record<string, string>) => Promise<any>;
  create: (entity: Record<string, unknown>, headers?: Record<string, string>) => Promise<Res>;
}

const body = (payload: unknown): string => (typeof payload === 'string' ? payload : JSON.stringify(payload));

export function client(app: FastifyInstance): Client {
  const withType = (headers: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...headers });
  const c: Client = {
    inject: (opts) => app.inject(opts) as Promise<Res>,
    get: (url, headers = {}) => app.inject({ method: 'GET', url, headers }) as Promise<Res>,
    post: (url, payload, headers) => app.inject({ method: 'POST', url, headers: withType(headers), payload: body(payload) }) as Promise<Res>,
    patch: (url, payload, headers) => app.inject({ method: 'PATCH', url, headers: withType(headers), payload: body(payload) }) as Promise<Res>,
    put: (url, payload, headers) => app.inject({ method: 'PUT', url, headers: withType(headers), payload: body(payload) }) as Promise<Res>,
    del: (url, headers = {}) => app.inject({ method: 'DELETE', url, headers }) as Promise<Res>,
    entity: async (id, query = '', headers = {}) => json(expectStatus(await c.get(entityUrl(id) + query, headers), 200)),
    create: async (entity, headers) => expectStatus(await c.post(`${BASE}/entities`, entity, headers), 201),
  };
  return c;
}
