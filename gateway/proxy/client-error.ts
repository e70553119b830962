import type { GatewayError } from '../errors.js';
import type { ClientError } from '../providers/types.js';

/** A gateway error from the catalogue as the proxy's ClientError (OpenAI envelope, never retried). */
export function gatewayClientError(e: GatewayError): ClientError {
  const ce: ClientError = { status: e.status, body: { error: { message: e.message, type: e.type, param: e.opts.param ?? null, code: e.code } }, message: e.message, retryable: false };
  if (e.opts.retryAfterMs !== undefined) ce.retryAfterMs = e.opts.retryAfterMs;
  return ce;
}
