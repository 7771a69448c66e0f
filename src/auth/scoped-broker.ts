import type {
  BatchResult, ContextBroker, EntityQuery, SubscriptionList, SubscriptionPage, UpdateResult,
} from '../broker/context-broker';
import type { Attributes, AttributeInstance, Entity } from '../ngsi-ld/types';
import type { Subscription } from '../notify/types';
import type { SubscriptionPatch } from '../notify/subscription-parse';
import { forbidden, notFound, NgsiError } from '../ngsi-ld/errors';
import type { Queryable } from '../store/db';
import {
  forgetSubscriptionOwner, ownedSubscriptionIds, recordSubscriptionOwner, subscriptionOwner,
} from '../store/subscription-owner-store';
import { ANY, entityWriteRefusal, isAdmin, type Principal } from './principal';
import { brokerUnreachable } from '../broker/orion-ld/client';

/**
 * The broker as one principal sees it (request.broker): the facade's enforcement point, in front
 * of whichever ContextBroker is configured, so it holds for both backends and both APIs
 * (/ngsi-ld/v1 and the contractor API, which writes through the same broker calls).
 *
 * - Entity writes of a contractor: the entity's id must have an allowed prefix, and its types
 *   (the new ones and, for an existing entity, the stored ones) must be allowed. Single-entity
 *   operations answer 403; batch operations answer per entity, as NGSI-LD batches do for any
 *   other per-entity failure (207 BatchOperationResult): forbidden entities are reported in
 *   `errors` with a 403 problem and the allowed ones are written.
 * - Subscriptions: every subscription records its creator; a non-admin sees, changes and deletes
 *   only its own (someone else's is 404, so ids of others cannot be probed).
 * Reads are not filtered here: who may read is decided per route (access.ts), and tenants are
 * checked for every request before any route runs.
 */
const STORED_TYPES_PAGE = 1000;

/** Stored types of the entities that exist, by id. */
export async function storedTypes(broker: Pick<ContextBroker, 'queryEntities'>, tenant: string, ids: string[]): Promise<Map<string, string[]>> {
  const types = new Map<string, string[]>();
  // in pages a broker accepts (NGSI-LD's query limit is 1000; a batch may be larger)
  for (let start = 0; start < ids.length; start += STORED_TYPES_PAGE) {
    const page = ids.slice(start, start + STORED_TYPES_PAGE);
    const query: EntityQuery = { selectors: [{ ids: page }], limit: page.length, offset: 0, count: false, expand: (t) => t };
    const found = await broker.queryEntities(tenant, query).catch((err: unknown) => {
      // a tenant nothing was written to yet (an external broker answers 404 NonexistentTenant)
      if (err instanceof NgsiError && err.status === 404) return { entities: [] };
      throw err;
    });
    for (const e of found.entities) types.set(e.id, e.type);
  }
  return types;
}

export class ScopedBroker implements ContextBroker {
  constructor(
    private readonly inner: ContextBroker,
    private readonly db: Queryable,
    private readonly principal: Principal,
    /**
     * Orion-LD outbox: called with the ids whose stored types the broker could not tell (it is
     * down) instead of failing; their writes are queued with the principal's scope, and the
     * delivery worker checks the stored types before it sends them (outbox-delivery.ts).
     */
    private readonly typesUnknown?: (ids: string[]) => void,
  ) {}

  private get restrictsEntities(): boolean {
    return !isAdmin(this.principal);
  }

  /** Stored types of the entities that exist, by id (only needed when types are restricted). */
  private async storedTypes(tenant: string, ids: string[]): Promise<Map<string, string[]>> {
    if (!ids.length || this.principal.types.includes(ANY)) return new Map();
    try {
      return await storedTypes(this.inner, tenant, ids);
    } catch (err) {
      if (!this.typesUnknown || !brokerUnreachable(err)) throw err;
      this.typesUnknown(ids);
      return new Map();
    }
  }

  /** Refusals by entity id; `incoming` are the types the write itself names. */
  private async refusals(tenant: string, writes: { id: string; incoming: string[] }[]): Promise<Map<string, string>> {
    const refused = new Map<string, string>();
    if (!this.restrictsEntities) return refused;
    const stored = await this.storedTypes(tenant, writes.map((w) => w.id));
    for (const w of writes) {
      const why = entityWriteRefusal(this.principal, w.id, [...w.incoming, ...(stored.get(w.id) ?? [])]);
      if (why) refused.set(w.id, why);
    }
    return refused;
  }

  /** Why this principal may not write each of these entities, by id (empty: it may write them all). */
  writeRefusals(tenant: string, entities: Entity[]): Promise<Map<string, string>> {
    return this.refusals(tenant, entities.map((e) => ({ id: e.id, incoming: e.type })));
  }

  private async assertWritable(tenant: string, id: string, incoming: string[] = []): Promise<void> {
    const why = (await this.refusals(tenant, [{ id, incoming }])).get(id);
    if (why) throw forbidden(why);
  }

  /** Runs a batch on the allowed entities; the refused ones become 403 entries in `errors`. */
  private async batch<T extends { id: string }>(
    tenant: string,
    items: T[],
    incoming: (item: T) => string[],
    run: (allowed: T[]) => Promise<BatchResult>,
  ): Promise<BatchResult> {
    const refused = await this.refusals(tenant, items.map((i) => ({ id: i.id, incoming: incoming(i) })));
    if (!refused.size) return run(items);
    const allowed = items.filter((i) => !refused.has(i.id));
    const result = allowed.length ? await run(allowed) : { success: [], errors: [], created: [] };
    const denied = [...refused].map(([entityId, why]) => ({ entityId, error: forbidden(why).toProblem() }));
    return { ...result, errors: [...denied, ...result.errors] };
  }

  tenantExists(tenant: string): Promise<boolean> {
    return this.inner.tenantExists(tenant);
  }

  async createEntity(tenant: string, entity: Entity): Promise<void> {
    await this.assertWritable(tenant, entity.id, entity.type);
    return this.inner.createEntity(tenant, entity);
  }

  getEntity(tenant: string, id: string): Promise<Entity> {
    return this.inner.getEntity(tenant, id);
  }

  async replaceEntity(tenant: string, entity: Entity): Promise<void> {
    await this.assertWritable(tenant, entity.id, entity.type);
    return this.inner.replaceEntity(tenant, entity);
  }

  async mergeEntity(tenant: string, id: string, patch: Attributes, members: { type?: string[]; scope?: string[] }): Promise<void> {
    await this.assertWritable(tenant, id, members.type);
    return this.inner.mergeEntity(tenant, id, patch, members);
  }

  async deleteEntity(tenant: string, id: string): Promise<void> {
    await this.assertWritable(tenant, id);
    return this.inner.deleteEntity(tenant, id);
  }

  async appendAttributes(tenant: string, id: string, attrs: Attributes, opts: { noOverwrite: boolean }): Promise<UpdateResult> {
    await this.assertWritable(tenant, id);
    return this.inner.appendAttributes(tenant, id, attrs, opts);
  }

  async updateAttributes(tenant: string, id: string, attrs: Attributes): Promise<UpdateResult> {
    await this.assertWritable(tenant, id);
    return this.inner.updateAttributes(tenant, id, attrs);
  }

  async partialUpdateAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.assertWritable(tenant, id);
    return this.inner.partialUpdateAttribute(tenant, id, attr, instances);
  }

  async replaceAttribute(tenant: string, id: string, attr: string, instances: AttributeInstance[]): Promise<void> {
    await this.assertWritable(tenant, id);
    return this.inner.replaceAttribute(tenant, id, attr, instances);
  }

  async deleteAttribute(tenant: string, id: string, attr: string, opts: { datasetId?: string; deleteAll?: boolean }): Promise<void> {
    await this.assertWritable(tenant, id);
    return this.inner.deleteAttribute(tenant, id, attr, opts);
  }

  batchCreate(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.batch(tenant, entities, (e) => e.type, (allowed) => this.inner.batchCreate(tenant, allowed));
  }

  batchUpsert(tenant: string, entities: Entity[], mode: 'replace' | 'update'): Promise<BatchResult> {
    return this.batch(tenant, entities, (e) => e.type, (allowed) => this.inner.batchUpsert(tenant, allowed, mode));
  }

  batchUpdate(tenant: string, entities: Entity[], opts: { noOverwrite: boolean }): Promise<BatchResult> {
    return this.batch(tenant, entities, (e) => e.type ?? [], (allowed) => this.inner.batchUpdate(tenant, allowed, opts));
  }

  batchMerge(tenant: string, entities: Entity[]): Promise<BatchResult> {
    return this.batch(tenant, entities, (e) => e.type ?? [], (allowed) => this.inner.batchMerge(tenant, allowed));
  }

  batchDelete(tenant: string, ids: string[]): Promise<BatchResult> {
    return this.batch(tenant, ids.map((id) => ({ id })), () => [], (allowed) => this.inner.batchDelete(tenant, allowed.map((a) => a.id)));
  }

  queryEntities(tenant: string, query: EntityQuery) {
    return this.inner.queryEntities(tenant, query);
  }

  listTypes(tenant: string) {
    return this.inner.listTypes(tenant);
  }

  listAttributes(tenant: string) {
    return this.inner.listAttributes(tenant);
  }

  async createSubscription(tenant: string, sub: Subscription): Promise<void> {
    await this.inner.createSubscription(tenant, sub);
    await recordSubscriptionOwner(this.db, tenant, sub.id, this.principal.name);
  }

  /** A non-admin may only touch its own subscriptions; anyone else's does not exist for it. */
  private async assertOwn(tenant: string, id: string): Promise<void> {
    if (isAdmin(this.principal)) return;
    if ((await subscriptionOwner(this.db, tenant, id)) !== this.principal.name) throw notFound(`subscription ${id} not found`);
  }

  async getSubscription(tenant: string, id: string): Promise<Subscription> {
    await this.assertOwn(tenant, id);
    return this.inner.getSubscription(tenant, id);
  }

  async listSubscriptions(tenant: string, page: SubscriptionPage): Promise<SubscriptionList> {
    if (isAdmin(this.principal)) return this.inner.listSubscriptions(tenant, page);
    const owned = await ownedSubscriptionIds(this.db, tenant, this.principal.name, page);
    const subscriptions: Subscription[] = [];
    for (const id of owned.ids) {
      // an owner row may outlive its subscription (expired and removed by the broker)
      const sub = await this.inner.getSubscription(tenant, id).catch((err: unknown) => {
        if (err instanceof NgsiError && err.status === 404) return undefined;
        throw err;
      });
      if (sub) subscriptions.push(sub);
    }
    return { subscriptions, count: owned.count };
  }

  async updateSubscription(tenant: string, id: string, patch: SubscriptionPatch): Promise<Subscription> {
    await this.assertOwn(tenant, id);
    return this.inner.updateSubscription(tenant, id, patch);
  }

  async deleteSubscription(tenant: string, id: string): Promise<void> {
    await this.assertOwn(tenant, id);
    await this.inner.deleteSubscription(tenant, id);
    await forgetSubscriptionOwner(this.db, tenant, id);
  }

  /** The shared broker's lifetime is the app's, not a request's. */
  async close(): Promise<void> {}
}
