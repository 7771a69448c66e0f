/**
 * The ContextBroker over HTTP: an external NGSI-LD broker (FIWARE Orion-LD, or another instance of
 * this service) holds the entities and subscriptions and sends the notifications.
 *
 * Entities go out with fully expanded names and types and no @context, i.e. the core context: an
 * expanded IRI survives compaction against core unchanged, so the broker stores exactly our names
 * whatever context the client used. Answers come back in the same form and are read with the same
 * parser as requests (ngsi-ld/entity/parse), system timestamps copied over. Queries are sent as
 * POST /entityOperations/query (query-text.ts). Errors and 207 results are passed through as the
 * broker gave them (client.ts).
 */
import type { Config } from '../../config';
import type { ContextResolver } from '../../ngsi-ld/context/resolver';
import type { TermMap } from '../../ngsi-ld/context/types';
import { parseEntity } from '../../ngsi-ld/entity/parse';
import { renderEntity } from '../../ngsi-ld/entity/render';
import { NGSI_LD_NULL, type Attributes, type AttributeInstance, type Entity } from '../../ngsi-ld/types';
import { parseSubscription, applySubscriptionPatch, type SubscriptionPatch } from '../../notify/subscription-parse';
import { renderSubscription } from '../../notify/subscription-render';
import type { Subscription } from '../../notify/types';
import type {
  AttributeSummary, BatchResult, ContextBroker, EntityQuery, QueryResult, SubscriptionList, SubscriptionPage,
  TypeSummary, UpdateResult,
} from '../context-broker';
import { BrokerProblem, NgsiLdClient, type BatchResponse, type BrokerRequest, type QueryParams } from './client';
import type { NgsiError } from '../../ngsi-ld/errors';
import { buildQueryRequest } from './query-text';
import { isRecord } from '../../ngsi-ld/json';

type Json = Record<string, unknown>;

const entityPath = (id: string) => `/entities/${encodeURIComponent(id)}`;
const attrPath = (id: string, attr: string) => `${entityPath(id)}/attrs/${encodeURIComponent(attr)}`;
const subscriptionPath = (id: string) => `/subscriptions/${encodeURIComponent(id)}`;

/** Read-only members of a rendered subscription: the broker keeps its own. */
const SUBSCRIPTION_READ_ONLY = ['status', 'createdAt', 'modifiedAt', 'jsonldContext'];
const NOTIFICATION_READ_ONLY = ['status', 'timesSent', 'timesFailed', 'lastNotification', 'lastSuccess', 'lastFailure'];

export class OrionLdBroker implements ContextBroker {
  constructor(
    private readonly client: NgsiLdClient,
    private readonly contexts: ContextResolver,
  ) {}

  /** Tenants are the broker's business: it answers NonexistentTenant itself, faithfully. */
  async tenantExists(): Promise<boolean> {
    return true;
  }

  private core(): Promise<TermMap> {
    return this.contexts.resolve(undefined);
  }

  /** An entity (or fragment) as the broker gets it: normalized, names expanded, no @context. */
  private async out(e: Entity): Promise<Json> {
    const body = renderEntity(e, await this.core(), { format: 'normalized' });
    // batch update/merge items may leave the type out
    if (e.type.length === 0) delete body.type;
    return body;
  }

  private async outAttrs(attrs: Attributes): Promise<Json> {
    const { id: _id, type: _type, ...rest } = await this.out({ id: 'urn:x', type: [], attrs });
    return rest;
  }

  /** An entity the broker answered (normalized, sysAttrs) → internal form with its timestamps. */
  private static in(raw: unknown, tm: TermMap): Entity {
    const e = parseEntity(raw, tm, { requireType: false });
    const body = raw as Json;
    if (typeof body.createdAt === 'string') e.createdAt = body.createdAt;
    if (typeof body.modifiedAt === 'string') e.modifiedAt = body.modifiedAt;
    for (const [key, value] of Object.entries(body)) {
      const instances = e.attrs[tm.expand(key)];
      if (!instances) continue;
      const list = Array.isArray(value) && value.some(isRecord) ? value : [value];
      list.forEach((v, i) => {
        if (!isRecord(v) || !instances[i]) return;
        if (typeof v.createdAt === 'string') instances[i].createdAt = v.createdAt;
        if (typeof v.modifiedAt === 'string') instances[i].modifiedAt = v.modifiedAt;
      });
    }
    return e;
  }

  private request<T>(req: BrokerRequest) {
    return this.client.request<T>(req);
  }

  // --- entities --------------------------------------------------------------------------------

  async createEntity(tenant: string, entity: Entity): Promise<void> {
    await this.request({ method: 'POST', path: '/entities', tenant, body: await this.out(entity), idempotent: false });
  }

  async getEntity(tenant: string, id: string): Promise<Entity> {
    const res = await this.request({ method: 'GET', path: entityPath(id), tenant, query: { options: 'sysAttrs' }, idempotent: true });
    return OrionLdBroker.in(res.body, await this.core());
  }

  async replaceEntity(tenant: string, entity: Entity): Promise<void> {
    await this.request({ method: 'PUT', path: entityPath(entity.id), tenant, body: await this.out(entity), idempotent: true });
  }

  async mergeEntity(tenant: string, id: string, patch: Attributes, members: { type?: string[]; scope?: string[] }): Promise<void> {
    const body: Json = { ...(await this.outAttrs(patch)) };
    if (members.type) body.type = (await this.out({ id, type: members.type, attrs: {} })).type;
    // an empty scope list is how the parser says "remove the scope" (NGSI-LD Null)
    if (members.scope) body.scope = members.scope.length ? members.scope : NGSI_LD_NULL;
    await this.request({ method: 'PATCH', path: entityPath(id), tenant, body, idempotent: true });
  }

  async deleteEntity(tenant: string, id: string): Promise<void> {
    await this.request({ method: 'DELETE', path: entityPath(id), tenant, idempotent: true });
  }

  private async updateResult(res: { status: number; body: unknown }, attrs: Attributes): Promise<UpdateResult> {
    if (res.status !== 207 || !isRecord(res.body)) return { updated: Object.keys(attrs), notUpdated: [] };
    const tm = await this.core();
    const r = res.body as { updated?: unknown[]; notUpdated?: { attributeName?: unknown; reason?: unknown }[] };
    return {
      updated: (r.updated ?? []).filter((a): a is string => typeof a === 'string').map((a) => tm.expand(a)),
      notUpdated: (r.notUpdated ?? []).map((n) => ({ attributeName: tm.expand(String(n.attributeName)), reason: String(n.reason ?? '') })),
    };
  }

  async appendAttributes(tenant: string, id: string, attrs: Attributes, opts: { noOverwrite: boolean }): Promise<UpdateResult> {
    const res = await this.request({
      method: 'POST', path: `${entityPath(id)}/attrs`, tenant, body: await this.outAttrs(attrs),
      query: { options: opts.noOverwrite ? 'noOverwrite' : undefined }, idempotent: true,
    });
    return this.updateResult(res, attrs);
  }

  async updateAttributes(tenant: string, id: string, attrs: Attributes): Promise<UpdateResult> {
    const res = await this.request({ method: 'PATCH', path: `${entityPath(id)}/attrs`, tenant, body: await this.outAttrs(attrs), idempotent: true });
    return this.updateResult(res, attrs);
  }

  /** One attribute's body: its single instance as an object, several as an array. */
  private async attributeBody(attr: string, instances: AttributeInstance[]): Promise<unknown> {
    const rendered = await this.outAttrs({ [attr]: instances });
    return Object.values(rendered)[0];
  }

  async partialUpdateAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.request({ method: 'PATCH', path: attrPath(id, attr), tenant, body: await this.attributeBody(attr, instances), idempotent: true });
  }

  async replaceAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.request({ method: 'PUT', path: attrPath(id, attr), tenant, body: await this.attributeBody(attr, instances), idempotent: true });
  }

  async deleteAttribute(tenant: string, id: string, attr: string, opts: { datasetId?: string; deleteAll?: boolean }): Promise<void> {
    await this.request({
      method: 'DELETE', path: attrPath(id, attr), tenant, idempotent: true,
      query: { datasetId: opts.datasetId, deleteAll: opts.deleteAll ? true : undefined },
    });
  }

  // --- batch -----------------------------------------------------------------------------------

  private async batch(op: 'create' | 'upsert' | 'update' | 'merge', tenant: string, entities: Entity[], query: QueryParams = {}): Promise<BatchResult> {
    const bodies = await Promise.all(entities.map((e) => this.out(e)));
    const r = await this.client.batch(op, tenant, bodies, entities.map((e) => e.id), query);
    return toBatchResult(r, op === 'upsert');
  }

  batchCreate(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.batch('create', tenant, entities);
  }

  batchUpsert(tenant: string, entities: Entity[], mode: 'replace' | 'update'): Promise<BatchResult> {
    return this.batch('upsert', tenant, entities, { options: mode });
  }

  batchUpdate(tenant: string, entities: Entity[], opts: { noOverwrite: boolean }): Promise<BatchResult> {
    return this.batch('update', tenant, entities, opts.noOverwrite ? { options: 'noOverwrite' } : {});
  }

  batchMerge(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.batch('merge', tenant, entities);
  }

  async batchDelete(tenant: string, ids: string[]): Promise<BatchResult> {
    return toBatchResult(await this.client.batch('delete', tenant, ids, ids), false);
  }

  // --- query and discovery ---------------------------------------------------------------------

  async queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult> {
    const { body, context, unfiltered } = buildQueryRequest(query);
    const tm = await this.contexts.resolve(context);
    const req: BrokerRequest = {
      method: 'POST', path: '/entityOperations/query', tenant, body, ldJson: context !== undefined,
      query: { options: 'sysAttrs', local: unfiltered ? true : undefined }, idempotent: true,
    };
    const { items, count } = await this.client.paged<unknown>(req, query.limit, query.offset);
    return { entities: items.map((raw) => OrionLdBroker.in(raw, tm)), ...(query.count ? { count: count ?? items.length } : {}) };
  }

  async listTypes(tenant: string): Promise<TypeSummary[]> {
    const tm = await this.core();
    const res = await this.request<unknown[]>({ method: 'GET', path: '/types', tenant, query: { details: true }, idempotent: true });
    const names = (Array.isArray(res.body) ? res.body : []).map((t) => tm.expand(String((t as Json).typeName ?? (t as Json).id)));
    // entity counts and attribute kinds are in the per-type answer (EntityTypeInfo)
    return Promise.all(names.map(async (type) => {
      const info = await this.request<Json>({ method: 'GET', path: `/types/${encodeURIComponent(type)}`, tenant, idempotent: true });
      const details = Array.isArray(info.body?.attributeDetails) ? (info.body!.attributeDetails as Json[]) : [];
      return {
        type,
        entityCount: Number(info.body?.entityCount ?? 0),
        attributes: details
          .map((a) => ({ name: tm.expand(String(a.attributeName ?? a.id)), kinds: stringList(a.attributeTypes) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      };
    }));
  }

  async listAttributes(tenant: string): Promise<AttributeSummary[]> {
    const tm = await this.core();
    const res = await this.request<unknown[]>({ method: 'GET', path: '/attributes', tenant, query: { details: true }, idempotent: true });
    return (Array.isArray(res.body) ? (res.body as Json[]) : []).map((a) => ({
      name: tm.expand(String(a.attributeName ?? a.id)),
      count: Number(a.attributeCount ?? 0),
      kinds: stringList(a.attributeTypes),
      types: stringList(a.typeNames).map((t) => tm.expand(t)),
    }));
  }

  // --- subscriptions: the broker stores them and sends the notifications --------------------------

  /** The subscription as its creator wrote it: names compacted with its own context, sent as Link. */
  private async subscriptionBody(sub: Subscription): Promise<{ body: Json; context: string }> {
    const context = typeof sub.jsonldContext === 'string' ? sub.jsonldContext : (await this.core()).context as string;
    const tm = await this.contexts.resolve(sub.jsonldContext as string);
    const body = renderSubscription(sub, tm);
    for (const k of SUBSCRIPTION_READ_ONLY) delete body[k];
    const notification = body.notification as Json;
    for (const k of NOTIFICATION_READ_ONLY) delete notification[k];
    return { body, context };
  }

  async createSubscription(tenant: string, sub: Subscription): Promise<void> {
    const { body, context } = await this.subscriptionBody(sub);
    await this.request({ method: 'POST', path: '/subscriptions', tenant, body, context, idempotent: false });
  }

  /** A subscription the broker answered (core context, sysAttrs) → internal form with its status. */
  private async subscriptionIn(tenant: string, raw: unknown): Promise<Subscription> {
    const tm = await this.core();
    const body = { ...(raw as Json) };
    const n = isRecord(body.notification) ? body.notification : {};
    // validity was checked when it was created; an expiry that has passed since is still the subscription's
    const { expiresAt, createdAt, modifiedAt } = body;
    delete body.expiresAt;
    const now = new Date().toISOString();
    const sub = parseSubscription(body, tm, {
      tenant, now, requestContext: (tm.context as string), policy: { allowPrivate: true },
    });
    if (typeof expiresAt === 'string') sub.expiresAt = expiresAt;
    if (typeof createdAt === 'string') sub.createdAt = createdAt;
    if (typeof modifiedAt === 'string') sub.modifiedAt = modifiedAt;
    sub.timesSent = Number(n.timesSent ?? 0);
    sub.timesFailed = Number(n.timesFailed ?? 0);
    sub.notificationStatus = n.status === 'failed' ? 'failed' : 'ok';
    for (const k of ['lastNotification', 'lastSuccess', 'lastFailure'] as const) if (typeof n[k] === 'string') sub[k] = n[k] as string;
    return sub;
  }

  async getSubscription(tenant: string, id: string): Promise<Subscription> {
    const res = await this.request({ method: 'GET', path: subscriptionPath(id), tenant, query: { options: 'sysAttrs' }, idempotent: true });
    return this.subscriptionIn(tenant, res.body);
  }

  async listSubscriptions(tenant: string, page: SubscriptionPage): Promise<SubscriptionList> {
    const req: BrokerRequest = { method: 'GET', path: '/subscriptions', tenant, query: { options: 'sysAttrs' }, idempotent: true };
    const { items, count } = await this.client.paged<unknown>(req, page.limit, page.offset);
    const subscriptions = await Promise.all(items.map((raw) => this.subscriptionIn(tenant, raw)));
    return { subscriptions, ...(page.count ? { count: count ?? subscriptions.length } : {}) };
  }

  /**
   * PATCH with the members the fragment names (removed ones as null), rendered from the patched
   * subscription so that they are in its own context; validated here first, as the embedded engine does.
   */
  async updateSubscription(tenant: string, id: string, patch: SubscriptionPatch): Promise<Subscription> {
    const after = applySubscriptionPatch(await this.getSubscription(tenant, id), patch, new Date().toISOString());
    const { body: rendered, context } = await this.subscriptionBody(after);
    const body: Json = {};
    for (const key of Object.keys(patch)) {
      if (key === 'qTerms' || key === 'tenant' || key === 'jsonldContext') continue;
      if (key === 'notificationPatch') {
        const members = patch.notificationPatch ?? {};
        const n = rendered.notification as Json;
        body.notification = Object.fromEntries(Object.keys(members).map((k) => [k, n[k] ?? null]));
      } else {
        body[key] = rendered[key] ?? null;
      }
    }
    await this.request({ method: 'PATCH', path: subscriptionPath(id), tenant, body, context, idempotent: true });
    return after;
  }

  async deleteSubscription(tenant: string, id: string): Promise<void> {
    await this.request({ method: 'DELETE', path: subscriptionPath(id), tenant, idempotent: true });
  }

  /** Whether the broker answers at all (any HTTP answer below 500), for /health: one try, short timeout. */
  async ping(timeoutMs = 2000): Promise<{ reachable: boolean; detail?: string }> {
    try {
      await this.request({ method: 'GET', path: '/types', tenant: '', idempotent: false, timeoutMs });
      return { reachable: true };
    } catch (err) {
      const status = (err as NgsiError).status;
      if (err instanceof BrokerProblem && status < 500) return { reachable: true };
      return { reachable: false, detail: (err as Error).message };
    }
  }

  /** Nothing to close: the store belongs to the app, the HTTP connections to Node's global pool. */
  async close(): Promise<void> {}
}

function toBatchResult(r: BatchResponse, upsert: boolean): BatchResult {
  return { success: r.success, errors: r.errors, ...(upsert ? { created: r.created } : {}) };
}

const stringList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((s): s is string => typeof s === 'string');

/** The client of the broker BROKER_URL names, with the settings of the configuration. */
export function orionLdClient(config: Config): NgsiLdClient {
  return new NgsiLdClient({ baseUrl: config.brokerUrl!, token: config.brokerToken, headers: config.brokerHeaders, timeoutMs: config.brokerTimeoutMs });
}
