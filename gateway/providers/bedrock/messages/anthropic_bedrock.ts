/**
 * Messages API (`POST /v1/messages`), Anthropic client → Claude on Bedrock through InvokeModel:
 * the client's body with `model` and `stream` moved into the URL and `anthropic_version:
 * "bedrock-2023-05-31"` added (invoke.ts); the answer, a Messages `message`, passes as it came and
 * the stream's chunks are written as Anthropic's own SSE events (stream.ts). Errors are Bedrock's,
 * in Anthropic's envelope (errors.ts).
 */
import { messagesAnthropicAnthropic } from '../../anthropic/messages/anthropic_anthropic.js';
import type { Translator } from '../../types.js';
import { invokeRequest } from '../invoke.js';
import { BedrockStream } from '../stream.js';

export const messagesAnthropicBedrock: Translator = {
  endpoint: 'messages',
  clientApi: 'anthropic',
  backendKind: 'bedrock',
  request: (body, target, opts) => invokeRequest(body, target, opts),
  response: (status, bodyText, ctx) => messagesAnthropicAnthropic.response(status, bodyText, ctx),
  stream: (ctx) => new BedrockStream(messagesAnthropicAnthropic.stream(ctx), 'anthropic', ctx),
};
