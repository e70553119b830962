/**
 * Chat completions for the simulated provider, in OpenAI's wire format: a plan (what every
 * choice says, the usage) made once from the request, then written as one JSON object or as
 * the chunks of an OpenAI stream.
 */
import { z } from 'zod';
import { countTokens, estimatePromptTokens, steadyBudget } from '../../tokenizer.js';
import { afterToolText, answerText, topicOf, valueFor } from './generate.js';
import { hexId, rngFrom, seedOf, type Rng } from './seed.js';

const MessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.unknown().optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(z.looseObject({ id: z.string().optional(), function: z.looseObject({ name: z.string() }).optional() })).optional(),
});

const ToolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1).max(64), description: z.string().optional(), parameters: z.unknown().optional() }),
});

export const ChatRequestSchema = z.looseObject({
  model: z.string().min(1, 'you must provide a model parameter'),
  messages: z.array(MessageSchema).min(1, 'messages must hold at least one message'),
  n: z.number().int().min(1).max(8).optional(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(ToolSchema).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) })]).nullish(),
  response_format: z
    .looseObject({ type: z.enum(['text', 'json_object', 'json_schema']), json_schema: z.looseObject({ name: z.string().optional(), schema: z.unknown().optional() }).optional() })
    .nullish(),
});
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface PlannedChoice {
  index: number;
  content: string | null;
  toolCalls: ToolCall[];
  finish: 'stop' | 'length' | 'tool_calls';
  tokens: number;
}

export interface ChatPlan {
  id: string;
  created: number;
  model: string;
  choices: PlannedChoice[];
  usage: OpenAIUsage;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

const FINGERPRINT = 'fp_tracegate_sim';

/** What every choice says and what it costs; `seed` ties it to the request. */
export function planChat(req: ChatRequest, nowMs: number): ChatPlan {
  const seed = seedOf('chat', { ...req, stream: undefined, stream_options: undefined, user: undefined, metadata: undefined });
  const idRng = rngFrom(seed ^ Math.floor(nowMs));
  const choices = Array.from({ length: req.n ?? 1 }, (_, i) => planChoice(req, rngFrom(seed + i), i, idRng));
  // a steady budget: the same request gets the same usage on any machine, at any load
  const promptTokens = estimatePromptTokens(req as Record<string, unknown>, steadyBudget());
  const completion = choices.reduce((n, c) => n + c.tokens, 0);
  return {
    id: `chatcmpl-sim${hexId(idRng, 24)}`,
    created: Math.floor(nowMs / 1000),
    model: req.model,
    choices,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      prompt_tokens_details: { cached_tokens: cachedTokens(req, promptTokens), audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
  };
}

/**
 * Some calls read part of the prompt from a cache, as a provider's prompt cache would: decided
 * by the conversation before its last message, so a follow-up in the same conversation with
 * the same prefix behaves alike.
 */
function cachedTokens(req: ChatRequest, promptTokens: number): number {
  if (promptTokens < 128) return 0;
  const prefixSeed = seedOf(req.model, req.messages.slice(0, -1), req.tools ?? null);
  return prefixSeed % 3 === 0 ? 0 : Math.floor((promptTokens * 0.6) / 64) * 64;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join(' ');
}

function planChoice(req: ChatRequest, rng: Rng, index: number, idRng: Rng): PlannedChoice {
  const last = req.messages[req.messages.length - 1];
  const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
  const words = textOf(lastUser?.content).split(/\s+/).filter(Boolean);
  const tool = chooseTool(req, rng, last.role === 'tool' || last.role === 'function');
  if (tool) {
    // With parallel_tool_calls: true and tool_choice auto, every offered tool is called at once
    // (up to four), as models do for independent lookups; otherwise one tool.
    const all = req.parallel_tool_calls === true && typeof req.tool_choice !== 'object' ? (req.tools ?? []).slice(0, 4) : [tool];
    const calls: ToolCall[] = all.map((t) => ({
      id: `call_${hexId(idRng, 24)}`,
      type: 'function',
      function: { name: t.function.name, arguments: JSON.stringify(valueFor(t.function.parameters ?? { type: 'object', properties: {} }, rng, { words })) },
    }));
    const tokens = calls.reduce((n, c) => n + countTokens(c.function.name + c.function.arguments) + 7, 0);
    return { index, content: null, toolCalls: calls, finish: 'tool_calls', tokens };
  }
  let text: string;
  if (req.response_format?.type === 'json_schema') {
    text = JSON.stringify(valueFor(req.response_format.json_schema?.schema ?? { type: 'object' }, rng, { words }));
  } else if (req.response_format?.type === 'json_object') {
    text = JSON.stringify({ answer: answerText(rng, topicOf(words.join(' '))), confidence: Math.round(rng.next() * 100) / 100 });
  } else if (last.role === 'tool' || last.role === 'function') {
    text = afterToolText(rng, toolNameFor(req, last.tool_call_id), textOf(last.content));
  } else {
    text = answerText(rng, topicOf(words.join(' ')));
  }
  const limit = req.max_completion_tokens ?? req.max_tokens ?? undefined;
  const { text: cut, truncated } = limit ? truncateToTokens(text, limit) : { text, truncated: false };
  return { index, content: cut, toolCalls: [], finish: truncated ? 'length' : 'stop', tokens: countTokens(cut) };
}

/** A tool is called when the request offers tools, allows a call and the last message is not a tool result. */
function chooseTool(req: ChatRequest, rng: Rng, afterToolResult: boolean): z.infer<typeof ToolSchema> | undefined {
  const tools = req.tools ?? [];
  const choice = req.tool_choice ?? 'auto';
  if (!tools.length || choice === 'none') return undefined;
  if (typeof choice === 'object') return tools.find((t) => t.function.name === choice.function.name) ?? tools[0];
  if (afterToolResult && choice !== 'required') return undefined;
  return rng.pick(tools);
}

function toolNameFor(req: ChatRequest, callId: string | undefined): string {
  for (const m of req.messages) for (const c of m.tool_calls ?? []) if (callId && c.id === callId) return c.function?.name ?? '';
  return '';
}

function truncateToTokens(text: string, limit: number): { text: string; truncated: boolean } {
  if (countTokens(text) <= limit) return { text, truncated: false };
  const pieces = text.match(/\s*\S+/g) ?? [];
  let out = '';
  for (const p of pieces) {
    if (countTokens(out + p) > limit) break;
    out += p;
  }
  return { text: out, truncated: true };
}

/** The non-streaming answer. */
export function chatCompletion(plan: ChatPlan): Record<string, unknown> {
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: plan.choices.map((c) => ({
      index: c.index,
      message: { role: 'assistant', content: c.content, refusal: null, annotations: [], ...(c.toolCalls.length ? { tool_calls: c.toolCalls } : {}) },
      logprobs: null,
      finish_reason: c.finish,
    })),
    usage: plan.usage,
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
  };
}

/**
 * The stream as OpenAI sends it: a role chunk, content (or tool-call argument) pieces, a
 * finish chunk per choice, a usage-only chunk when asked for, then `[DONE]`. Each item is
 * one SSE frame with the number of tokens it carries (for pacing).
 */
export function chatStreamFrames(plan: ChatPlan, includeUsage: boolean): { frame: string; tokens: number }[] {
  const frames: { frame: string; tokens: number }[] = [];
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: plan.id, object: 'chat.completion.chunk', created: plan.created, model: plan.model, service_tier: 'default', system_fingerprint: FINGERPRINT, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const delta = (index: number, d: Record<string, unknown>, finish: string | null = null) => ({ index, delta: d, logprobs: null, finish_reason: finish });
  for (const c of plan.choices) {
    if (c.toolCalls.length) {
      c.toolCalls.forEach((call, j) => {
        frames.push({
          frame: chunk([
            delta(c.index, { role: 'assistant', content: null, tool_calls: [{ index: j, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }], refusal: null }),
          ]),
          tokens: 1,
        });
        for (const piece of call.function.arguments.match(/.{1,8}/gs) ?? []) {
          frames.push({ frame: chunk([delta(c.index, { tool_calls: [{ index: j, function: { arguments: piece } }] })]), tokens: 1 });
        }
      });
    } else {
      frames.push({ frame: chunk([delta(c.index, { role: 'assistant', content: '', refusal: null })]), tokens: 0 });
      for (const piece of c.content?.match(/\s*\S+/g) ?? []) frames.push({ frame: chunk([delta(c.index, { content: piece })]), tokens: 1 });
    }
    frames.push({ frame: chunk([delta(c.index, {}, c.finish)]), tokens: 0 });
  }
  if (includeUsage) frames.push({ frame: chunk([], { usage: plan.usage }), tokens: 0 });
  frames.push({ frame: 'data: [DONE]\n\n', tokens: 0 });
  return frames;
}
