/**
 * The collector's bearer token, one check for every data route (OTLP gRPC and HTTP, feedback,
 * usage); health and metrics stay open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectorErrors } from '../errors.js';
import { statusJson } from '../otlp/response.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checks an `authorization` header value against the configured bearer token in constant time:
 * both sides are hashed first, so neither the content nor the length of the token shows in the
 * time taken. The scheme name is matched in any case (RFC 7235).
 */
export function bearerOk(token: string | undefined, header: string | undefined): boolean {
  if (token === undefined) return true;
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  return timingSafeEqual(digest(m[1]), digest(token));
}

/** RFC 6750: a 401 names the scheme the client should use. */
export const WWW_AUTHENTICATE = 'Bearer realm="tracegate-collector"';

/**
 * A Fastify onRequest hook for the JSON data routes (feedback, usage): without the token, a
 * 401 with a google.rpc.Status body (code 16, UNAUTHENTICATED), as the OTLP receivers answer,
 * before the body is read.
 */
export function requireBearer(token: string | undefined) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (bearerOk(token, req.headers.authorization)) return;
    const err = collectorErrors.unauthenticated();
    return reply.code(err.httpStatus).header('www-authenticate', WWW_AUTHENTICATE).type('application/json').send(statusJson(err.grpcCode, err.message));
  };
}
