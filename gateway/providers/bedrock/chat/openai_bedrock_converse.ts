/**
 * Chat Completions, OpenAI client → Bedrock Converse (`POST /model/{modelId}/converse`, and
 * `/converse-stream` for streams), and the answer back.
 *
 * Request: `messages` and `system` from openai_bedrock_messages.ts, `inferenceConfig` and
 * `toolConfig` from openai_bedrock_params.ts. Answer: `output.message.content` text blocks joined
 * into `content`, `toolUse` blocks → `tool_calls` (input as JSON text; the tool forcing a
 * json_schema answer → the message text), `reasoningContent` dropped (as the Anthropic translator
 * drops thinking), stop reason → finish reason, usage with cache reads and writes counted in the
 * prompt. A Converse answer names neither an id nor a model: the id is made from the time, the
 * model is the one the client asked for, and telemetry gets neither as a response fact.
 */
import { forcedJsonTool } from '../../anthropic/chat/openai_anthropic_params.js';
import { badUpstreamBody } from '../../shared/errors.js';
import { answerObject, isObject, num, str } from '../../shared/helpers.js';
import { openAIUsageOf, withOptional } from '../../shared/usage.js';
import type { RequestOptions, RequestResult, ResponseContext, ResponseResult, Target, ToolCallOut, Usage } from '../../types.js';
import { bedrockHeaders, modelUrl } from '../options.js';
import { convertMessages } from './openai_bedrock_messages.js';
import { convertParams } from './openai_bedrock_params.js';

type Json = Record<string, unknown>;

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/** Converse stop reason → OpenAI finish reason. A forced JSON tool's `tool_use` is a normal stop. */
export function converseFinishReason(stopReason: unknown, forcedJson: boolean): string {
  const r = str(stopReason);
  if (r === 'tool_use' && forcedJson) return 'stop';
  return (r && FINISH[r]) ?? 'stop';
}

/** Converse `usage` → tracegate's: `inputTokens` is fresh input only, so the prompt adds cache reads and writes. */
export function usageFromConverse(raw: unknown): Usage {
  const u = isObject(raw) ? raw : {};
  const cacheRead = num(u.cacheReadInputTokens) ?? 0;
  const cacheWrite = num(u.cacheWriteInputTokens) ?? 0;
  const prompt = (num(u.inputTokens) ?? 0) + cacheRead + cacheWrite;
  const completion = num(u.outputTokens) ?? 0;
  const usage: Usage = { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion };
  withOptional(usage, 'cacheReadTokens', cacheRead);
  withOptional(usage, 'cacheWriteTokens', cacheWrite);
  return usage;
}

/** An id for an answer Converse did not name (`chatcmpl-bedrock-<time in base 36>`). */
export function converseId(nowMs: number): string {
  return `chatcmpl-bedrock-${nowMs.toString(36)}`;
}

export function converseRequest(body: Json, target: Target, _opts: RequestOptions): RequestResult {
  const msgs = convertMessages(body.messages);
  if (!msgs.ok) return msgs;
  const params = convertParams(body, msgs.value);
  if (!params.ok) return params;
  const out: Json = { messages: msgs.value.messages };
  const system = params.value.systemExtra ? [...msgs.value.system, { text: params.value.systemExtra }] : msgs.value.system;
  if (system.length > 0) out.system = system;
  if (params.value.inferenceConfig) out.inferenceConfig = params.value.inferenceConfig;
  if (params.value.toolConfig) out.toolConfig = params.value.toolConfig;
  const stream = body.stream === true;
  return {
    ok: true,
    request: { method: 'POST', url: modelUrl(target, stream ? 'converse-stream' : 'converse'), headers: bedrockHeaders(target.backend, stream), body: JSON.stringify(out), stream },
  };
}

function readConverseContent(content: unknown, forcedName: string | undefined): { text: string; toolCalls: ToolCallOut[] } {
  const out = { text: '', toolCalls: [] as ToolCallOut[] };
  if (!Array.isArray(content)) return out;
  for (const b of content) {
    if (!isObject(b)) continue;
    if (typeof b.text === 'string') out.text += b.text;
    const tu = isObject(b.toolUse) ? b.toolUse : undefined;
    if (!tu) continue;
    const args = JSON.stringify(tu.input ?? {});
    if (forcedName !== undefined && tu.name === forcedName) out.text += args;
    else out.toolCalls.push({ id: str(tu.toolUseId) ?? '', name: str(tu.name) ?? '', arguments: args });
  }
  return out;
}

export function converseResponse(answer: Json, ctx: ResponseContext): ResponseResult {
  const output = isObject(answer.output) ? answer.output : undefined;
  const msg = output && isObject(output.message) ? output.message : undefined;
  if (!msg) return { ok: false, error: badUpstreamBody('Bedrock Converse answer') };
  const forced = forcedJsonTool(ctx.clientBody)?.name;
  const { text, toolCalls } = readConverseContent(msg.content, forced);
  const finish = converseFinishReason(answer.stopReason, forced !== undefined);
  const usage = usageFromConverse(answer.usage);
  const message: Json = { role: 'assistant', content: text || (toolCalls.length > 0 ? null : ''), refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  const json = {
    id: converseId(ctx.nowMs),
    object: 'chat.completion',
    created: Math.floor(ctx.nowMs / 1000),
    model: str(ctx.clientBody.model) ?? '',
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: openAIUsageOf(usage),
  };
  const r: ResponseResult = { ok: true, body: JSON.stringify(json), json, finishReasons: [finish], usage };
  if (text) r.outputText = text;
  if (toolCalls.length > 0) r.toolCalls = toolCalls;
  return r;
}

/** A 2xx Converse answer's text → the client's answer. */
export function converseAnswer(bodyText: string, ctx: ResponseContext): ResponseResult {
  const answer = answerObject(bodyText, ctx);
  return answer ? converseResponse(answer, ctx) : { ok: false, error: badUpstreamBody('Bedrock Converse answer') };
}
