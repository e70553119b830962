/**
 * InvokeModel for Claude on Bedrock (`POST /model/{modelId}/invoke`, and
 * `/invoke-with-response-stream` for streams): the body is Anthropic's Messages body with
 * `anthropic_version: "bedrock-2023-05-31"` in it and no `model` or `stream` (the URL says both);
 * `anthropic-beta` features go in the body's `anthropic_beta` list. The answer is Anthropic's
 * `message`, so the Anthropic translators read it (stream.ts for the streams).
 */
import { messagesBodyOf } from '../anthropic/chat/openai_anthropic.js';
import type { RequestOptions, RequestResult, Target } from '../types.js';
import { bedrockHeaders, modelUrl } from './options.js';

type Json = Record<string, unknown>;

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

function clientHeader(opts: RequestOptions, name: string): string | undefined {
  const v = opts.clientHeaders?.[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** An Anthropic Messages body → InvokeModel's request for `target`. */
export function invokeRequest(messagesBody: Json, target: Target, opts: RequestOptions): RequestResult {
  const { model: _model, stream: _stream, ...rest } = messagesBody;
  const out: Json = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest };
  const beta = clientHeader(opts, 'anthropic-beta');
  if (beta && out.anthropic_beta === undefined)
    out.anthropic_beta = beta
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
  const stream = messagesBody.stream === true;
  return {
    ok: true,
    request: {
      method: 'POST',
      url: modelUrl(target, stream ? 'invoke-with-response-stream' : 'invoke'),
      headers: bedrockHeaders(target.backend, stream),
      body: JSON.stringify(out),
      stream,
    },
  };
}

/** An OpenAI chat body → InvokeModel, through the Anthropic chat translation. */
export function invokeChatRequest(body: Json, target: Target, opts: RequestOptions): RequestResult {
  const messagesBody = messagesBodyOf(body, target.model, opts);
  if (!messagesBody.ok) return messagesBody;
  return invokeRequest({ ...messagesBody.value, stream: body.stream === true }, target, { ...opts, clientHeaders: undefined });
}
