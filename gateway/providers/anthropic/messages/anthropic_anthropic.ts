/**
 * Messages API (`POST /v1/messages`), Anthropic client → Anthropic: a passthrough with `model`
 * replaced. The client's `anthropic-version` and `anthropic-beta` headers are forwarded (the
 * backend's `apiVersion`, else 2023-06-01, when the client sent none). Errors keep Anthropic's
 * envelope. Facts: usage from the message (or from `message_start` + `message_delta` on a
 * stream), stop reasons in Anthropic's words, text and tool_use blocks.
 */
import { readContent } from '../content.js';
import { anthropicError } from '../../shared/errors.js';
import { anthropicStreamErrorNative } from '../errors.js';
import { type Observer, PassthroughStream } from '../../shared/passthrough_stream.js';
import { answerObject, baseHeaders, isObject, joinUrl, keepOutput, parseObject, str } from '../../shared/helpers.js';
import type { RequestOptions, ResponseFacts, ResponseResult, Translator } from '../../types.js';
import { ANTHROPIC_DEFAULT_VERSION, anthropicOptions } from '../options.js';
import { type AnthropicCounters, mergeAnthropicCounters, usageFromAnthropic } from '../usage.js';

function clientHeader(opts: RequestOptions, name: string): string | undefined {
  const v = opts.clientHeaders?.[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function messageFacts(msg: Record<string, unknown>): ResponseFacts {
  const facts: ResponseFacts = { usage: usageFromAnthropic(mergeAnthropicCounters({}, msg.usage)) };
  if (str(msg.id)) facts.id = msg.id as string;
  if (str(msg.model)) facts.responseModel = msg.model as string;
  if (str(msg.stop_reason)) facts.finishReasons = [msg.stop_reason as string];
  const { text, toolCalls } = readContent(msg.content, undefined);
  if (text) facts.outputText = text;
  if (toolCalls.length > 0) facts.toolCalls = toolCalls;
  return facts;
}

/** A fresh observer per stream: it keeps the raw counters and tool blocks by index. */
function messagesObserver(): Observer {
  const counters: AnthropicCounters = {};
  const toolAt = new Map<number, number>();
  return (data, ev, state) => {
    if (!data) {
      if (ev.event === 'error') state.error = anthropicStreamErrorNative(ev.data);
      return false;
    }
    const index = typeof data.index === 'number' ? data.index : -1;
    switch (data.type) {
      case 'message_start': {
        const m = isObject(data.message) ? data.message : {};
        if (str(m.id)) state.facts.id = m.id as string;
        if (str(m.model)) state.facts.responseModel = m.model as string;
        state.facts.usage = usageFromAnthropic(mergeAnthropicCounters(counters, m.usage));
        return false;
      }
      case 'content_block_start': {
        const b = isObject(data.content_block) ? data.content_block : {};
        if (b.type !== 'tool_use') return false;
        toolAt.set(index, state.calls.length);
        state.calls.push({ id: str(b.id) ?? '', name: str(b.name) ?? '', arguments: '' });
        return true;
      }
      case 'content_block_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        if (d.type === 'text_delta') state.text = keepOutput(state.text, str(d.text) ?? '');
        const at = toolAt.get(index);
        if (d.type === 'input_json_delta' && at !== undefined) state.calls[at].arguments = keepOutput(state.calls[at].arguments, str(d.partial_json) ?? '');
        return d.type === 'text_delta' || d.type === 'input_json_delta';
      }
      case 'message_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        if (str(d.stop_reason)) state.facts.finishReasons = [d.stop_reason as string];
        state.facts.usage = usageFromAnthropic(mergeAnthropicCounters(counters, data.usage));
        return false;
      }
      case 'error':
        state.error = anthropicStreamErrorNative(ev.data);
        return false;
      default:
        return false;
    }
  };
}

export const messagesAnthropicAnthropic: Translator = {
  endpoint: 'messages',
  clientApi: 'anthropic',
  backendKind: 'anthropic',
  request(body, target, opts) {
    const stream = body.stream === true;
    const headers = baseHeaders(target.backend, stream);
    headers['anthropic-version'] = clientHeader(opts, 'anthropic-version') ?? anthropicOptions(target.backend).apiVersion ?? ANTHROPIC_DEFAULT_VERSION;
    const beta = clientHeader(opts, 'anthropic-beta');
    if (beta) headers['anthropic-beta'] = beta;
    return {
      ok: true,
      request: { method: 'POST', url: joinUrl(target.backend.baseUrl, '/v1/messages'), headers, body: JSON.stringify({ ...body, model: target.model }), stream },
    };
  },
  response(_status, bodyText, ctx): ResponseResult {
    const msg = answerObject(bodyText, ctx);
    if (!msg) {
      const error = anthropicError(502, 'upstream returned an unreadable Anthropic message', 'api_error');
      return { ok: false, error };
    }
    return { ok: true, body: bodyText, json: msg, ...messageFacts(msg) };
  },
  stream: () => new PassthroughStream(messagesObserver(), parseObject),
};
