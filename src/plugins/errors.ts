import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NgsiError, badRequestData, type ProblemType } from '../ngsi-ld/errors';

/**
 * The one error handler: NgsiError → its problem details; Fastify's own errors (validation,
 * body parsing, size, media type) → the matching NGSI-LD problem; anything else → 500 logged.
 * Bodies are application/problem+json unless the client only accepts application/json.
 */
function toNgsiError(err: FastifyError): NgsiError | undefined {
  if (err instanceof NgsiError) return err;
  if (err.validation) {
    const where = err.validationContext ?? 'request';
    return badRequestData(`${where}${err.message.startsWith(where) ? err.message.slice(where.length) : ': ' + err.message}`);
  }
  const byCode: Record<string, [ProblemType, number, string]> = {
    FST_ERR_CTP_BODY_TOO_LARGE: ['BadRequestData', 413, 'request body is larger than the configured limit'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: ['InvalidRequest', 415, 'unsupported Content-Type'],
    FST_ERR_CTP_EMPTY_JSON_BODY: ['InvalidRequest', 400, 'empty JSON body'],
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['BadRequestData', 400, 'invalid Content-Length'],
    FST_ERR_CTP_EMPTY_TYPE: ['InvalidRequest', 415, 'missing Content-Type'],
    FST_ERR_CTP_INVALID_TYPE: ['InvalidRequest', 415, 'invalid Content-Type'],
  };
  const known = err.code ? byCode[err.code] : undefined;
  if (known) return new NgsiError(known[0], known[1], known[2]);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new NgsiError(err.statusCode === 404 ? 'ResourceNotFound' : 'BadRequestData', err.statusCode, err.message);
  }
  return undefined;
}

/**
 * Answers an error as problem details. Also Fastify's `frameworkErrors` (app.ts): errors the router
 * raises before any route or error handler runs (malformed %-escapes, over-long path parameters).
 */
export function sendProblem(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const ngsi = toNgsiError(err) ?? new NgsiError('InternalError', 500, 'internal error');
  if (ngsi.status >= 500) request.log.error({ err }, 'request failed');
  const accept = request.headers.accept ?? '';
  const type = accept.includes('application/json') && !accept.includes('application/problem+json')
    ? 'application/json'
    : 'application/problem+json';
  reply.code(ngsi.status).headers(ngsi.headers).type(type).send(ngsi.toProblem());
}

export default fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(sendProblem);
    app.setNotFoundHandler((request, reply) => {
      reply
        .code(404)
        .type('application/problem+json')
        .send(new NgsiError('ResourceNotFound', 404, `no route for ${request.method} ${request.url.split('?')[0]}`).toProblem());
    });
  },
  { name: 'errors' },
);
