/**
 * The few checks the gateway makes itself before routing, each naming the parameter. Everything
 * else is the provider's to judge (its error comes back translated).
 */
import { GatewayError } from '../errors.js';
import type { Endpoint } from '../providers/types.js';

type Json = Record<string, unknown>;

/** Longest model name accepted (OpenAI's and Anthropic's are well under 100). */
export const MAX_MODEL_CHARS = 256;

const invalid = (param: string, message: string) => new GatewayError('invalid_parameter', `${param}: ${message}`, { param });

function messagesList(body: Json): void {
  const m = body.messages;
  if (!Array.isArray(m) || m.length === 0) throw invalid('messages', 'must be a non-empty array of messages');
  for (let i = 0; i < m.length; i++) {
    const msg = m[i];
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw invalid(`messages[${i}]`, 'must be an object');
    if (typeof (msg as Json).role !== 'string') throw invalid(`messages[${i}].role`, 'must be a string');
  }
}

/** Throws a GatewayError (400) for a body the gateway cannot route. */
export function validateBody(endpoint: Endpoint, body: unknown): asserts body is Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_json', 'the request body must be a JSON object');
  }
  const b = body as Json;
  if (typeof b.model !== 'string' || b.model.length === 0) throw invalid('model', 'must be a non-empty string naming the model');
  // Model names are looked up, cached and become span names and label values: a long one is no name.
  if (b.model.length > MAX_MODEL_CHARS) throw invalid('model', `must be at most ${MAX_MODEL_CHARS} characters`);
  if (b.stream !== undefined && typeof b.stream !== 'boolean') throw invalid('stream', 'must be true or false');
  switch (endpoint) {
    case 'chat':
    case 'messages':
      messagesList(b);
      return;
    case 'embeddings': {
      const input = b.input;
      const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0);
      if (!ok) throw invalid('input', 'must be a string or a non-empty array');
      return;
    }
    case 'responses':
      if (b.input === undefined && b.previous_response_id === undefined) throw invalid('input', 'is required');
      return;
    case 'generate':
      if (!Array.isArray(b.contents) || b.contents.length === 0) throw invalid('contents', 'must be a non-empty array of contents');
      return;
    default: {
      const never: never = endpoint;
      throw new Error(`unknown endpoint ${String(never)}`);
    }
  }
}
