import type { FastifyReply, FastifyRequest } from 'fastify';
import { JSON_TYPE, mediaType } from '../ngsi-ld/http';
import { IDEMPOTENCY_HEADER, IdempotencyStore, REPLAYED_HEADER, idempotencyKeyOf, requestHash } from '../ingest/idempotency';

/** What a contractor write answers: its status and JSON body; retryable = the store failed part of it. */
export interface WriteAnswer {
  status: number;
  body: unknown;
  retryable?: boolean;
}

/**
 * Answers a contractor write under its Idempotency-Key (none: just runs it). A retry with the same
 * key and the same request (`parts` and the body) gets the stored answer with Idempotent-Replayed:
 * true; the same key with another request, or while the first still runs, is 409 (IdempotencyStore.begin). A failed or retryable
 * run does not keep the key, so the retry runs again (upserts are idempotent).
 */
export async function answerIdempotently(
  store: IdempotencyStore,
  request: FastifyRequest,
  reply: FastifyReply,
  parts: string[],
  run: () => Promise<WriteAnswer>,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(request.headers[IDEMPOTENCY_HEADER]);
  const send = (a: WriteAnswer) => reply.code(a.status).type(JSON_TYPE).send(a.body);
  if (key === undefined) return send(await run());
  const tenant = request.tenant;
  const body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  const claim = await store.begin(tenant, key, requestHash([...parts, mediaType(request.headers['content-type']) ?? '', body]));
  if (claim.kind === 'replay') return reply.code(claim.status).header(REPLAYED_HEADER, 'true').type(JSON_TYPE).send(claim.body);
  let answer: WriteAnswer;
  try {
    answer = await run();
  } catch (err) {
    await store.abandon(tenant, key).catch(() => undefined);
    throw err;
  }
  // the items are written whatever happens here; without a stored answer a retry re-applies them (harmless)
  const keep = answer.retryable ? Promise.reject(new Error('not kept')) : store.complete(tenant, key, answer.status, answer.body);
  await keep.catch(async (err: Error) => {
    if (!answer.retryable) request.log.error({ err }, 'Idempotency-Key response could not be stored');
    await store.abandon(tenant, key).catch(() => undefined);
  });
  return send(answer);
}
