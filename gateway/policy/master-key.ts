/**
 * The gateway's master key (LiteLLM's `master_key`): when set, every `/v1/*` request carries it,
 * as `Authorization: Bearer KEY` or, as Anthropic clients send it, `x-api-key: KEY`. Anything
 * else is a 401 in the client API's envelope. `/healthz` and `/metrics` stay open for probes and
 * scrapers. The key is compared in constant time and never logged: the headers carrying it are
 * redacted (SECRET_HEADERS) and never copied into spans or upstream requests.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';

/** Fixed-length digests, so neither the comparison's time nor its length check says anything about the key. */
const digest = (s: string) => createHash('sha256').update(s).digest();

/** The credential a request presents, if any. */
function presented(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
}

/** Requires `key` on every /v1/* route of `app`. Call before the app listens. */
export function requireMasterKey(app: FastifyInstance, key: string): void {
  if (key.length < 8) throw new Error('the master key must be at least 8 characters');
  const want = digest(key);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    const given = presented(req);
    if (given === undefined) throw new GatewayError('invalid_api_key', 'this gateway needs a key: send Authorization: Bearer <key>');
    if (!timingSafeEqual(digest(given), want)) throw new GatewayError('invalid_api_key', 'the key sent is not valid for this gateway');
  });
}
