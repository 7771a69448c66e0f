import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dashboardCsp, dashboardPage } from '../dashboard/page';
import { ChangeFeed } from '../dashboard/change-feed';
import { currentSchema, PgListener } from '../store/pg-listener';

/** The bundle's files (npm run build:dashboard) and their media types: nothing else is served. */
const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'app.css.map': 'application/json; charset=utf-8',
};

/** dist/dashboard above this file: from src/plugins (jest) and from dist/src/plugins (built). */
function bundleDir(): string | undefined {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'dashboard');
    if (existsSync(join(candidate, 'app.js'))) return candidate;
  }
  return undefined;
}

const MAX_EVENT_CLIENTS = 100;
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The valley dashboard: `/` → `/dashboard` (the page), `/dashboard/app.js|css` (the esbuild
 * bundle, read once), `/dashboard/events` (server-sent `change` events after successful writes,
 * per tenant: of every replica on the same PostgreSQL, or of this process). The page reads the NGSI-LD API itself, with the caller's rights.
 */
const CHANGES_CHANNEL = 'smartland_changes';

export default fp(
  async (app: FastifyInstance) => {
    const dir = bundleDir();
    const cache = new Map<string, Buffer>();
    const feed = new ChangeFeed(MAX_EVENT_CLIENTS);
    const page = dashboardPage({ tileUrl: app.config.dashboardTileUrl });
    const csp = dashboardCsp(app.config.dashboardTileUrl);

    app.get('/', async (request, reply) => {
      const query = request.url.indexOf('?');
      return reply.redirect(`/dashboard${query >= 0 ? request.url.slice(query) : ''}`, 302);
    });

    app.get('/dashboard', async (_request, reply) => {
      if (!dir) return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build:dashboard`.\n');
      return reply.type('text/html; charset=utf-8').header('Content-Security-Policy', csp).header('Cache-Control', 'no-cache').send(page);
    });

    app.get<{ Params: { file: string } }>(
      '/dashboard/:file',
      { schema: { params: { type: 'object', properties: { file: { type: 'string', maxLength: 64 } }, required: ['file'] } } },
      async (request, reply) => {
        const { file } = request.params;
        const type = FILES[file];
        if (!type || !dir) return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
        let body = cache.get(file);
        if (!body) cache.set(file, (body = await readFile(join(dir, file))));
        return reply.type(type).header('Cache-Control', 'no-cache').send(body);
      },
    );

    app.get<{ Querystring: { tenant?: string } }>(
      '/dashboard/events',
      { schema: { querystring: { type: 'object', properties: { tenant: { type: 'string', maxLength: 256 } } } } },
      async (request, reply) => {
        reply.hijack();
        if (!feed.subscribe(reply.raw, request.query.tenant ?? '')) {
          reply.raw.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '30' });
          reply.raw.end('Too many dashboards are listening\n');
        }
      },
    );

    // Several replicas on one PostgreSQL: a write through any of them reaches the dashboards of all,
    // by NOTIFY (payload: schema, tab, tenant) and a LISTEN of each replica. Without it (PGlite, or
    // while the LISTEN connection is down) this process announces its own writes.
    let listener: PgListener | undefined;
    let schema = '';
    if (app.config.databaseUrl && app.db.kind === 'postgres') {
      app.addHook('onReady', async () => {
        schema = await currentSchema(app.db);
        listener = new PgListener(app.config.databaseUrl!, CHANGES_CHANNEL, (payload) => {
          const tab = payload.indexOf('\t');
          if (tab > 0 && payload.slice(0, tab) === schema) feed.publish(payload.slice(tab + 1));
        }, app.log);
        await listener.start();
      });
    }
    app.addHook('onResponse', async (request, reply) => {
      if (!WRITE_METHODS.has(request.method) || reply.statusCode >= 400) return;
      if (!listener?.connected) return feed.publish(request.tenant);
      app.db.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, `${schema}\t${request.tenant}`])
        .catch((err: unknown) => {
          request.log.warn({ err }, 'dashboard change notification failed; announced locally only');
          feed.publish(request.tenant);
        });
    });
    // event streams never end by themselves: close them before the server waits for its connections
    app.addHook('preClose', async () => {
      feed.close();
      await listener?.close();
    });
  },
  { name: 'dashboard', dependencies: ['ngsi-ld'] },
);
