/**
 * Subscriptions and notifications (spec 5.8, 5.11), in the internal form the engine stores.
 * Attribute names and entity types are expanded IRIs; q, geoQ and scopeQ are kept as the client
 * wrote them and re-parsed with the subscription's @context (jsonldContext) when evaluated.
 */

export type NotificationTrigger =
  | 'entityCreated'
  | 'entityUpdated'
  | 'entityDeleted'
  | 'attributeCreated'
  | 'attributeUpdated'
  | 'attributeDeleted';

export type NotificationFormat = 'normalized' | 'keyValues' | 'concise';

export interface KeyValuePair {
  key: string;
  value: string;
}

export interface Endpoint {
  /** http(s):// or mqtt(s):// */
  uri: string;
  accept: 'application/json' | 'application/ld+json' | 'application/geo+json';
  receiverInfo?: KeyValuePair[];
  notifierInfo?: KeyValuePair[];
  /** ms before a notification counts as failed (the service may cap it) */
  timeout?: number;
  /** ms after a failure before the next notification to this endpoint is attempted */
  cooldown?: number;
}

export interface NotificationParams {
  /** expanded attribute names to include; all when absent */
  attributes?: string[];
  format: NotificationFormat;
  showChanges: boolean;
  sysAttrs: boolean;
  endpoint: Endpoint;
}

export interface SubscriptionStatus {
  /** active | paused | expired — derived from isActive/expiresAt when read */
  timesSent: number;
  timesFailed: number;
  lastNotification?: string;
  lastSuccess?: string;
  lastFailure?: string;
  /** ok | failed (notification.status) */
  notificationStatus: 'ok' | 'failed';
}

export interface Subscription extends SubscriptionStatus {
  id: string;
  tenant: string;
  subscriptionName?: string;
  description?: string;
  /**
   * entity selectors; `type` is a type selection (spec 4.17: `A`, `A,B`, `A;B`, parentheses) whose
   * names are expanded IRIs (parse it with parseTypeExpr and an identity expansion)
   */
  entities?: { id?: string; idPattern?: string; type: string }[];
  /** expanded attribute names */
  watchedAttributes?: string[];
  notificationTrigger: NotificationTrigger[];
  q?: string;
  /**
   * term → IRI for every name inside q, fixed when the subscription was created or its q last
   * changed (with that request's @context): q is evaluated with these, never re-resolved
   */
  qTerms?: Record<string, string>;
  /** geometry (GeoJSON type name), coordinates (parsed array), georel as given, geoproperty expanded (always set) */
  geoQ?: { geometry: string; coordinates: unknown; georel: string; geoproperty?: string };
  scopeQ?: string;
  lang?: string;
  isActive: boolean;
  expiresAt?: string;
  /** seconds between notifications at most (on-change subscriptions) */
  throttling?: number;
  /** seconds between periodic notifications (periodic subscriptions) */
  timeInterval?: number;
  notification: NotificationParams;
  /** the @context (URL or inline) notifications are compacted with: the one the subscription was created with */
  jsonldContext: string | unknown[] | Record<string, unknown>;
  createdAt: string;
  modifiedAt: string;
}
