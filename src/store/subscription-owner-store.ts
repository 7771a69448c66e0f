import type { Queryable } from './db';

/**
 * Who created each subscription (subscription_owners, migration 20). Kept by the facade beside
 * whichever broker holds the subscriptions, so "a subscriber manages its own subscriptions only"
 * holds for the embedded engine and the Orion-LD backend alike.
 */

export async function recordSubscriptionOwner(db: Queryable, tenant: string, id: string, owner: string): Promise<void> {
  await db.query(
    `INSERT INTO subscription_owners (tenant, subscription_id, owner) VALUES ($1, $2, $3)
     ON CONFLICT (tenant, subscription_id) DO UPDATE SET owner = EXCLUDED.owner`,
    [tenant, id, owner],
  );
}

export async function subscriptionOwner(db: Queryable, tenant: string, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ owner: string }>(
    'SELECT owner FROM subscription_owners WHERE tenant = $1 AND subscription_id = $2',
    [tenant, id],
  );
  return rows[0]?.owner;
}

/** One page of the ids of an owner's subscriptions, by id; the total when asked. */
export async function ownedSubscriptionIds(
  db: Queryable,
  tenant: string,
  owner: string,
  page: { limit: number; offset: number; count: boolean },
): Promise<{ ids: string[]; count?: number }> {
  const { rows } = await db.query<{ subscription_id: string }>(
    `SELECT subscription_id FROM subscription_owners WHERE tenant = $1 AND owner = $2 ORDER BY subscription_id LIMIT $3 OFFSET $4`,
    [tenant, owner, page.limit, page.offset],
  );
  let count: number | undefined;
  if (page.count) {
    const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM subscription_owners WHERE tenant = $1 AND owner = $2', [tenant, owner]);
    count = Number(r.rows[0].n);
  }
  return { ids: rows.map((r) => r.subscription_id), count };
}

export async function forgetSubscriptionOwner(db: Queryable, tenant: string, id: string): Promise<void> {
  await db.query('DELETE FROM subscription_owners WHERE tenant = $1 AND subscription_id = $2', [tenant, id]);
}
