/**
 * The one place that reads the environment: validated once at start-up into a typed, frozen object.
 * Names are the ones in DESIGN.md and the README; operators and scripts rely on them.
 */
export interface Config {
  port: number;
  host: string;
  /** PGlite data folder (embedded default) */
  dataDir: string;
  /** PostgreSQL server instead of PGlite */
  databaseUrl?: string;
  /** PostgreSQL schema for our tables */
  databaseSchema: string;
  databasePoolSize: number;
  /** external NGSI-LD broker (Orion-LD) instead of the embedded engine */
  brokerUrl?: string;
  coreContext: 'v1.8' | 'v1.6';
  /** hosts from which remote @contexts may be fetched */
  contextAllowHosts: string[];
  notifyAllowPrivate: boolean;
  /** run the notification delivery worker in this process (off: an API-only replica, or tests that drive it) */
  notifyWorker: 'on' | 'off';
  /** how long a worker's claim on a subscription lasts: after a crash, its rows go out again once it lapses */
  notifyLeaseSeconds: number;
  auth: 'on' | 'off';
  logLevel: string;
  /** request body limit, bytes */
  bodyLimit: number;
  /** maximum nesting depth of JSON request bodies */
  maxJsonDepth: number;
  /** entities per batch operation */
  maxBatchSize: number;
  /** base URL the service is reached at (for Location headers / hosted contexts); derived from the request when unset */
  publicUrl?: string;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

export function loadConfig(env: Env = process.env): Config {
  const errors: string[] = [];
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push(`${name} must be an integer in [${min}, ${max}], got '${raw}'`);
      return def;
    }
    return n;
  };
  const oneOf = <T extends string>(name: string, values: readonly T[], def: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    if (!values.includes(raw as T)) errors.push(`${name} must be one of ${values.join(', ')}, got '${raw}'`);
    return (values.includes(raw as T) ? raw : def) as T;
  };
  const url = (name: string, schemes: string[]): string | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    try {
      const u = new URL(raw);
      if (!schemes.includes(u.protocol)) errors.push(`${name} must use ${schemes.join(' or ')}, got '${u.protocol}'`);
    } catch {
      errors.push(`${name} is not a URL`);
    }
    return raw;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    if (!['true', 'false', '1', '0'].includes(raw)) errors.push(`${name} must be true or false, got '${raw}'`);
    return raw === 'true' || raw === '1';
  };
  const schema = env.DATABASE_SCHEMA || 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) errors.push(`DATABASE_SCHEMA must be a plain lower-case identifier`);

  const config: Config = {
    port: int('PORT', 1026, 0, 65535),
    host: env.HOST || '0.0.0.0',
    dataDir: env.DATA_DIR || './data',
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseSchema: schema,
    databasePoolSize: int('DATABASE_POOL_SIZE', 10, 1, 200),
    brokerUrl: url('BROKER_URL', ['http:', 'https:']),
    coreContext: oneOf('CORE_CONTEXT', ['v1.8', 'v1.6'] as const, 'v1.8'),
    contextAllowHosts: (env.CONTEXT_ALLOW_HOSTS || '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    notifyAllowPrivate: bool('NOTIFY_ALLOW_PRIVATE', false),
    notifyWorker: oneOf('NOTIFY_WORKER', ['on', 'off'] as const, 'on'),
    notifyLeaseSeconds: int('NOTIFY_LEASE_SECONDS', 60, 1, 3600),
    auth: oneOf('AUTH', ['on', 'off'] as const, 'off'),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    bodyLimit: int('BODY_LIMIT', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxJsonDepth: int('MAX_JSON_DEPTH', 32, 4, 256),
    maxBatchSize: int('MAX_BATCH_SIZE', 1000, 1, 100000),
    publicUrl: url('PUBLIC_URL', ['http:', 'https:']),
  };
  if (errors.length) throw new ConfigError('Invalid configuration:\n  ' + errors.join('\n  '));
  return Object.freeze(config);
}
