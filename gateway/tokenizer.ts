/**
 * Token estimates for answers whose provider reported no usage (some OpenAI-compatible servers
 * ignore `stream_options.include_usage`; a stream cut short has none). Counts use OpenAI's BPE
 * encodings (o200k for the GPT-4o/4.1/5 and o-series families, cl100k for everything else, an
 * approximation for non-OpenAI models) and OpenAI's chat framing: 3 tokens per message, 1 more
 * for a `name`, 3 to prime the reply. Images count a flat 85 tokens (a low-detail tile), tool
 * definitions as their JSON text. Results are marked `estimated: true`.
 *
 * The encodings load on first use (about 150 ms for o200k), never at import time.
 */
import { createRequire } from 'node:module';
import type { ToolCallOut, Usage } from './translators/types.js';

type EncodingName = 'o200k_base' | 'cl100k_base';
type Counter = (text: string, opts: { disallowedSpecial: Set<string> }) => number;

const loaded = new Map<EncodingName, Counter>();
// Special-token text in a prompt is ordinary text here, not an error.
const PLAIN = { disallowedSpecial: new Set<string>() };

const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;
const IMAGE_TOKENS = 85;

const O200K = /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|chatgpt-4o|o1|o3|o4|codex)/;

export function encodingFor(model: string | undefined): EncodingName {
  const bare = (model ?? '').toLowerCase().replace(/^.*\//, '');
  return O200K.test(bare) ? 'o200k_base' : 'cl100k_base';
}

function counter(name: EncodingName): Counter {
  let c = loaded.get(name);
  if (!c) {
    const require = createRequire(import.meta.url);
    c = (require(`gpt-tokenizer/encoding/${name}`) as { countTokens: Counter }).countTokens;
    loaded.set(name, c);
  }
  return c;
}

export function countTokens(text: string, model?: string): number {
  return text ? counter(encodingFor(model))(text, PLAIN) : 0;
}

/** Text of a message `content`: a string, or the text of its parts; images counted separately. */
function contentTokens(content: unknown, model: string | undefined): number {
  if (typeof content === 'string') return countTokens(content, model);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part !== 'object' || part === null) continue;
    const p = part as Record<string, unknown>;
    if (typeof p.text === 'string') n += countTokens(p.text, model);
    else if (typeof p.refusal === 'string') n += countTokens(p.refusal, model);
    else if (p.type === 'image_url' || p.type === 'image') n += IMAGE_TOKENS;
  }
  return n;
}

function messageTokens(m: Record<string, unknown>, model: string | undefined): number {
  let n = PER_MESSAGE + countTokens(typeof m.role === 'string' ? m.role : '', model) + contentTokens(m.content, model);
  if (typeof m.name === 'string') n += PER_NAME + countTokens(m.name, model);
  if (Array.isArray(m.tool_calls)) n += countTokens(JSON.stringify(m.tool_calls), model);
  if (typeof m.tool_call_id === 'string') n += countTokens(m.tool_call_id, model);
  return n;
}

/** Prompt tokens of an OpenAI chat request body. */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  const model = typeof body.model === 'string' ? body.model : undefined;
  let n = REPLY_PRIMING;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) if (typeof m === 'object' && m !== null) n += messageTokens(m as Record<string, unknown>, model);
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) n += countTokens(JSON.stringify(body.tools), model);
  return n;
}

/**
 * Usage of a chat call from the request and the output the gateway saw. `toolCalls` are the
 * accumulated calls (or their JSON text).
 */
export function estimateChatUsage(body: Record<string, unknown>, outputText: string, toolCalls?: ToolCallOut[] | string): Usage {
  const model = typeof body.model === 'string' ? body.model : undefined;
  const promptTokens = estimatePromptTokens(body);
  let completionTokens = countTokens(outputText, model);
  if (typeof toolCalls === 'string') completionTokens += countTokens(toolCalls, model);
  else if (toolCalls) for (const c of toolCalls) completionTokens += countTokens(c.name, model) + countTokens(c.arguments, model);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, estimated: true };
}

/** Usage of an embeddings call: the tokens of its input (strings; token arrays count as given). */
export function estimateEmbeddingUsage(body: Record<string, unknown>): Usage {
  const model = typeof body.model === 'string' ? body.model : undefined;
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  let n = 0;
  for (const i of inputs) {
    if (typeof i === 'string') n += countTokens(i, model);
    else if (typeof i === 'number') n += 1;
    else if (Array.isArray(i)) n += i.length;
  }
  return { promptTokens: n, completionTokens: 0, totalTokens: n, estimated: true };
}
