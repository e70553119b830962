/**
 * Anthropic's models on Vertex AI: the Messages API body at `…/publishers/anthropic/models/
 * {model}:rawPredict` (`:streamRawPredict` for streams), with `anthropic_version:
 * "vertex-2023-10-16"` in the body and no `model` (the URL names it). The Anthropic translators
 * build the body; here it is moved to Vertex. Answers, streams and facts are Anthropic's.
 */
import { chatOpenAIAnthropic } from '../anthropic/chat/openai_anthropic.js';
import { messagesAnthropicAnthropic } from '../anthropic/messages/anthropic_anthropic.js';
import type { RequestResult, Translator } from '../types.js';
import { vertexModelUrl } from './options.js';

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** An Anthropic translator's request, moved to Vertex. */
function onVertex(anthropic: Translator): Translator {
  return {
    ...anthropic,
    backendKind: 'vertex',
    request(body, target, opts): RequestResult {
      const r = anthropic.request(body, target, opts);
      if (!r.ok) return r;
      const url = vertexModelUrl(target, 'anthropic', r.request.stream ? 'streamRawPredict' : 'rawPredict');
      if (typeof url !== 'string') return { ok: false, error: url };
      const { model: _model, ...rest } = JSON.parse(r.request.body.toString()) as Record<string, unknown>;
      const { 'anthropic-version': _version, ...headers } = r.request.headers;
      return { ok: true, request: { ...r.request, url, headers, body: JSON.stringify({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...rest }) } };
    },
  };
}

export const chatOpenAIVertexAnthropic = onVertex(chatOpenAIAnthropic);
export const messagesAnthropicVertex = onVertex(messagesAnthropicAnthropic);
