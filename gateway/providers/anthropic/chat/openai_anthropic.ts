/**
 * Chat Completions, OpenAI client → Anthropic Messages API, and the answer back.
 * Request mapping: openai_anthropic_messages.ts (messages) and openai_anthropic_params.ts (the
 * rest); streaming: openai_anthropic_stream.ts. Here: the translator, and a `message` answer →
 * `chat.completion`: text blocks joined into `content`, `tool_use` blocks → `tool_calls`
 * (arguments as JSON text), `thinking` blocks dropped, stop reason → finish reason, usage with
 * cache reads and writes counted in the prompt (OpenAI's `cached_tokens` = cache reads).
 */
import { badUpstreamBody } from '../../shared/errors.js';
import { answerObject, baseHeaders, joinUrl, str } from '../../shared/helpers.js';
import { readContent } from '../content.js';
import type { Result } from '../../shared/params.js';
import type { RequestOptions, ResponseContext, ResponseFacts, ResponseResult, Translator } from '../../types.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_DEFAULT_VERSION, anthropicOptions } from '../options.js';
import { openAIUsageOf } from '../../shared/usage.js';
import { mergeAnthropicCounters, usageFromAnthropic } from '../usage.js';
import { convertMessages } from './openai_anthropic_messages.js';
import { convertParams, forcedJsonTool, jsonObjectInstruction } from './openai_anthropic_params.js';
import { AnthropicChatStream, finishReasonOf } from './openai_anthropic_stream.js';

function systemOf(blocks: Record<string, unknown>[], extra: string | undefined): unknown {
  const all = extra ? [...blocks, { type: 'text', text: extra }] : blocks;
  if (all.length === 0) return undefined;
  // A plain string unless a block carries more than text (cache_control).
  const plain = all.every((b) => !('cache_control' in b));
  return plain ? all.map((b) => b.text as string).join('\n\n') : all;
}

export function translateMessage(msg: Record<string, unknown>, ctx: ResponseContext): { json: Record<string, unknown>; facts: ResponseFacts } {
  const forced = forcedJsonTool(ctx.clientBody)?.name;
  const { text, toolCalls } = readContent(msg.content, forced);
  const finish = finishReasonOf(msg.stop_reason, forced !== undefined);
  const usage = usageFromAnthropic(mergeAnthropicCounters({}, msg.usage));
  const message: Record<string, unknown> = { role: 'assistant', content: text || (toolCalls.length > 0 ? null : ''), refusal: null };
  if (toolCalls.length > 0) {
    message.tool_calls = toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  const json = {
    id: str(msg.id) ?? '',
    object: 'chat.completion',
    created: Math.floor(ctx.nowMs / 1000),
    model: str(msg.model) ?? '',
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: openAIUsageOf(usage),
  };
  const facts: ResponseFacts = { id: json.id, responseModel: json.model, finishReasons: [finish], usage };
  if (text) facts.outputText = text;
  if (toolCalls.length > 0) facts.toolCalls = toolCalls;
  return { json, facts };
}

/**
 * An OpenAI chat body → the Anthropic Messages body for `model` (Claude elsewhere, e.g. on
 * Bedrock's InvokeModel, takes the same body).
 */
export function messagesBodyOf(body: Record<string, unknown>, model: string, opts: RequestOptions): Result<Record<string, unknown>> {
  const msgs = convertMessages(body.messages);
  if (!msgs.ok) return msgs;
  const params = convertParams(body, opts.defaultMaxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS);
  if (!params.ok) return params;
  const out: Record<string, unknown> = { model };
  const system = systemOf(msgs.value.system, jsonObjectInstruction(body));
  if (system !== undefined) out.system = system;
  out.messages = msgs.value.messages;
  Object.assign(out, params.value);
  return { ok: true, value: out };
}

export const chatOpenAIAnthropic: Translator = {
  endpoint: 'chat',
  clientApi: 'openai',
  backendKind: 'anthropic',
  request(body, target, opts) {
    const out = messagesBodyOf(body, target.model, opts);
    if (!out.ok) return out;
    const stream = body.stream === true;
    const headers = baseHeaders(target.backend, stream);
    headers['anthropic-version'] = anthropicOptions(target.backend).apiVersion ?? ANTHROPIC_DEFAULT_VERSION;
    return { ok: true, request: { method: 'POST', url: joinUrl(target.backend.baseUrl, '/v1/messages'), headers, body: JSON.stringify(out.value), stream } };
  },
  response(_status, bodyText, ctx): ResponseResult {
    const msg = answerObject(bodyText, ctx);
    if (msg?.type !== 'message') return { ok: false, error: badUpstreamBody('Anthropic message') };
    const { json, facts } = translateMessage(msg, ctx);
    return { ok: true, body: JSON.stringify(json), json, ...facts };
  },
  stream: (ctx) => new AnthropicChatStream(ctx),
};
