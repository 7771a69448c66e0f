import type { Db } from './db';

/**
 * Schema migrations, applied in order once each. The same SQL runs on PostgreSQL and on PGlite.
 * Each entity is one row: expanded attributes as jsonb (GIN, jsonb_path_ops, serves q via @? and @>),
 * the `location` GeoProperty as a PostGIS geometry (GiST; near-queries narrow with a lon/lat box first).
 */
const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tenants (
        name text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE entities (
        tenant text NOT NULL,
        id text NOT NULL,
        types text[] NOT NULL,
        scopes text[],
        created_at timestamptz NOT NULL,
        modified_at timestamptz NOT NULL,
        attrs jsonb NOT NULL,
        location geometry(Geometry, 4326),
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX entities_types ON entities USING gin (types);
      CREATE INDEX entities_attrs ON entities USING gin (attrs jsonb_path_ops);
      CREATE INDEX entities_location ON entities USING gist (location);
      CREATE INDEX entities_location_geog ON entities USING gist ((location::geography));
      CREATE TABLE jsonld_contexts (
        id text PRIMARY KEY,
        url text NOT NULL UNIQUE,
        kind text NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_usage timestamptz,
        hits bigint NOT NULL DEFAULT 0
      );
    `,
  },
  {
    // near-queries use the geometry GiST index with a lon/lat box (geo.ts nearBox): one GiST
    // index less to maintain on every write (measured: raw load of 100k rows 6.2 s -> 4.6 s)
    // toast_tuple_target: an entity row (~2 kB) is stored uncompressed instead of pglz-compressed
    // (compression on every write, decompression on every read and every jsonpath filter;
    // measured on raw inserts: 20-35 % faster; the table is ~3x larger: 87 -> 261 MB per 100k)
    version: 2,
    sql: `
      DROP INDEX IF EXISTS entities_location_geog;
      ALTER TABLE entities SET (toast_tuple_target = 8160)
    `,
  },
  {
    // contractor API (/api/v1) Idempotency-Key records: one per (tenant, key); status/response are
    // NULL while the first request is being processed; expired after 24 h (src/ingest/idempotency.ts)
    version: 3,
    sql: `
      CREATE TABLE idempotency_keys (
        tenant text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status int,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, key)
      );
      CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)
    `,
  },
  {
    // contractor API device provisioning (/api/v1/devices): one registration per (tenant, device
    // local id), the validated body as jsonb (src/store/device-registry.ts)
    version: 4,
    sql: `
      CREATE TABLE device_registrations (
        tenant text NOT NULL,
        device_id text NOT NULL,
        registration jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, device_id)
      )
    `,
  },
  {
    // subscriptions (src/store/subscription-store.ts): the validated internal Subscription as jsonb
    // (doc) plus the columns the matcher and the delivery worker filter and update: is_active,
    // expires_at, periodic/next_run_at and the status counters. The partial index serves the one
    // query every entity write makes (active on-change subscriptions of a tenant).
    // notification_outbox: one row per (subscription, entity change), inserted by the matcher in
    // the transaction of the entity write (src/notify/matcher.ts); the delivery worker consumes it.
    version: 5,
    sql: `
      CREATE TABLE subscriptions (
        tenant text NOT NULL,
        id text NOT NULL,
        doc jsonb NOT NULL,
        is_active boolean NOT NULL DEFAULT true,
        expires_at timestamptz,
        periodic boolean NOT NULL DEFAULT false,
        next_run_at timestamptz,
        times_sent int NOT NULL DEFAULT 0,
        times_failed int NOT NULL DEFAULT 0,
        last_notification timestamptz,
        last_success timestamptz,
        last_failure timestamptz,
        notification_status text NOT NULL DEFAULT 'ok',
        created_at timestamptz NOT NULL,
        modified_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX subscriptions_on_change ON subscriptions (tenant) WHERE is_active AND NOT periodic;
      CREATE INDEX subscriptions_periodic_due ON subscriptions (next_run_at) WHERE periodic AND is_active;
      CREATE TABLE notification_outbox (
        seq bigserial PRIMARY KEY,
        tenant text NOT NULL,
        subscription_id text NOT NULL,
        trigger text NOT NULL,
        entity_id text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text
      );
      CREATE INDEX notification_outbox_subscription ON notification_outbox (tenant, subscription_id, seq);
      CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at)
    `,
  },
  {
    // delivery worker (src/notify/worker.ts): a claim on a subscription is a lease (delivery_owner,
    // delivery_until) taken with FOR UPDATE SKIP LOCKED, so replicas share the work and one
    // subscription's rows go out in order; a statement trigger wakes LISTENing workers (payload:
    // the schema). The function body stays on one line: statements are split at ';' + newline.
    version: 6,
    sql: `
      ALTER TABLE subscriptions ADD COLUMN delivery_owner text;
      ALTER TABLE subscriptions ADD COLUMN delivery_until timestamptz;
      CREATE FUNCTION notification_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('smartland_outbox', TG_TABLE_SCHEMA); RETURN NULL; END $$;
      CREATE TRIGGER notification_outbox_notify AFTER INSERT ON notification_outbox FOR EACH STATEMENT EXECUTE FUNCTION notification_outbox_notify()
    `,
  },
  {
    // security (issue 6): API keys stored as SHA-256 hashes (the key itself is shown once); the
    // owner of each subscription, kept by the facade beside the broker (so it holds for the
    // Orion-LD backend too, whose subscriptions are not in this store); the audit trail of writes
    // (MIM5), pruned after AUDIT_RETENTION_DAYS. No personal data beyond the principal's name (MIM4).
    version: 20,
    sql: `
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        roles text[] NOT NULL,
        tenants text[] NOT NULL,
        projects text[] NOT NULL DEFAULT '{}',
        entity_types text[] NOT NULL DEFAULT '{}',
        id_prefixes text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        revoked_at timestamptz
      );
      CREATE TABLE subscription_owners (
        tenant text NOT NULL,
        subscription_id text NOT NULL,
        owner text NOT NULL,
        PRIMARY KEY (tenant, subscription_id)
      );
      CREATE INDEX subscription_owners_owner ON subscription_owners (tenant, owner, subscription_id);
      CREATE TABLE audit_log (
        seq bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        principal text NOT NULL,
        method text NOT NULL,
        route text NOT NULL,
        tenant text NOT NULL,
        entity_ids text[] NOT NULL DEFAULT '{}',
        attributes text[] NOT NULL DEFAULT '{}',
        source_ip text,
        status int NOT NULL
      );
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE INDEX audit_log_principal ON audit_log (principal, at);
      CREATE INDEX audit_log_entities ON audit_log USING gin (entity_ids)
    `,
  },
  {
    // Orion-LD mode (issue 5): contractor writes wait here until the external broker has them.
    // One row per item; status pending → delivered, or failed (the dead-letter list, with the
    // broker's problem). Leases (lease_owner/lease_until) let replicas share delivery.
    version: 30,
    sql: `
      CREATE TABLE ingestions (
        id text PRIMARY KEY,
        tenant text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ingestion_outbox (
        seq bigserial PRIMARY KEY,
        ingestion_id text NOT NULL REFERENCES ingestions (id) ON DELETE CASCADE,
        position int NOT NULL,
        tenant text NOT NULL,
        entity_id text NOT NULL,
        mode text NOT NULL,
        entity jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        available_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_until timestamptz,
        last_error jsonb,
        finished_at timestamptz
      );
      CREATE INDEX ingestion_outbox_pending ON ingestion_outbox (tenant, entity_id, seq) WHERE status = 'pending';
      CREATE INDEX ingestion_outbox_queue ON ingestion_outbox (seq) WHERE status = 'pending';
      CREATE INDEX ingestion_outbox_items ON ingestion_outbox (ingestion_id, position);
      CREATE INDEX ingestion_outbox_dead ON ingestion_outbox (tenant, seq) WHERE status = 'failed';
      CREATE INDEX ingestion_outbox_done ON ingestion_outbox (finished_at) WHERE status = 'delivered'
    `,
  },
  {
    // temporal history (src/temporal/history-store.ts): one row per attribute instance ever written,
    // inserted in the transaction of the write. ts = observedAt, else the write time: the btree
    // (tenant, entity_id, attr, ts) serves per-entity/attribute time ranges and lastN; value_num
    // feeds aggregations without parsing jsonb; the BRIN on ts (rows arrive roughly in time order)
    // serves retention pruning for almost no write cost. datasetId and createdAt stay in the
    // instance (columns for them cost ~20 % more per write, measured). temporal_entities keeps id
    // and types of every entity with history, also after the entity itself was deleted. Existing
    // entities' current instances become their first history.
    version: 40,
    sql: `
      CREATE TABLE temporal_entities (
        tenant text NOT NULL,
        id text NOT NULL,
        types text[] NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant, id)
      );
      CREATE TABLE attribute_instances (
        seq bigserial NOT NULL,
        tenant text NOT NULL,
        entity_id text NOT NULL,
        attr text NOT NULL,
        ts timestamptz NOT NULL,
        modified_at timestamptz NOT NULL,
        value_num double precision,
        instance jsonb NOT NULL
      );
      CREATE INDEX attribute_instances_entity_attr_ts ON attribute_instances (tenant, entity_id, attr, ts);
      CREATE INDEX attribute_instances_ts_brin ON attribute_instances USING brin (ts);
      INSERT INTO temporal_entities (tenant, id, types, created_at) SELECT tenant, id, types, created_at FROM entities;
      INSERT INTO attribute_instances (tenant, entity_id, attr, ts, modified_at, value_num, instance)
        SELECT e.tenant, e.id, k.key, COALESCE((i->>'observedAt')::timestamptz, e.modified_at),
               COALESCE((i->>'modifiedAt')::timestamptz, e.modified_at),
               CASE WHEN jsonb_typeof(i->'value') = 'number' THEN (i->>'value')::float8 END, i
          FROM entities e, jsonb_each(e.attrs) k, jsonb_array_elements(k.value) i
    `,
  },
  {
    // attribute_instances partitioned by RANGE of ts, one partition per UTC month (the same on
    // PostgreSQL 15 and PGlite): a time-range query reads only the months it covers, and retention
    // drops whole months (src/temporal/partitions.ts). A row of a month without a partition lands in
    // the DEFAULT partition, so no insert ever fails; attribute_instances_add_partition(t) creates
    // t's month and moves its rows out of DEFAULT, the whole table locked meanwhile (else a query
    // or insert planned before the new partition existed could miss the moved rows or route a row
    // into DEFAULT that no longer belongs there). The history job calls it ahead of time (the lock
    // is then over at once); here it is called for the months of the existing rows of the last 36
    // months before they are copied over (older ones stay in DEFAULT). The columns
    // are migration 40's and the sequence behind seq is kept, so instanceIds stay valid.
    // temporal_entities.scopes: the last known scopes of an entity (kept after it is deleted) for
    // scopeQ on the history.
    version: 50,
    sql: `
      ALTER TABLE attribute_instances RENAME TO attribute_instances_v40;
      DROP INDEX attribute_instances_entity_attr_ts;
      DROP INDEX attribute_instances_ts_brin;
      CREATE TABLE attribute_instances (LIKE attribute_instances_v40 INCLUDING DEFAULTS) PARTITION BY RANGE (ts);
      ALTER SEQUENCE attribute_instances_seq_seq OWNED BY attribute_instances.seq;
      CREATE TABLE attribute_instances_default PARTITION OF attribute_instances DEFAULT;
      CREATE INDEX attribute_instances_entity_attr_ts ON attribute_instances (tenant, entity_id, attr, ts);
      CREATE INDEX attribute_instances_ts_brin ON attribute_instances USING brin (ts);
      CREATE FUNCTION attribute_instances_add_partition(month_of timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$ ${[
        'DECLARE',
        "lo timestamp := date_trunc('month', month_of AT TIME ZONE 'UTC');",
        "lo_tz timestamptz := lo AT TIME ZONE 'UTC';",
        "hi_tz timestamptz := (lo + interval '1 month') AT TIME ZONE 'UTC';",
        `part text := to_char(lo, '"attribute_instances_y"YYYY"m"MM');`,
        "known text := 'SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid" +
          " WHERE i.inhparent = ''attribute_instances''::regclass AND c.relname = $1)';",
        'found_it boolean;',
        "saved_timeout text := current_setting('lock_timeout');",
        'BEGIN',
        'EXECUTE known INTO found_it USING part;',
        'IF found_it THEN RETURN false; END IF;',
        // a long query holding the table would queue every history query behind this lock: give up
        "PERFORM set_config('lock_timeout', '5s', true);",
        'LOCK TABLE attribute_instances IN ACCESS EXCLUSIVE MODE;',
        "PERFORM set_config('lock_timeout', saved_timeout, true);",
        'EXECUTE known INTO found_it USING part;',
        'IF found_it THEN RETURN false; END IF;',
        "EXECUTE format('CREATE TABLE %I (LIKE attribute_instances INCLUDING DEFAULTS)', part);",
        "EXECUTE format('WITH moved AS (DELETE FROM attribute_instances_default WHERE ts >= %L AND ts < %L RETURNING *)" +
          " INSERT INTO %I SELECT * FROM moved', lo_tz, hi_tz, part);",
        "EXECUTE format('ALTER TABLE attribute_instances ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo_tz, hi_tz);",
        'RETURN true;',
        'END',
      ].join(' ')} $$;
      SELECT attribute_instances_add_partition(m) FROM (
        SELECT DISTINCT date_trunc('month', ts, 'UTC') AS m FROM attribute_instances_v40
         WHERE ts >= now() - interval '36 months' AND ts < now() + interval '2 months') months;
      INSERT INTO attribute_instances SELECT * FROM attribute_instances_v40;
      DROP TABLE attribute_instances_v40;
      ALTER TABLE temporal_entities ADD COLUMN scopes text[];
      UPDATE temporal_entities t SET scopes = e.scopes FROM entities e WHERE e.tenant = t.tenant AND e.id = t.id
    `,
  },
  {
    // ingestion outbox items queued while the external broker could not tell the entity's stored
    // types: the writer's entity scope, checked against them before delivery (outbox-delivery.ts)
    version: 60,
    sql: `ALTER TABLE ingestion_outbox ADD COLUMN write_scope jsonb`,
  }
];

export async function migrate(db: Db): Promise<void> {
  await ensurePostgis(db);
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => Number(r.version)));
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    await db.transaction(async (tx) => {
      for (const stmt of splitStatements(m.sql)) await tx.query(stmt);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
    });
  }
}

// Statements are run one by one inside the transaction (the extended protocol takes one statement).
const splitStatements = (sql: string): string[] =>
  sql.split(/;\s*\n/).map((s) => s.trim().replace(/;$/, '')).filter(Boolean);

// PostGIS lives in public so every schema (one per test file, one per deployment) finds it.
// Two processes migrating at once may race on CREATE EXTENSION: the loser sees it exists.
async function ensurePostgis(db: Db): Promise<void> {
  try {
    await db.exec('CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public');
  } catch (err) {
    const { rows } = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'postgis'");
    if (rows.length === 0) throw err;
  }
}
