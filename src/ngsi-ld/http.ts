import { NgsiError, badRequestData } from './errors';

/** HTTP-level NGSI-LD rules (spec 6.3): media types, content negotiation, tenants. Pure functions. */

export const JSON_TYPE = 'application/json';
export const JSONLD_TYPE = 'application/ld+json';
export const GEOJSON_TYPE = 'application/geo+json';
export const MERGE_PATCH_TYPE = 'application/merge-patch+json';
export const CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';

export type ResponseType = typeof JSON_TYPE | typeof JSONLD_TYPE | typeof GEOJSON_TYPE;

/** The media type of a Content-Type header, lower case, without parameters. */
export const mediaType = (header: string | undefined): string | undefined =>
  header ? header.split(';')[0].trim().toLowerCase() : undefined;

/**
 * Picks the response media type from an Accept header among the ones the operation offers
 * (the first offered is the default for wildcards). 406 when none is acceptable.
 */
export function negotiate(accept: string | undefined, offered: readonly ResponseType[]): ResponseType {
  if (!accept || !accept.trim()) return offered[0];
  let best: { type: ResponseType; q: number } | undefined;
  for (const range of accept.split(',')) {
    const [typePart, ...paramParts] = range.split(';');
    const type = typePart.trim().toLowerCase();
    let q = 1;
    for (const p of paramParts) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k === 'q') q = Number(v);
    }
    if (!(q > 0)) continue;
    const match =
      type === '*/*' || type === 'application/*'
        ? offered[0]
        : offered.find((o) => o === type);
    if (match && (!best || q > best.q)) best = { type: match, q };
  }
  if (!best) {
    throw new NgsiError('InvalidRequest', 406, `none of the accepted media types '${accept}' is available; offered: ${offered.join(', ')}`);
  }
  return best.type;
}

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;

/** The tenant of a request ('' = the default tenant). */
export function tenantOf(header: string | string[] | undefined): string {
  if (header === undefined) return '';
  const value = Array.isArray(header) ? header[0] : header;
  if (value === '') return '';
  if (!TENANT.test(value)) {
    throw badRequestData(`NGSILD-Tenant '${value.slice(0, 80)}' is invalid: use 1-64 letters, digits, '_' or '-'`);
  }
  return value.toLowerCase();
}

/** Link header value announcing a context URL. */
export const contextLinkHeader = (url: string): string => `<${url}>; rel="${CONTEXT_REL}"; type="${JSONLD_TYPE}"`;

/** Fails when a parsed JSON value nests deeper than maxDepth (checked without recursion). */
export function assertJsonDepth(value: unknown, maxDepth: number): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) throw badRequestData(`JSON body nests deeper than ${maxDepth} levels`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000 nor unpaired UTF-16 surrogates (`"\ud800"`): such
 * a string would fail deep in a write or a query. Request bodies and parameters are checked up front.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isStorableText = (s: string): boolean => !UNSTORABLE.test(s);

/** Fails when a string or member name anywhere in a parsed JSON value is not storable text. */
export function assertStorableText(value: unknown, where: string): void {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!isStorableText(v)) throw badRequestData(`${where} contains U+0000 or an unpaired surrogate, which cannot be stored`);
    } else if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) for (const item of v) stack.push(item);
      else for (const [k, child] of Object.entries(v)) stack.push(k, child);
    }
  }
}
