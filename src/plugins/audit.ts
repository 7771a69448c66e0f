import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { AuditLog, auditSubject, networkOf } from '../audit/audit-log';
import { isApiRoute, routeAccess } from '../auth/access';

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditLog;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * The audit trail (MIM5): every write request under /ngsi-ld/v1 and /api/v1, allowed or not,
 * becomes one record: principal name, time, method and route, tenant, entity ids and attribute
 * names, the client's network (not its address: MIM4), status. Queries sent as POST (entityOperations/query) are reads and
 * are not recorded. Records older than AUDIT_RETENTION_DAYS are pruned at start and hourly.
 */
export default fp(
  async (app: FastifyInstance) => {
    const audit = new AuditLog({
      db: app.db,
      onError: (err, dropped) => app.log.error({ err, dropped }, 'audit records could not be written; they are kept and retried'),
    });
    app.decorate('audit', audit);

    // onSend: the record is committed before the client learns the outcome
    app.addHook('onSend', async (request, reply) => {
      if (READ_METHODS.has(request.method)) return;
      const route = request.routeOptions.url ?? request.url.split('?')[0];
      if (!isApiRoute(route) || routeAccess(request.routeOptions.config?.access, request.method, route) === 'read') return;
      await audit.record({
        at: new Date().toISOString(),
        principal: request.principal?.name ?? 'unauthenticated',
        method: request.method,
        route,
        tenant: request.tenant,
        ...auditSubject(request.params, request.body),
        sourceIp: networkOf(request.ip),
        status: reply.statusCode,
      });
    });

    const prune = () =>
      audit.prune(app.config.auditRetentionDays).catch((err: unknown) => app.log.error({ err }, 'audit records could not be pruned'));
    let pruner: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      await prune();
      pruner = setInterval(() => void prune(), PRUNE_EVERY_MS).unref();
    });
    // onClose hooks run after the in-flight requests have finished, and this plugin's before the
    // store's (registered earlier, closed later): nothing recorded is lost on a clean shutdown
    app.addHook('onClose', async () => {
      clearInterval(pruner);
      await audit.close();
    });
  },
  { name: 'audit', dependencies: ['store', 'ngsi-ld', 'auth'] },
);
