import { randomUUID } from 'node:crypto';
import type { ContextResolver } from '../ngsi-ld/context/resolver';
import type { ContextValue, TermMap } from '../ngsi-ld/context/types';
import { CONCISE_MARKERS, renderEntities, renderGeoJson } from '../ngsi-ld/entity/render';
import { VALUE_MEMBERS } from '../ngsi-ld/entity/parse';
import type { Projection } from '../ngsi-ld/entity/projection';
import { NGSI_LD_NULL, type AttributeInstance, type Entity } from '../ngsi-ld/types';
import type { Subscription } from './types';

/**
 * The Notification (spec 5.3.1) a subscription sends: id urn:ngsi-ld:Notification:<uuid>, type,
 * subscriptionId, notifiedAt and data, the entities rendered as the subscription asks (format,
 * attributes, sysAttrs, lang, showChanges) and compacted with the subscription's @context.
 *
 * - accept application/json: the context travels in a Link header (when it is a single URL;
 *   an inline context cannot be linked, so it is then put in the body as "@context").
 * - accept application/ld+json: "@context" in the body, no Link header.
 * - accept application/geo+json: data is a FeatureCollection carrying "@context", unless the
 *   receiverInfo holds Prefer: body=json (spec 5.3.1), then a Link header instead.
 */

/** One change to notify about: an outbox row's payload (internal expanded entities). */
export interface ChangeItem {
  trigger?: string;
  after?: Entity;
  before?: Entity;
  /** when the change was committed (deletedAt of deletions) */
  at?: string;
}

export interface NotificationMessage {
  /** the Notification's id */
  id: string;
  /** the Notification as a JSON object */
  body: Record<string, unknown>;
  /** Content-Type, Link, NGSILD-Tenant and the receiverInfo pairs */
  headers: Record<string, string>;
}

const CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';
export const linkHeaderValue = (url: string): string => `<${url}>; rel="${CONTEXT_REL}"; type="application/ld+json"`;

export async function renderNotification(
  sub: Subscription,
  items: ChangeItem[],
  contexts: ContextResolver,
  now: Date = new Date(),
): Promise<NotificationMessage> {
  const tm = await contexts.resolve(sub.jsonldContext as ContextValue);
  return buildNotification(sub, items, tm, now);
}

export function buildNotification(sub: Subscription, items: ChangeItem[], tm: TermMap, now: Date = new Date()): NotificationMessage {
  const params = sub.notification;
  const accept = params.endpoint.accept ?? 'application/json';
  const receiverInfo = params.endpoint.receiverInfo ?? [];
  const preferBodyJson = receiverInfo.some((kv) => kv.key.toLowerCase() === 'prefer' && /\bbody=json\b/i.test(kv.value));
  const context = tm.context;
  const linkable = typeof context === 'string';
  const format = params.format ?? 'normalized';
  const notifiedAt = now.toISOString();
  const projection: Projection | undefined = params.attributes?.length
    ? { attrs: new Set(params.attributes), includeId: true, includeType: true, includeScope: true, selectsEntities: false }
    : undefined;
  const renderOpts = { format, sysAttrs: params.sysAttrs === true, projection, lang: sub.lang };

  const body: Record<string, unknown> = {
    id: `urn:ngsi-ld:Notification:${randomUUID()}`,
    type: 'Notification',
    subscriptionId: sub.id,
    notifiedAt,
  };
  const headers: Record<string, string> = { 'Content-Type': accept };

  if (accept === 'application/geo+json') {
    const entities = items.map((i) => i.after ?? i.before).filter((e): e is Entity => e !== undefined);
    const withContext = !preferBodyJson;
    body.data = renderGeoJson(entities, tm, { ...renderOpts, includeContext: withContext ? context : undefined });
    if (!withContext && linkable) headers.Link = linkHeaderValue(context);
  } else {
    const data: Record<string, unknown>[] = [];
    for (const item of items) {
      const rendered = renderItem(item, tm, renderOpts, sub.notification.showChanges === true && format !== 'keyValues', notifiedAt);
      if (rendered) data.push(rendered);
    }
    body.data = data;
    if (accept === 'application/ld+json' || !linkable) body['@context'] = context;
    else headers.Link = linkHeaderValue(context);
  }
  if (sub.tenant) headers['NGSILD-Tenant'] = sub.tenant;
  for (const kv of receiverInfo) headers[kv.key] = kv.value;
  return { id: body.id as string, body, headers };
}

type RenderOpts = Parameters<typeof renderEntities>[2];

function renderItem(item: ChangeItem, tm: TermMap, opts: RenderOpts, showChanges: boolean, notifiedAt: string): Record<string, unknown> | undefined {
  const deletedAt = item.at ?? notifiedAt;
  if (item.trigger === 'entityDeleted' || (!item.after && item.before)) {
    // a deleted entity: its id, type and when it was deleted (spec 1.8: deletedAt)
    const e = item.before ?? item.after!;
    return { id: e.id, type: e.type.length === 1 ? tm.compact(e.type[0]) : e.type.map((t) => tm.compact(t)), deletedAt };
  }
  if (!item.after) return undefined;
  const out = renderEntities([item.after], tm, opts)[0];
  const before = item.before;
  if (!before) return out;
  // attributes deleted by this change (attributeDeleted): the NGSI-LD null with deletedAt
  if (item.trigger === 'attributeDeleted') {
    for (const name in before.attrs) {
      if (item.after.attrs[name]?.length || !included(opts.projection, name)) continue;
      const key = tm.compact(name);
      out[key] = opts.format === 'keyValues'
        ? NGSI_LD_NULL
        : opts.format === 'concise'
          ? { value: NGSI_LD_NULL, deletedAt }
          : { type: 'Property', value: NGSI_LD_NULL, deletedAt };
    }
  }
  if (showChanges) addPreviousValues(out, item.after, before, tm, opts.projection);
  return out;
}

const included = (p: Projection | undefined, name: string): boolean => !p?.attrs || p.attrs.has(name);

/**
 * showChanges (5.2.14): previousValue / previousObject / previousLanguageMap / ... next to the
 * current value of every attribute instance that existed before the change.
 */
function addPreviousValues(out: Record<string, unknown>, after: Entity, before: Entity, tm: TermMap, projection?: Projection): void {
  for (const name in after.attrs) {
    const old = before.attrs[name];
    if (!old?.length || !included(projection, name)) continue;
    const key = tm.compact(name);
    const current = out[key];
    if (current === undefined) continue;
    const instances = after.attrs[name];
    if (Array.isArray(current) && instances.length > 1) {
      out[key] = current.map((rendered, i) => withPrevious(rendered, instances[i], old));
    } else {
      out[key] = withPrevious(current, instances[0], old);
    }
  }
}

function withPrevious(rendered: unknown, inst: AttributeInstance | undefined, old: AttributeInstance[]): unknown {
  if (!inst) return rendered;
  const prev = old.find((o) => o.datasetId === inst.datasetId);
  if (!prev) return rendered;
  const member = previousMember(prev);
  if (!member) return rendered;
  // a bare concise value gets its object form back so that the previous value has a place
  const obj: Record<string, unknown> =
    typeof rendered === 'object' && rendered !== null && !Array.isArray(rendered) && CONCISE_MARKERS.some((m) => m in rendered)
      ? { ...(rendered as Record<string, unknown>) }
      : { value: rendered };
  obj[member[0]] = member[1];
  return obj;
}

/** showChanges: previousValue, previousObject, previousLanguageMap, … after the kind's value member. */
function previousMember(prev: AttributeInstance): [string, unknown] | undefined {
  const member = VALUE_MEMBERS[prev.type];
  return member === undefined ? undefined : [`previous${member[0].toUpperCase()}${member.slice(1)}`, prev[member]];
}
