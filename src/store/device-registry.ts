import { isoTime as iso, type Queryable } from './db';
import type { DeviceRegistration } from '../ingest/devices';

/**
 * Device registrations (contractor API, /api/v1/devices) in table device_registrations
 * (migration 4): one row per (tenant, device local id), the validated registration as jsonb.
 */
export interface StoredRegistration {
  deviceId: string;
  registration: DeviceRegistration;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  device_id: string;
  registration: unknown;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'device_id, registration, created_at, updated_at';

const toStored = (r: Row): StoredRegistration => ({
  deviceId: r.device_id,
  // pg and PGlite both parse jsonb
  registration: r.registration as DeviceRegistration,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export class DeviceRegistry {
  constructor(private readonly db: Queryable) {}

  async get(tenant: string, deviceId: string): Promise<StoredRegistration | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM device_registrations WHERE tenant = $1 AND device_id = $2`,
      [tenant, deviceId],
      { name: 'device_registration_get' },
    );
    return rows[0] && toStored(rows[0]);
  }

  /** The registrations of several devices in one query (measurement batches). */
  async getMany(tenant: string, deviceIds: string[]): Promise<Map<string, StoredRegistration>> {
    const out = new Map<string, StoredRegistration>();
    if (deviceIds.length === 0) return out;
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM device_registrations WHERE tenant = $1 AND device_id = ANY($2::text[])`,
      [tenant, [...new Set(deviceIds)]],
    );
    for (const r of rows) out.set(r.device_id, toStored(r));
    return out;
  }

  async list(tenant: string, page: { limit: number; offset: number }): Promise<{ registrations: StoredRegistration[]; count: number }> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM device_registrations WHERE tenant = $1 ORDER BY device_id LIMIT $2 OFFSET $3`,
      [tenant, page.limit, page.offset],
    );
    const counted = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_registrations WHERE tenant = $1', [tenant]);
    return { registrations: rows.map(toStored), count: Number(counted.rows[0].n) };
  }

  /** Inserts a new registration; undefined when the device is registered already. */
  async create(tenant: string, reg: DeviceRegistration): Promise<StoredRegistration | undefined> {
    const { rows } = await this.db.query<Row>(
      `INSERT INTO device_registrations (tenant, device_id, registration) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (tenant, device_id) DO NOTHING RETURNING ${COLUMNS}`,
      [tenant, reg.deviceId, JSON.stringify(reg)],
    );
    return rows[0] && toStored(rows[0]);
  }

  /** Inserts or replaces; `created` tells which. */
  async put(tenant: string, reg: DeviceRegistration): Promise<{ stored: StoredRegistration; created: boolean; previous?: DeviceRegistration }> {
    const previous = await this.get(tenant, reg.deviceId);
    const { rows } = await this.db.query<Row>(
      `INSERT INTO device_registrations (tenant, device_id, registration) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (tenant, device_id) DO UPDATE SET registration = EXCLUDED.registration, updated_at = now()
       RETURNING ${COLUMNS}`,
      [tenant, reg.deviceId, JSON.stringify(reg)],
    );
    return { stored: toStored(rows[0]), created: previous === undefined, ...(previous ? { previous: previous.registration } : {}) };
  }

  /** Puts a registration back as it was (undoing a put or create whose Device entity could not be written). */
  async restore(tenant: string, deviceId: string, previous: DeviceRegistration | undefined): Promise<void> {
    if (previous === undefined) await this.delete(tenant, deviceId);
    else {
      await this.db.query('UPDATE device_registrations SET registration = $3::jsonb WHERE tenant = $1 AND device_id = $2', [
        tenant, deviceId, JSON.stringify(previous),
      ]);
    }
  }

  async delete(tenant: string, deviceId: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM device_registrations WHERE tenant = $1 AND device_id = $2', [tenant, deviceId]);
    return rowCount > 0;
  }
}
