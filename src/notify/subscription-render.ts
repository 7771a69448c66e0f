/**
 * Subscription → the JSON a GET answers (spec 5.2.12), names compacted with the request's
 * TermMap, with the read-only status members: `status` (active | paused | expired) and in
 * `notification`: status (ok | failed), timesSent, timesFailed, lastNotification, lastSuccess,
 * lastFailure (only those that have happened). createdAt/modifiedAt only with sysAttrs.
 */
import type { TermMap } from '../ngsi-ld/context/types';
import { compactTypeSelection } from './subscription-parse';
import type { Subscription } from './types';

export type SubscriptionState = 'active' | 'paused' | 'expired';

/** expired once expiresAt has passed (whatever isActive says), else paused when !isActive. */
export function subscriptionState(sub: Pick<Subscription, 'isActive' | 'expiresAt'>, now: string | Date = new Date()): SubscriptionState {
  const t = typeof now === 'string' ? now : now.toISOString();
  if (sub.expiresAt !== undefined && new Date(sub.expiresAt).toISOString() <= t) return 'expired';
  return sub.isActive ? 'active' : 'paused';
}

export interface SubscriptionRenderOptions {
  sysAttrs?: boolean;
  now?: string | Date;
  /** when set, the body carries this "@context" (application/ld+json responses) */
  includeContext?: unknown;
}

export function renderSubscription(sub: Subscription, tm: TermMap, opts: SubscriptionRenderOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { id: sub.id, type: 'Subscription' };
  if (sub.subscriptionName !== undefined) out.subscriptionName = sub.subscriptionName;
  if (sub.description !== undefined) out.description = sub.description;
  if (sub.entities) {
    out.entities = sub.entities.map((e) => ({
      ...(e.id !== undefined ? { id: e.id } : {}),
      ...(e.idPattern !== undefined ? { idPattern: e.idPattern } : {}),
      type: compactTypeSelection(e.type, tm),
    }));
  }
  if (sub.watchedAttributes) out.watchedAttributes = sub.watchedAttributes.map((a) => tm.compact(a));
  if (sub.timeInterval === undefined) out.notificationTrigger = sub.notificationTrigger;
  if (sub.q !== undefined) out.q = sub.q;
  if (sub.geoQ) {
    out.geoQ = {
      geometry: sub.geoQ.geometry,
      coordinates: sub.geoQ.coordinates,
      georel: sub.geoQ.georel,
      ...(sub.geoQ.geoproperty !== undefined ? { geoproperty: tm.compact(sub.geoQ.geoproperty) } : {}),
    };
  }
  if (sub.scopeQ !== undefined) out.scopeQ = sub.scopeQ;
  if (sub.lang !== undefined) out.lang = sub.lang;
  out.isActive = sub.isActive;
  out.status = subscriptionState(sub, opts.now);
  if (sub.expiresAt !== undefined) out.expiresAt = sub.expiresAt;
  if (sub.throttling !== undefined) out.throttling = sub.throttling;
  if (sub.timeInterval !== undefined) out.timeInterval = sub.timeInterval;
  const n = sub.notification;
  const notification: Record<string, unknown> = {};
  if (n.attributes) notification.attributes = n.attributes.map((a) => tm.compact(a));
  notification.format = n.format;
  notification.showChanges = n.showChanges;
  notification.sysAttrs = n.sysAttrs;
  const endpoint: Record<string, unknown> = { uri: n.endpoint.uri, accept: n.endpoint.accept };
  if (n.endpoint.timeout !== undefined) endpoint.timeout = n.endpoint.timeout;
  if (n.endpoint.cooldown !== undefined) endpoint.cooldown = n.endpoint.cooldown;
  if (n.endpoint.receiverInfo) endpoint.receiverInfo = n.endpoint.receiverInfo;
  if (n.endpoint.notifierInfo) endpoint.notifierInfo = n.endpoint.notifierInfo;
  notification.endpoint = endpoint;
  notification.status = sub.notificationStatus;
  notification.timesSent = sub.timesSent;
  notification.timesFailed = sub.timesFailed;
  if (sub.lastNotification) notification.lastNotification = sub.lastNotification;
  if (sub.lastSuccess) notification.lastSuccess = sub.lastSuccess;
  if (sub.lastFailure) notification.lastFailure = sub.lastFailure;
  out.notification = notification;
  if (typeof sub.jsonldContext === 'string') out.jsonldContext = sub.jsonldContext;
  if (opts.sysAttrs) {
    out.createdAt = sub.createdAt;
    out.modifiedAt = sub.modifiedAt;
  }
  if (opts.includeContext !== undefined) out['@context'] = opts.includeContext;
  return out;
}
