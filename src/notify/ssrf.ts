import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import net from 'node:net';

/**
 * Notification endpoint policy (SSRF guard). A subscription names a URI that this service will
 * connect to, so the address it resolves to is checked before every connection: only http, https,
 * mqtt and mqtts; no loopback, private, link-local, CGNAT, unique-local, unspecified, multicast or
 * reserved addresses unless the operator allows private endpoints (NOTIFY_ALLOW_PRIVATE=true).
 *
 * DNS is resolved here and the connection is made to the checked address (the HTTP sender passes
 * `policyLookup` as the socket's lookup function; the MQTT sender connects to the resolved IP), so
 * a name that resolves differently the second time (DNS rebinding) cannot slip through. Redirects
 * are never followed.
 *
 * The same policy guards the other URLs the service fetches on a client's word: remote @contexts
 * (ngsi-ld/context/resolver.ts, through `policyGet`, with CONTEXT_ALLOW_PRIVATE).
 */

export const NOTIFY_SCHEMES = ['http:', 'https:', 'mqtt:', 'mqtts:'] as const;

export interface EndpointPolicy {
  /** allow loopback / private / link-local addresses (tests, closed networks) */
  allowPrivate: boolean;
  /** hostnames always refused (lower case, exact) */
  denyHosts?: string[];
  /** when set, only these hostnames (lower case, exact; `host:port` pins a port) are allowed */
  allowHosts?: string[];
  /** what the URL is, in refusal messages (default: notification endpoint) */
  subject?: string;
  /** the setting that allows private addresses, named in refusal messages (default: NOTIFY_ALLOW_PRIVATE) */
  allowPrivateSetting?: string;
}

const subjectOf = (policy: EndpointPolicy): string => policy.subject ?? 'notification endpoint';

export class EndpointRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointRefused';
  }
}

const lookupAll = promisify(dnsLookup) as unknown as (host: string, opts: { all: true; verbatim: true }) => Promise<LookupAddress[]>;

/** Why an IP address is refused, or undefined when it is a public unicast address. */
export function blockedAddressReason(ip: string): string | undefined {
  const family = net.isIP(ip);
  if (family === 4) return blockedV4(ip);
  if (family === 6) return blockedV6(ip);
  return 'not an IP address';
}

function v4ToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

const V4_RANGES: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const V4_COMPILED = V4_RANGES.map(([base, bits, why]) => {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { net: (v4ToInt(base) & mask) >>> 0, mask, why };
});

function blockedV4(ip: string): string | undefined {
  const n = v4ToInt(ip);
  for (const r of V4_COMPILED) if (((n & r.mask) >>> 0) === r.net) return r.why;
  return undefined;
}

/** 8 groups of 16 bits; handles `::`, a zone id and a trailing dotted IPv4 part. */
function v6Groups(ip: string): number[] {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const n = v4ToInt(s.slice(lastColon + 1));
    s = s.slice(0, lastColon + 1) + (n >>> 16).toString(16) + ':' + (n & 0xffff).toString(16);
  }
  const parse = (part: string) => (part ? part.split(':').map((x) => parseInt(x, 16)) : []);
  if (!s.includes('::')) return parse(s);
  const [head, rest] = s.split('::');
  const h = parse(head);
  const r = parse(rest);
  return [...h, ...new Array(Math.max(8 - h.length - r.length, 0)).fill(0), ...r];
}

function blockedV6(ip: string): string | undefined {
  const g = v6Groups(ip);
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d: judge the IPv4 address
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    return blockedV4(`${g[6] >>> 8}.${g[6] & 0xff}.${g[7] >>> 8}.${g[7] & 0xff}`);
  }
  // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address too
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return blockedV4(`${g[6] >>> 8}.${g[6] & 0xff}.${g[7] >>> 8}.${g[7] & 0xff}`);
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  // 6to4 (2002::/16) embeds an IPv4 address
  if (g[0] === 0x2002) return blockedV4(`${g[1] >>> 8}.${g[1] & 0xff}.${g[2] >>> 8}.${g[2] & 0xff}`);
  return undefined;
}

/** Synchronous checks of a notification URI (scheme, shape, host lists, literal IPs). */
export function checkEndpointUri(uri: string, policy: EndpointPolicy): URL {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new EndpointRefused(`${subjectOf(policy)} '${uri}' is not an absolute URI`);
  }
  if (!(NOTIFY_SCHEMES as readonly string[]).includes(u.protocol)) {
    throw new EndpointRefused(`${subjectOf(policy)} scheme '${u.protocol}' is not supported (http, https, mqtt, mqtts)`);
  }
  const host = hostOf(u);
  if (!host) throw new EndpointRefused(`${subjectOf(policy)} '${uri}' has no host`);
  const port = u.port || defaultPort(u.protocol);
  if (policy.denyHosts?.includes(host)) throw new EndpointRefused(`${subjectOf(policy)} host ${host} is denied`);
  if (policy.allowHosts?.length && !policy.allowHosts.includes(host) && !policy.allowHosts.includes(`${host}:${port}`)) {
    throw new EndpointRefused(`${subjectOf(policy)} host ${host} is not in the allow-list`);
  }
  if (net.isIP(host)) assertAddressAllowed(host, policy, host);
  return u;
}

/** The URL's host without IPv6 brackets, lower case. */
export function hostOf(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export function defaultPort(protocol: string): string {
  return { 'http:': '80', 'https:': '443', 'mqtt:': '1883', 'mqtts:': '8883' }[protocol] ?? '';
}

function assertAddressAllowed(ip: string, policy: EndpointPolicy, host: string): void {
  if (policy.allowPrivate) return;
  const why = blockedAddressReason(ip);
  if (why) {
    throw new EndpointRefused(
      `${subjectOf(policy)} ${host} resolves to ${ip} (${why} address); private addresses are not allowed (${policy.allowPrivateSetting ?? 'NOTIFY_ALLOW_PRIVATE'})`,
    );
  }
}

/**
 * Full check: the URI, then every address its host resolves to (all must be allowed: the
 * connection may use any of them). Returns the addresses, first one to connect to.
 */
export async function resolveEndpoint(uri: string, policy: EndpointPolicy): Promise<{ url: URL; addresses: LookupAddress[] }> {
  const url = checkEndpointUri(uri, policy);
  const host = hostOf(url);
  if (net.isIP(host)) return { url, addresses: [{ address: host, family: net.isIP(host) }] };
  const addresses = await resolveHost(host, policy);
  for (const a of addresses) assertAddressAllowed(a.address, policy, host);
  return { url, addresses };
}

async function resolveHost(host: string, policy: EndpointPolicy): Promise<LookupAddress[]> {
  let addresses: LookupAddress[];
  try {
    addresses = await lookupAll(host, { all: true, verbatim: true });
  } catch (err) {
    throw new EndpointRefused(`${subjectOf(policy)} host ${host} does not resolve: ${(err as Error).message}`);
  }
  if (!addresses.length) throw new EndpointRefused(`${subjectOf(policy)} host ${host} does not resolve`);
  return addresses;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/http sockets that resolves and checks in one step, so that the address the
 * socket connects to is the address that was checked.
 */
export function policyLookup(policy: EndpointPolicy) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    resolveHost(host, policy)
      .then((addresses) => {
        for (const a of addresses) assertAddressAllowed(a.address, policy, host);
        if (all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      })
      .catch((err: Error) => callback(Object.assign(err, { code: 'EREFUSED' }) as NodeJS.ErrnoException, all ? [] : ''));
  };
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * GET through the policy: the URL's literal address or every address its name resolves to must
 * be allowed, and the socket connects to the address that was checked (no DNS rebinding).
 * Redirects are returned, never followed: the caller checks each Location with this policy again.
 */
export async function policyGet(
  url: string,
  policy: EndpointPolicy,
  opts: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Response> {
  const u = checkEndpointUri(url, policy);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new EndpointRefused(`${subjectOf(policy)} '${url}' must be an http(s) URL`);
  const lookup = policyLookup(policy) as unknown as http.RequestOptions['lookup'];
  return new Promise<Response>((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      { method: 'GET', headers: opts.headers, lookup, signal: opts.signal, agent: false },
      (res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const status = res.statusCode ?? 502;
        const body = NULL_BODY_STATUSES.has(status) ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        if (!body) res.resume();
        resolve(new Response(body, { status, headers }));
      },
    );
    req.on('error', (err) => reject(err));
    req.end();
  });
}
