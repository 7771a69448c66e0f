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
  /** bearer token for a secured broker (Authorization header) */
  brokerToken?: string;
  /** extra headers sent to the broker (API gateways): BROKER_HEADERS as a JSON object of strings */
  brokerHeaders: Record<string, string>;
  /** per request to the broker, before a retry (idempotent calls) or an error */
  brokerTimeoutMs: number;
  /** run the ingestion outbox delivery worker in this process (Orion-LD mode) */
  outboxWorker: 'on' | 'off';
  /** how long a worker owns the outbox rows it claimed; a crashed worker's rows wait this long */
  outboxLeaseSeconds: number;
  /** delivered outbox items (and their ingestions' status) are kept this long; dead letters stay */
  outboxRetentionHours: number;
  coreContext: 'v1.8' | 'v1.6';
  /** hosts from which remote @contexts may be fetched */
  contextAllowHosts: string[];
  notifyAllowPrivate: boolean;
  /** run the notification delivery worker in this process (off: an API-only replica, or tests that drive it) */
  notifyWorker: 'on' | 'off';
  /** how long a worker's claim on a subscription lasts: after a crash, its rows go out again once it lapses */
  notifyLeaseSeconds: number;
  /** subscriptions the worker delivers to at the same time */
  notifyConcurrency: number;
  /** 'off' only when explicitly configured (local development; server.ts logs a loud warning) */
  auth: 'on' | 'off';
  /** bootstrap admin API key (stored hashed at start); see SECURITY.md */
  adminApiKey?: string;
  /** JSON Web Key Set for bearer JWTs: a file, or a URL whose host is in jwksAllowHosts */
  jwksFile?: string;
  jwksUrl?: string;
  jwksAllowHosts: string[];
  /** tenants anyone may read without credentials (the dashboard for citizens); '' is the default tenant */
  publicReadTenants: string[];
  jwtIssuer?: string;
  jwtAudience?: string;
  /** audit records older than this are pruned */
  auditRetentionDays: number;
  /** requests per principal (or client address) per window; 0 = no rate limit */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** event-loop delay above which requests are shed with 503; 0 = no load shedding */
  maxEventLoopDelayMs: number;
  /** a request (headers and body) must complete within this time */
  requestTimeoutMs: number;
  /** allow @context downloads from allow-listed hosts that resolve to loopback/private addresses */
  contextAllowPrivate: boolean;
  logLevel: string;
  /** request body limit, bytes */
  bodyLimit: number;
  /** maximum nesting depth of JSON request bodies */
  maxJsonDepth: number;
  /** entities per batch operation */
  maxBatchSize: number;
  /** items (or measurements) per contractor API request */
  ingestMaxItems: number;
  /** base URL the service is reached at (for Location headers / hosted contexts); derived from the request when unset */
  publicUrl?: string;
  /** attribute history older than this many days is pruned (hourly); 0 keeps it forever */
  temporalRetentionDays: number;
  /** tile URL template for the dashboard's map (e.g. https://tile.example.org/{z}/{x}/{y}.png); unset: no tiles */
  dashboardTileUrl?: string;
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
  const list = (name: string): string[] => (env[name] || '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
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
    brokerToken: env.BROKER_TOKEN || undefined,
    brokerHeaders: headerMap('BROKER_HEADERS', env.BROKER_HEADERS, errors),
    brokerTimeoutMs: int('BROKER_TIMEOUT_MS', 10_000, 100, 600_000),
    outboxWorker: oneOf('OUTBOX_WORKER', ['on', 'off'] as const, 'on'),
    outboxLeaseSeconds: int('OUTBOX_LEASE_SECONDS', 60, 1, 3600),
    outboxRetentionHours: int('OUTBOX_RETENTION_HOURS', 168, 1, 87_600),
    coreContext: oneOf('CORE_CONTEXT', ['v1.8', 'v1.6'] as const, 'v1.8'),
    contextAllowHosts: list('CONTEXT_ALLOW_HOSTS'),
    notifyAllowPrivate: bool('NOTIFY_ALLOW_PRIVATE', false),
    notifyWorker: oneOf('NOTIFY_WORKER', ['on', 'off'] as const, 'on'),
    notifyLeaseSeconds: int('NOTIFY_LEASE_SECONDS', 60, 1, 3600),
    notifyConcurrency: int('NOTIFY_CONCURRENCY', 128, 1, 1024),
    auth: oneOf('AUTH', ['on', 'off'] as const, 'on'),
    adminApiKey: env.ADMIN_API_KEY || undefined,
    jwksFile: env.JWKS_FILE || undefined,
    jwksUrl: url('JWKS_URL', ['https:', 'http:']),
    jwksAllowHosts: list('JWKS_ALLOW_HOSTS'),
    // 'default' names the default tenant (no NGSILD-Tenant header)
    publicReadTenants: (env.PUBLIC_READ_TENANTS || '').split(',').map((t) => t.trim()).filter(Boolean).map((t) => (t === 'default' ? '' : t)),
    jwtIssuer: env.JWT_ISSUER || undefined,
    jwtAudience: env.JWT_AUDIENCE || undefined,
    auditRetentionDays: int('AUDIT_RETENTION_DAYS', 365, 1, 36500),
    rateLimitMax: int('RATE_LIMIT_MAX', 1200, 0, 10_000_000),
    rateLimitWindowMs: int('RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
    maxEventLoopDelayMs: int('MAX_EVENT_LOOP_DELAY_MS', 2000, 0, 600_000),
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    contextAllowPrivate: bool('CONTEXT_ALLOW_PRIVATE', false),
    logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    bodyLimit: int('BODY_LIMIT', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxJsonDepth: int('MAX_JSON_DEPTH', 32, 4, 256),
    maxBatchSize: int('MAX_BATCH_SIZE', 1000, 1, 100000),
    ingestMaxItems: int('INGEST_MAX_ITEMS', 10_000, 1, 100_000),
    publicUrl: url('PUBLIC_URL', ['http:', 'https:']),
    temporalRetentionDays: int('TEMPORAL_RETENTION_DAYS', 0, 0, 36500),
    dashboardTileUrl: url('DASHBOARD_TILE_URL', ['http:', 'https:']),
  };
  checkAuthConfig(config, errors);
  if (errors.length) throw new ConfigError('Invalid configuration:\n  ' + errors.join('\n  '));
  return Object.freeze(config);
}

/** Authentication settings that only make sense together. */
function checkAuthConfig(c: Config, errors: string[]): void {
  if (c.adminApiKey !== undefined && (c.adminApiKey.length < 32 || /\s/.test(c.adminApiKey))) {
    errors.push('ADMIN_API_KEY must be at least 32 characters without spaces (e.g. `openssl rand -base64 32`)');
  }
  if (c.jwksFile && c.jwksUrl) errors.push('JWKS_FILE and JWKS_URL exclude each other');
  if (c.jwksFile || c.jwksUrl) {
    // a token of another issuer or meant for another service must not be accepted
    if (!c.jwtIssuer) errors.push('JWT_ISSUER is required with JWKS_FILE/JWKS_URL');
    if (!c.jwtAudience) errors.push('JWT_AUDIENCE is required with JWKS_FILE/JWKS_URL');
  }
  if (c.jwksUrl) {
    try {
      const u = new URL(c.jwksUrl);
      const host = u.hostname.toLowerCase();
      if (!c.jwksAllowHosts.includes(host) && !c.jwksAllowHosts.includes(u.host.toLowerCase())) {
        errors.push(`JWKS_URL host ${u.host} is not in JWKS_ALLOW_HOSTS`);
      }
    } catch {
      // reported by url()
    }
  }
}

/** Headers the broker client sets itself: BROKER_HEADERS may not override them. */
const CLIENT_HEADERS = new Set(['content-type', 'accept', 'link', 'ngsild-tenant', 'authorization', 'content-length', 'host']);

/** BROKER_HEADERS: `{"X-Api-Key": "…"}`; names are HTTP tokens, values single-line strings. */
function headerMap(name: string, raw: string | undefined, errors: string[]): Record<string, string> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    errors.push(`${name} must be a JSON object of header names to string values`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    errors.push(`${name} must be a JSON object of header names to string values`);
    return {};
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) errors.push(`${name}: '${key}' is not a header name`);
    else if (CLIENT_HEADERS.has(key.toLowerCase())) errors.push(`${name}: '${key}' is set by the broker client (use BROKER_TOKEN for Authorization)`);
    else if (typeof value !== 'string' || /[\r\n\0]/.test(value)) errors.push(`${name}: the value of '${key}' must be a single-line string`);
    else headers[key.toLowerCase()] = value;
  }
  return headers;
}
