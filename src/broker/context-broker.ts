import type { Attributes, AttributeInstance, Entity } from '../ngsi-ld/types';
import type { ProblemDetails } from '../ngsi-ld/errors';
import type { QExpr } from '../ngsi-ld/query/q';
import type { GeoQuery } from '../ngsi-ld/query/geo';
import type { ScopeExpr } from '../ngsi-ld/query/scope';
import type { TypeExpr } from '../ngsi-ld/query/type-expr';
import type { Subscription } from '../notify/types';
import type { SubscriptionPatch } from '../notify/subscription-parse';

/** Outcome of an attribute-level write (spec UpdateResult). */
export interface UpdateResult {
  updated: string[];
  notUpdated: { attributeName: string; reason: string }[];
}

/** Spec BatchOperationResult, with entity ids. */
export interface BatchResult {
  success: string[];
  errors: { entityId: string; error: ProblemDetails }[];
  /** for upsert: the ids that were newly created (decides 201 vs 204) */
  created?: string[];
}

/** One entity selector; a query matches entities that satisfy any of its selectors. */
export interface EntitySelector {
  types?: TypeExpr;
  ids?: string[];
  idPattern?: string;
}

export interface EntityQuery {
  selectors: EntitySelector[];
  q?: QExpr;
  geo?: GeoQuery;
  scopeQ?: ScopeExpr;
  /** expanded attribute names: only entities with at least one of them */
  attrs?: string[];
  limit: number;
  offset: number;
  count: boolean;
  /** expands attribute names / vocab values inside q */
  expand: (term: string) => string;
}

export interface QueryResult {
  entities: Entity[];
  count?: number;
}

export interface TypeSummary {
  type: string;
  entityCount: number;
  attributes: { name: string; kinds: string[] }[];
}

export interface AttributeSummary {
  name: string;
  count: number;
  kinds: string[];
  types: string[];
}

export interface SubscriptionPage {
  limit: number;
  offset: number;
  count: boolean;
}

export interface SubscriptionList {
  subscriptions: Subscription[];
  count?: number;
}

/**
 * The one interface behind the NGSI-LD facade: the embedded engine implements it on the store,
 * the Orion-LD backend over HTTP. Everything is in the expanded internal form.
 */
export interface ContextBroker {
  tenantExists(tenant: string): Promise<boolean>;
  createEntity(tenant: string, entity: Entity): Promise<void>;
  getEntity(tenant: string, id: string): Promise<Entity>;
  replaceEntity(tenant: string, entity: Entity): Promise<void>;
  mergeEntity(tenant: string, id: string, patch: Attributes, members: { type?: string[]; scope?: string[] }): Promise<void>;
  deleteEntity(tenant: string, id: string): Promise<void>;
  appendAttributes(tenant: string, id: string, attrs: Attributes, opts: { noOverwrite: boolean }): Promise<UpdateResult>;
  updateAttributes(tenant: string, id: string, attrs: Attributes): Promise<UpdateResult>;
  partialUpdateAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void>;
  replaceAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void>;
  deleteAttribute(tenant: string, id: string, attr: string, opts: { datasetId?: string; deleteAll?: boolean }): Promise<void>;
  batchCreate(tenant: string, entities: Entity[]): Promise<BatchResult>;
  batchUpsert(tenant: string, entities: Entity[], mode: 'replace' | 'update'): Promise<BatchResult>;
  batchUpdate(tenant: string, entities: Entity[], opts: { noOverwrite: boolean }): Promise<BatchResult>;
  batchMerge(tenant: string, entities: Entity[]): Promise<BatchResult>;
  batchDelete(tenant: string, ids: string[]): Promise<BatchResult>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  listTypes(tenant: string): Promise<TypeSummary[]>;
  listAttributes(tenant: string): Promise<AttributeSummary[]>;
  /** 409 AlreadyExists when the id is taken in the tenant; creates the tenant */
  createSubscription(tenant: string, sub: Subscription): Promise<void>;
  /** 404 ResourceNotFound when unknown */
  getSubscription(tenant: string, id: string): Promise<Subscription>;
  /** ordered by id */
  listSubscriptions(tenant: string, page: SubscriptionPage): Promise<SubscriptionList>;
  /** applies a validated fragment (applySubscriptionPatch), returns the result; 404 when unknown */
  updateSubscription(tenant: string, id: string, patch: SubscriptionPatch): Promise<Subscription>;
  /** also drops its pending outbox rows; 404 when unknown */
  deleteSubscription(tenant: string, id: string): Promise<void>;
  close(): Promise<void>;
}
