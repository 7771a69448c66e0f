/**
 * Subscription bodies (spec 5.2.12, 5.8.1 create, 5.8.2 update) → the internal Subscription
 * (notify/types.ts), validated, with names expanded through the request's TermMap.
 *
 * - Unknown members are 400 (a typo must not silently widen a subscription); read-only members a
 *   client may echo from a GET (status, createdAt, notification.timesSent, ...) are ignored;
 *   members of the spec this service does not implement (csf, temporalQ, datasetId, notification
 *   pick/omit/join) are 501 OperationNotSupported.
 * - `entities[].type` is a type selection (4.17) stored with expanded names; `watchedAttributes`
 *   and `notification.attributes` are expanded IRIs; q is kept as written, together with the
 *   expansion of every name in it (qTerms), so it is evaluated as it was meant when created.
 * - Defaults: notificationTrigger [attributeCreated, attributeUpdated] (spec 1.8), isActive true,
 *   format normalized, accept application/json, showChanges/sysAttrs false.
 * - The endpoint URI must be http, https, mqtt or mqtts; literal loopback/private/link-local
 *   addresses and `localhost` are refused unless private endpoints are allowed
 *   (NOTIFY_ALLOW_PRIVATE). Names are resolved and checked again at every delivery (ssrf.ts).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { badRequestData, notSupported } from '../ngsi-ld/errors';
import type { TermMap } from '../ngsi-ld/context/types';
import { isDateTime, isUri } from '../ngsi-ld/entity/parse';
import { parseQ } from '../ngsi-ld/query/q';
import { qToSql } from '../ngsi-ld/query/q-sql';
import { parseGeoQuery } from '../ngsi-ld/query/geo';
import { parseScopeQ } from '../ngsi-ld/query/scope';
import { parseTypeExpr } from '../ngsi-ld/query/type-expr';
import { NGSI_LD_NULL } from '../ngsi-ld/types';
import { SqlParams } from '../store/sql';
import { checkEndpointUri, EndpointRefused, hostOf, type EndpointPolicy } from './ssrf';
import type {
  Endpoint, KeyValuePair, NotificationFormat, NotificationParams, NotificationTrigger, Subscription,
} from './types';
import { isRecord } from '../ngsi-ld/json';

export const NOTIFICATION_TRIGGERS: readonly NotificationTrigger[] = [
  'entityCreated', 'entityUpdated', 'entityDeleted', 'attributeCreated', 'attributeUpdated', 'attributeDeleted',
];
/** spec 1.8 5.2.12: without notificationTrigger, attributeCreated and attributeUpdated */
export const DEFAULT_TRIGGERS: readonly NotificationTrigger[] = ['attributeCreated', 'attributeUpdated'];
const ACCEPTS: readonly Endpoint['accept'][] = ['application/json', 'application/ld+json', 'application/geo+json'];
const FORMATS: readonly NotificationFormat[] = ['normalized', 'keyValues', 'concise'];

export const SUBSCRIPTION_LIMITS = {
  entities: 100,
  attributes: 100,
  nameLength: 256,
  textLength: 4096,
  keyValuePairs: 32,
  uriLength: 2048,
} as const;

export interface SubscriptionParseOptions {
  tenant: string;
  /** creation / modification time (ISO 8601) */
  now: string;
  /** the request's @context (URL, or inline): the default jsonldContext */
  requestContext: Subscription['jsonldContext'];
  policy: EndpointPolicy;
}

/** A validated PATCH body: the members it sets (undefined value = member removed). */
export type SubscriptionPatch = {
  [K in keyof Subscription]?: Subscription[K] | undefined;
} & {
  /** members of `notification` to replace (endpoint is replaced whole) */
  notificationPatch?: Partial<NotificationParams>;
};

type Json = Record<string, unknown>;

const show = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 80 ? t.slice(0, 77) + '...' : t;
};
const fail = (where: string, problem: string): never => {
  // "'entities[0]'.type" reads better as "'entities[0].type'"
  throw badRequestData(`subscription ${where.replace(/'((?:\.\w+|\[\d+\])+)/g, "$1'")}: ${problem}`);
};
/** JSON null or NGSI-LD Null: removes an optional member in a PATCH */
const isNull = (v: unknown): boolean => v === null || v === NGSI_LD_NULL;

// --- members ---------------------------------------------------------------------------------------

const TOP_MEMBERS = new Set([
  'id', 'type', '@context', 'subscriptionName', 'description', 'entities', 'watchedAttributes', 'notificationTrigger',
  'q', 'geoQ', 'scopeQ', 'lang', 'isActive', 'expiresAt', 'throttling', 'timeInterval', 'notification', 'jsonldContext',
  'localOnly',
]);
const READ_ONLY = new Set(['status', 'createdAt', 'modifiedAt', 'deletedAt']);
const UNSUPPORTED = new Set(['csf', 'temporalQ', 'datasetId', 'scope', 'expires']);
const NOTIFICATION_MEMBERS = new Set(['attributes', 'format', 'showChanges', 'sysAttrs', 'endpoint', 'join']);
const NOTIFICATION_READ_ONLY = new Set(['status', 'timesSent', 'timesFailed', 'lastNotification', 'lastSuccess', 'lastFailure']);
const NOTIFICATION_UNSUPPORTED = new Set(['pick', 'omit', 'joinLevel']);
const ENDPOINT_MEMBERS = new Set(['uri', 'accept', 'receiverInfo', 'notifierInfo', 'timeout', 'cooldown']);

function checkMembers(obj: Json, where: string, known: Set<string>, readOnly: Set<string>, unsupported: Set<string>): void {
  for (const key of Object.keys(obj)) {
    if (known.has(key) || readOnly.has(key)) continue;
    if (unsupported.has(key)) throw notSupported(`subscription ${where}'${key}' is not supported by this broker`);
    fail(`${where}member '${key.slice(0, 100)}'`, `unknown member; allowed: ${[...known].filter((k) => k !== '@context').join(', ')}`);
  }
}

const FORBIDDEN_NAME_CHAR = /[\s\x00-\x1f\x7f<>"'=;()]/;

function expandName(raw: unknown, tm: TermMap, where: string): string {
  if (typeof raw !== 'string') return fail(where, `must be an attribute name, not ${show(raw)}`);
  if (raw === '') fail(where, 'a name must not be empty');
  if (raw.length > SUBSCRIPTION_LIMITS.nameLength) fail(where, `a name must not be longer than ${SUBSCRIPTION_LIMITS.nameLength} characters`);
  const bad = FORBIDDEN_NAME_CHAR.exec(raw);
  if (bad) fail(where, `name ${show(raw)} must not contain ${JSON.stringify(bad[0])}`);
  if (raw.startsWith('@')) fail(where, `${show(raw)}: JSON-LD keywords are not attribute names`);
  const iri = tm.expand(raw);
  if (!iri.includes(':')) fail(where, `'${raw}' does not expand to an IRI with the @context in use`);
  return iri;
}

function nameList(raw: unknown, tm: TermMap, where: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0) return fail(where, `must be a non-empty array of attribute names, not ${show(raw)}`);
  if (raw.length > SUBSCRIPTION_LIMITS.attributes) fail(where, `must not have more than ${SUBSCRIPTION_LIMITS.attributes} names`);
  return [...new Set(raw.map((n, i) => expandName(n, tm, `${where}[${i}]`)))];
}

function text(raw: unknown, where: string, max: number = SUBSCRIPTION_LIMITS.textLength): string {
  if (typeof raw !== 'string') return fail(where, `must be a string, not ${show(raw)}`);
  if (raw.length > max) fail(where, `must not be longer than ${max} characters`);
  return raw;
}

function bool(raw: unknown, where: string): boolean {
  return typeof raw === 'boolean' ? raw : fail(where, `must be true or false, not ${show(raw)}`);
}

function positiveNumber(raw: unknown, where: string, min: number, strict: boolean): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw)) return fail(where, `must be a number, not ${show(raw)}`);
  if (strict ? raw <= min : raw < min) fail(where, `must be ${strict ? 'greater than' : 'at least'} ${min}, not ${raw}`);
  if (raw > 365 * 24 * 3600 * 1000) fail(where, `${raw} is too large`);
  return raw;
}

function dateTime(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !isDateTime(raw)) return fail(where, `must be an ISO 8601 date-time such as 2030-01-01T00:00:00Z, not ${show(raw)}`);
  return new Date(raw).toISOString();
}

const TYPE_NAME = /[^,;|()]+/g;

/** A type selection with its names expanded; refused when an expansion would change its structure. */
function typeSelection(raw: unknown, tm: TermMap, where: string): string {
  const s = text(raw, where, 2048);
  try {
    parseTypeExpr(s, (t) => t);
    const expanded = s.replace(TYPE_NAME, (name) => {
      const iri = tm.expand(name);
      if (!iri.includes(':')) fail(where, `type '${name}' does not expand to an IRI with the @context in use`);
      return iri;
    });
    const a = parseTypeExpr(s, (t) => tm.expand(t));
    const b = parseTypeExpr(expanded, (t) => t);
    if (JSON.stringify(a) !== JSON.stringify(b)) fail(where, `a type name expands to an IRI containing ',', ';', '|' or parentheses`);
    return expanded;
  } catch (err) {
    if ((err as Error).message.startsWith('subscription')) throw err;
    return fail(where, (err as Error).message);
  }
}

/** The compact form of a stored type selection (for GET). */
export const compactTypeSelection = (s: string, tm: TermMap): string => s.replace(TYPE_NAME, (iri) => tm.compact(iri));

function parseEntities(raw: unknown, tm: TermMap): NonNullable<Subscription['entities']> {
  if (!Array.isArray(raw) || raw.length === 0) return fail("'entities'", `must be a non-empty array of entity selectors, not ${show(raw)}`);
  if (raw.length > SUBSCRIPTION_LIMITS.entities) fail("'entities'", `must not have more than ${SUBSCRIPTION_LIMITS.entities} selectors`);
  return raw.map((sel, i) => {
    const where = `'entities[${i}]'`;
    if (!isRecord(sel)) return fail(where, `must be an object {type, id?, idPattern?}, not ${show(sel)}`);
    for (const key of Object.keys(sel)) {
      if (!['id', 'idPattern', 'type'].includes(key)) fail(where, `unknown member '${key.slice(0, 100)}' (allowed: id, idPattern, type)`);
    }
    if (sel.type === undefined) fail(where, "must have a 'type'");
    const out: { id?: string; idPattern?: string; type: string } = { type: typeSelection(sel.type, tm, `${where}.type`) };
    if (sel.id !== undefined) {
      if (typeof sel.id !== 'string' || !isUri(sel.id)) fail(`${where}.id`, `must be a URI, not ${show(sel.id)}`);
      out.id = sel.id as string;
    }
    if (sel.idPattern !== undefined) {
      const p = text(sel.idPattern, `${where}.idPattern`, 1024);
      try {
        new RegExp(p);
      } catch {
        fail(`${where}.idPattern`, `${show(p)} is not a valid regular expression`);
      }
      out.idPattern = p;
    }
    return out;
  });
}

function parseTriggers(raw: unknown): NotificationTrigger[] {
  const where = "'notificationTrigger'";
  if (!Array.isArray(raw) || raw.length === 0) return fail(where, `must be a non-empty array of triggers, not ${show(raw)}`);
  for (const t of raw) {
    if (!NOTIFICATION_TRIGGERS.includes(t as NotificationTrigger)) fail(where, `${show(t)} is not one of ${NOTIFICATION_TRIGGERS.join(', ')}`);
  }
  return [...new Set(raw as NotificationTrigger[])];
}

/** q parsed (400 when invalid) and the expansion of every name in it, recorded once. */
function parseSubscriptionQ(raw: unknown, tm: TermMap): { q: string; qTerms: Record<string, string> } {
  const q = text(raw, "'q'");
  const expr = parseQ(q);
  const qTerms: Record<string, string> = {};
  qToSql(expr, {
    expand: (t) => (qTerms[t] ??= tm.expand(t)),
    params: new SqlParams(),
    attrsColumn: 'attrs',
  });
  return { q, qTerms };
}

function parseGeoQ(raw: unknown, tm: TermMap): NonNullable<Subscription['geoQ']> {
  if (!isRecord(raw)) return fail("'geoQ'", `must be an object {geometry, coordinates, georel, geoproperty?}, not ${show(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!['geometry', 'coordinates', 'georel', 'geoproperty'].includes(key)) fail("'geoQ'", `unknown member '${key.slice(0, 100)}'`);
  }
  for (const key of ['geometry', 'coordinates', 'georel']) if (raw[key] === undefined) fail("'geoQ'", `must have '${key}'`);
  let parsed;
  try {
    parsed = parseGeoQuery(raw, (t) => tm.expand(t))!;
  } catch (err) {
    return fail("'geoQ'", (err as Error).message);
  }
  return {
    geometry: parsed.geometry.type,
    coordinates: parsed.geometry.coordinates,
    georel: raw.georel as string,
    geoproperty: parsed.geoproperty,
  };
}

function parseScope(raw: unknown): string {
  const s = text(raw, "'scopeQ'");
  parseScopeQ(s);
  return s;
}

const LANG = /^[A-Za-z0-9*@,;=.\s-]{1,64}$/;
function parseLang(raw: unknown): string {
  const s = text(raw, "'lang'", 64);
  if (!LANG.test(s)) fail("'lang'", `${show(s)} is not a language tag or a list of them`);
  return s;
}

function parseJsonldContext(raw: unknown): string {
  const s = text(raw, "'jsonldContext'", SUBSCRIPTION_LIMITS.uriLength);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return fail("'jsonldContext'", `must be a dereferenceable URI, not ${show(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail("'jsonldContext'", `must be an http(s) URI, not ${show(s)}`);
  return s;
}

function keyValues(raw: unknown, where: string): KeyValuePair[] {
  if (!Array.isArray(raw)) return fail(where, `must be an array of {key, value}, not ${show(raw)}`);
  if (raw.length > SUBSCRIPTION_LIMITS.keyValuePairs) fail(where, `must not have more than ${SUBSCRIPTION_LIMITS.keyValuePairs} pairs`);
  return raw.map((kv, i) => {
    const at = `${where}[${i}]`;
    if (!isRecord(kv) || Object.keys(kv).some((k) => k !== 'key' && k !== 'value')) return fail(at, `must be an object {key, value}, not ${show(kv)}`);
    const key = text(kv.key, `${at}.key`, 256);
    const value = text(kv.value, `${at}.value`, SUBSCRIPTION_LIMITS.textLength);
    // they travel as HTTP headers / MQTT metadata: no header injection
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) fail(`${at}.key`, `${show(key)} is not a valid header name`);
    if (/[\r\n\x00]/.test(value)) fail(`${at}.value`, 'must not contain line breaks');
    return { key, value };
  });
}

/** The creation-time SSRF check: scheme, shape, literal addresses, localhost. */
export function checkNotificationUri(uri: string, policy: EndpointPolicy): void {
  const where = "'notification.endpoint.uri'";
  let u: URL;
  try {
    u = checkEndpointUri(uri, policy);
  } catch (err) {
    if (err instanceof EndpointRefused) return fail(where, err.message);
    throw err;
  }
  const host = hostOf(u);
  if (!policy.allowPrivate && !net.isIP(host) && (host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain')) {
    fail(where, `notification endpoint host ${host} is a loopback name; private endpoints are not allowed (NOTIFY_ALLOW_PRIVATE)`);
  }
  if ((u.protocol === 'mqtt:' || u.protocol === 'mqtts:') && u.pathname.replace(/^\//, '') === '') {
    fail(where, `an MQTT endpoint must name a topic as its path (mqtt://broker:1883/some/topic), not ${show(uri)}`);
  }
}

function parseEndpoint(raw: unknown, policy: EndpointPolicy): Endpoint {
  const where = "'notification.endpoint'";
  if (!isRecord(raw)) return fail(where, `must be an object {uri, accept?, ...}, not ${show(raw)}`);
  checkMembers(raw, 'notification.endpoint ', ENDPOINT_MEMBERS, new Set(), new Set());
  if (raw.uri === undefined) fail(where, "must have a 'uri'");
  const uri = text(raw.uri, `${where}.uri`, SUBSCRIPTION_LIMITS.uriLength);
  checkNotificationUri(uri, policy);
  const endpoint: Endpoint = { uri, accept: 'application/json' };
  if (raw.accept !== undefined) {
    if (!ACCEPTS.includes(raw.accept as Endpoint['accept'])) fail(`${where}.accept`, `${show(raw.accept)} is not one of ${ACCEPTS.join(', ')}`);
    endpoint.accept = raw.accept as Endpoint['accept'];
  }
  if (raw.receiverInfo !== undefined) endpoint.receiverInfo = keyValues(raw.receiverInfo, `${where}.receiverInfo`);
  if (raw.notifierInfo !== undefined) endpoint.notifierInfo = keyValues(raw.notifierInfo, `${where}.notifierInfo`);
  if (raw.timeout !== undefined) endpoint.timeout = positiveNumber(raw.timeout, `${where}.timeout`, 1, false);
  if (raw.cooldown !== undefined) endpoint.cooldown = positiveNumber(raw.cooldown, `${where}.cooldown`, 1, false);
  return endpoint;
}

/** The members a `notification` object sets (partial: for PATCH, missing ones are not given). */
function parseNotificationMembers(raw: unknown, tm: TermMap, policy: EndpointPolicy, partial: boolean): Partial<NotificationParams> & { attributesRemoved?: boolean } {
  const where = "'notification'";
  if (!isRecord(raw)) return fail(where, `must be an object {endpoint, format?, attributes?, ...}, not ${show(raw)}`);
  checkMembers(raw, 'notification.', NOTIFICATION_MEMBERS, NOTIFICATION_READ_ONLY, NOTIFICATION_UNSUPPORTED);
  const out: Partial<NotificationParams> & { attributesRemoved?: boolean } = {};
  if (raw.join !== undefined && raw.join !== '@none') throw notSupported(`subscription 'notification.join' ${show(raw.join)} is not supported by this broker`);
  if (raw.attributes !== undefined) {
    if (partial && isNull(raw.attributes)) out.attributesRemoved = true;
    else out.attributes = nameList(raw.attributes, tm, `${where}.attributes`);
  }
  if (raw.format !== undefined) {
    const f = raw.format === 'simplified' ? 'keyValues' : raw.format;
    if (!FORMATS.includes(f as NotificationFormat)) fail(`${where}.format`, `${show(raw.format)} is not one of ${FORMATS.join(', ')}`);
    out.format = f as NotificationFormat;
  }
  if (raw.showChanges !== undefined) out.showChanges = bool(raw.showChanges, `${where}.showChanges`);
  if (raw.sysAttrs !== undefined) out.sysAttrs = bool(raw.sysAttrs, `${where}.sysAttrs`);
  if (raw.endpoint !== undefined) out.endpoint = parseEndpoint(raw.endpoint, policy);
  else if (!partial) fail(where, "must have an 'endpoint'");
  return out;
}

// --- create ----------------------------------------------------------------------------------------

/**
 * Validates a POST /subscriptions body and builds the Subscription (status counters zero). The
 * jsonldContext is the body's member when given, else the request's @context.
 */
export function parseSubscription(body: unknown, tm: TermMap, opts: SubscriptionParseOptions): Subscription {
  if (!isRecord(body)) return fail('body', `must be a JSON object, not ${show(body)}`);
  checkMembers(body, '', TOP_MEMBERS, READ_ONLY, UNSUPPORTED);
  if (body.type !== 'Subscription') fail("'type'", `must be "Subscription", not ${show(body.type)}`);
  let id: string;
  if (body.id === undefined) id = `urn:ngsi-ld:Subscription:${randomUUID()}`;
  else if (typeof body.id !== 'string' || !isUri(body.id)) return fail("'id'", `must be a URI, not ${show(body.id)}`);
  else id = body.id;
  if (body.notification === undefined) fail('', "must have a 'notification' member");
  const n = parseNotificationMembers(body.notification, tm, opts.policy, false);
  const sub: Subscription = {
    id,
    tenant: opts.tenant,
    notificationTrigger: [...DEFAULT_TRIGGERS],
    isActive: true,
    notification: {
      ...(n.attributes ? { attributes: n.attributes } : {}),
      format: n.format ?? 'normalized',
      showChanges: n.showChanges ?? false,
      sysAttrs: n.sysAttrs ?? false,
      endpoint: n.endpoint!,
    },
    jsonldContext: body.jsonldContext !== undefined ? parseJsonldContext(body.jsonldContext) : opts.requestContext,
    createdAt: opts.now,
    modifiedAt: opts.now,
    timesSent: 0,
    timesFailed: 0,
    notificationStatus: 'ok',
  };
  applyMembers(sub, parseCommonMembers(body, tm, false));
  validate(sub, opts.now, true);
  return sub;
}

/** The members of Subscription.Common/OnChange/Periodic that create and PATCH share. */
function parseCommonMembers(body: Json, tm: TermMap, partial: boolean): SubscriptionPatch {
  const out: SubscriptionPatch = {};
  const optional = <K extends keyof Subscription>(key: K, parse: (raw: unknown) => Subscription[K]): void => {
    const raw = body[key];
    if (raw === undefined) return;
    if (partial && isNull(raw)) {
      out[key] = undefined;
      return;
    }
    out[key] = parse(raw);
  };
  optional('subscriptionName', (v) => text(v, "'subscriptionName'", 256));
  optional('description', (v) => text(v, "'description'"));
  optional('entities', (v) => parseEntities(v, tm));
  optional('watchedAttributes', (v) => nameList(v, tm, "'watchedAttributes'"));
  optional('notificationTrigger', (v) => parseTriggers(v));
  if (body.q !== undefined) {
    if (partial && isNull(body.q)) {
      out.q = undefined;
      out.qTerms = undefined;
    } else {
      Object.assign(out, parseSubscriptionQ(body.q, tm));
    }
  }
  optional('geoQ', (v) => parseGeoQ(v, tm));
  optional('scopeQ', (v) => parseScope(v));
  optional('lang', (v) => parseLang(v));
  optional('expiresAt', (v) => dateTime(v, "'expiresAt'"));
  optional('throttling', (v) => positiveNumber(v, "'throttling'", 0, true));
  optional('timeInterval', (v) => positiveNumber(v, "'timeInterval'", 1, false));
  if (body.isActive !== undefined) out.isActive = bool(body.isActive, "'isActive'");
  if (body.localOnly !== undefined) bool(body.localOnly, "'localOnly'");
  return out;
}

function applyMembers(sub: Subscription, patch: SubscriptionPatch): void {
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'notificationPatch') continue;
    if (value === undefined) delete (sub as unknown as Json)[key];
    else (sub as unknown as Json)[key] = value;
  }
}

/** Rules across members (create, and the result of a PATCH). */
function validate(sub: Subscription, now: string, creating: boolean): void {
  if (!sub.entities && !sub.watchedAttributes && sub.timeInterval === undefined) {
    fail('', "must have 'entities' or 'watchedAttributes' (or both)");
  }
  if (sub.timeInterval !== undefined) {
    if (!sub.entities) fail("'timeInterval'", "a periodic subscription must have 'entities'");
    if (sub.watchedAttributes) fail("'timeInterval'", "cannot be combined with 'watchedAttributes' (periodic vs on-change)");
    if (sub.throttling !== undefined) fail("'timeInterval'", "cannot be combined with 'throttling' (periodic vs on-change)");
  }
  if (sub.notification.showChanges && sub.notification.format === 'keyValues') {
    fail("'notification.showChanges'", 'cannot be true with format keyValues');
  }
  if (creating && sub.expiresAt !== undefined && sub.expiresAt <= now) {
    fail("'expiresAt'", `${sub.expiresAt} is not in the future`);
  }
}

// --- update ----------------------------------------------------------------------------------------

/**
 * Validates a PATCH /subscriptions/{id} body (a Subscription fragment): every member it names
 * replaces the stored one; JSON null or NGSI-LD Null removes an optional member; `notification`
 * members replace the stored notification's members one by one. `id` and `type`, when given,
 * must be the subscription's.
 */
export function parseSubscriptionPatch(body: unknown, tm: TermMap, opts: SubscriptionParseOptions & { id: string }): SubscriptionPatch {
  if (!isRecord(body)) return fail('fragment', `must be a JSON object, not ${show(body)}`);
  checkMembers(body, '', TOP_MEMBERS, READ_ONLY, UNSUPPORTED);
  if (body.id !== undefined && body.id !== opts.id) fail("'id'", `${show(body.id)} does not match the subscription id in the URL`);
  if (body.type !== undefined && body.type !== 'Subscription') fail("'type'", `must be "Subscription", not ${show(body.type)}`);
  const patch = parseCommonMembers(body, tm, true);
  if (Object.hasOwn(patch, 'notificationTrigger') && patch.notificationTrigger === undefined) patch.notificationTrigger = [...DEFAULT_TRIGGERS];
  if (Object.hasOwn(patch, 'isActive') && patch.isActive === undefined) patch.isActive = true;
  if (body.jsonldContext !== undefined) {
    patch.jsonldContext = isNull(body.jsonldContext) ? opts.requestContext : parseJsonldContext(body.jsonldContext);
  }
  if (body.notification !== undefined) {
    const { attributesRemoved, ...members } = parseNotificationMembers(body.notification, tm, opts.policy, true);
    patch.notificationPatch = attributesRemoved ? { ...members, attributes: undefined } : members;
  }
  if (body.expiresAt !== undefined && patch.expiresAt !== undefined && patch.expiresAt <= opts.now) {
    fail("'expiresAt'", `${patch.expiresAt} is not in the future`);
  }
  const meaningful = Object.keys(patch).length > 0;
  if (!meaningful && !Object.keys(body).some((k) => TOP_MEMBERS.has(k) && !['id', 'type', '@context'].includes(k))) {
    fail('fragment', 'names no member to change');
  }
  return patch;
}

/** The subscription after a PATCH (validated as a whole); status counters are untouched. */
export function applySubscriptionPatch(sub: Subscription, patch: SubscriptionPatch, now: string): Subscription {
  const next: Subscription = structuredClone(sub);
  applyMembers(next, patch);
  if (patch.notificationPatch) {
    const n = next.notification as unknown as Json;
    for (const [key, value] of Object.entries(patch.notificationPatch)) {
      if (value === undefined) delete n[key];
      else n[key] = value;
    }
  }
  next.modifiedAt = now;
  validate(next, now, false);
  return next;
}
