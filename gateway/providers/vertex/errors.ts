/**
 * Vertex AI's errors: Google's envelope from Vertex itself (authentication, quota, unknown model,
 * Gemini's own errors) and Anthropic's from Anthropic's models behind it. Each is read by its own
 * mapping and told to the client in its API's envelope; a Google error for a Messages client is
 * put into Anthropic's envelope with the same status and message.
 */
import { fromAnthropicUpstream, fromAnthropicUpstreamToOpenAI } from '../anthropic/errors.js';
import { anthropicError } from '../shared/errors.js';
import { parseObject } from '../shared/helpers.js';
import type { ClientApi, ClientError, HeaderSource } from '../types.js';
import { fromGoogleUpstream } from '../gemini/errors.js';

export function fromVertexUpstream(status: number, bodyText: string, headers: HeaderSource | undefined, api: ClientApi): ClientError {
  if (parseObject(bodyText)?.type === 'error') {
    return api === 'anthropic' ? fromAnthropicUpstream(status, bodyText, headers) : fromAnthropicUpstreamToOpenAI(status, bodyText, headers);
  }
  if (api !== 'anthropic') return fromGoogleUpstream(status, bodyText, headers, api);
  const g = fromGoogleUpstream(status, bodyText, headers, 'openai');
  const body = g.body as { error: { message: string } };
  const err = anthropicError(status, body.error.message, undefined, g.retryAfterMs);
  err.message = g.message;
  return err;
}
