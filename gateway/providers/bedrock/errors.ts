/**
 * Bedrock's errors → the client's envelope and the retry facts the core needs.
 *
 * An HTTP error names its type in the `x-amzn-errortype` header (`ThrottlingException:http://…`,
 * the part before the colon) and, sometimes, in the body's `__type`; the body is `{message}`
 * (`Message` from some front ends). A stream error is an `exception` message of the event
 * stream, named in lower camel case (`throttlingException`), its payload `{message}`.
 *
 * | Bedrock type | client status | retried |
 * | --- | --- | --- |
 * | ThrottlingException, ServiceQuotaExceededException | 429 | yes (with backoff) |
 * | ServiceUnavailableException, ModelNotReadyException | 503 | yes |
 * | InternalServerException | 500 | yes |
 * | ModelErrorException, ModelStreamErrorException | 502 | yes |
 * | ModelTimeoutException | 504 | yes |
 * | ValidationException | 400 | no |
 * | AccessDeniedException | 403 | no |
 * | UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException, … | 403 | no |
 * | ResourceNotFoundException | 404 | no |
 * | anything else | the upstream's status | 408, 429, 5xx |
 *
 * Retrying follows the mapped status: AWS answers ModelNotReadyException with 429 and
 * ModelTimeoutException with 408, both retryable either way.
 */
import { anthropicError, isRetryableStatus, logSummary, openaiError, retryAfterMs } from '../shared/errors.js';
import { headerValue, isObject, parseObject, str } from '../shared/helpers.js';
import type { ClientApi, ClientError, HeaderSource } from '../types.js';

interface Mapped {
  status: number;
  type: string;
  code: string | null;
}

const AUTH: Mapped = { status: 403, type: 'permission_error', code: 'upstream_credentials' };

/** By type name, lower-cased first letter folded so stream (`throttlingException`) and HTTP names meet. */
const BY_TYPE: Record<string, Mapped> = {
  throttlingexception: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  servicequotaexceededexception: { status: 429, type: 'rate_limit_error', code: 'quota_exceeded' },
  serviceunavailableexception: { status: 503, type: 'server_error', code: 'service_unavailable' },
  modelnotreadyexception: { status: 503, type: 'server_error', code: 'model_not_ready' },
  internalserverexception: { status: 500, type: 'server_error', code: null },
  modelerrorexception: { status: 502, type: 'server_error', code: 'model_error' },
  modelstreamerrorexception: { status: 502, type: 'server_error', code: 'model_error' },
  modeltimeoutexception: { status: 504, type: 'server_error', code: 'model_timeout' },
  validationexception: { status: 400, type: 'invalid_request_error', code: 'invalid_request' },
  accessdeniedexception: { status: 403, type: 'permission_error', code: 'access_denied' },
  resourcenotfoundexception: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  unrecognizedclientexception: AUTH,
  invalidsignatureexception: AUTH,
  incompletesignatureexception: AUTH,
  expiredtokenexception: AUTH,
  missingauthenticationtokenexception: AUTH,
};

/** `ThrottlingException:http://internal.amazon.com/…` or `com.amazon.coral#ThrottlingException` → `ThrottlingException`. */
export function errorTypeName(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const noNs = raw.includes('#') ? raw.slice(raw.lastIndexOf('#') + 1) : raw;
  const name = noNs.split(':')[0].trim();
  return name || undefined;
}

function mappedOf(type: string | undefined, status: number): Mapped {
  const m = type ? BY_TYPE[type.toLowerCase()] : undefined;
  if (m) return m;
  return { status: status >= 400 ? status : 502, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null };
}

/** The error as the client's API writes it, with Bedrock's type kept for logs. */
function build(api: ClientApi, m: Mapped, message: string, retryable: boolean, retryAfter: number | undefined): ClientError {
  const err = api === 'anthropic' ? anthropicError(m.status, message, undefined, retryAfter) : openaiError(m.status, message, { type: m.type, code: m.code, retryAfterMs: retryAfter });
  err.retryable = retryable;
  return err;
}

/** An HTTP error answer from Bedrock. */
export function fromBedrockUpstream(status: number, bodyText: string, headers: HeaderSource | undefined, api: ClientApi): ClientError {
  const body = parseObject(bodyText);
  const type = errorTypeName(headerValue(headers, 'x-amzn-errortype')) ?? errorTypeName(str(body?.__type));
  const text = str(body?.message) ?? str(body?.Message);
  const m = mappedOf(type, status);
  const message = text ?? `upstream answered ${status}${type ? ` (${type})` : ''} without an error message`;
  const err = build(api, m, message, isRetryableStatus(m.status) || isRetryableStatus(status), retryAfterMs(headers));
  err.message = text === undefined ? logSummary(status, bodyText) : `${type ?? status}: ${text}`;
  return err;
}

/** An `exception` message of a Bedrock event stream (event name without the `exception:` prefix). */
export function fromBedrockStreamException(api: ClientApi, type: string, data: string): ClientError {
  const body = parseObject(data);
  const m = mappedOf(type, 502);
  const original = isObject(body) ? str(body.originalMessage) : undefined;
  const message = str(body?.message) ?? original ?? `the upstream stream failed (${type})`;
  const err = build(api, m, message, isRetryableStatus(m.status), undefined);
  err.message = `${type}: ${message}`;
  return err;
}
