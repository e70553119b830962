/**
 * Token estimates for answers whose provider reported no usage (some OpenAI-compatible servers
 * ignore `stream_options.include_usage`; a stream cut short has none). Counts use OpenAI's BPE
 * encodings (o200k for the GPT-4o/4.1/5 and o-series families, cl100k for everything else, an
 * approximation for non-OpenAI models) and OpenAI's chat framing: 3 tokens per message, 1 more
 * for a `name`, 3 to prime the reply. Images count a flat 85 tokens (a low-detail tile), tool
 * definitions as their JSON text. Results are marked `estimated: true`.
 *
 * The encodings load on first use (about 150 ms for o200k), never at import time.
 *
 * Bounded and linear: BPE merging is quadratic in the length of a "word" (a 16k-character word
 * with no spaces took 1.6 s), and a request may carry megabytes. So the BPE never sees more than
 * `CHUNK_CHARS` characters at once (cut at a space when there is one nearby), and one estimate
 * counts at most `EXACT_CHARS` characters with it, for at most `EXACT_MS`; past that, text is
 * sampled (evenly spaced chunks) or, once the budget is spent, priced at the tokens-per-character
 * rate counted so far.
 * Such a result says `sampled: true` (the span gets `tracegate.tokens.sampled`).
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { ToolCallOut, Usage } from './providers/types.js';

type EncodingName = 'o200k_base' | 'cl100k_base';
type Counter = (text: string, opts: { disallowedSpecial: Set<string> }) => number;

const loaded = new Map<EncodingName, Counter>();
// Special-token text in a prompt is ordinary text here, not an error.
const PLAIN = { disallowedSpecial: new Set<string>() };

const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;
const IMAGE_TOKENS = 85;

/** Characters the BPE sees at once. */
export const CHUNK_CHARS = 256;
/** Characters one estimate counts with the BPE; the rest is sampled or priced at the rate so far. */
export const EXACT_CHARS = 4096;
/**
 * Milliseconds one budget (a call's prompt, or its answer) spends counting exactly; past them it
 * prices the rest at the rate so far. A call's estimate has two, in one turn of the event loop.
 */
export const EXACT_MS = 5;
/** A chunk is cut at a space within this many characters of its end, when there is one. */
const CUT_SLACK = 48;
/** Tokens per character before anything was counted (English text runs at about 0.25). */
const DEFAULT_RATE = 0.25;

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

/** What one estimate may still count exactly, and what it counted. */
export class TokenBudget {
  left: number;
  chars = 0;
  tokens = 0;
  /** Some text was sampled or priced at a rate rather than counted. */
  sampled = false;
  private readonly deadline: number;

  constructor(exactChars = EXACT_CHARS, exactMs = EXACT_MS) {
    this.left = exactChars;
    this.deadline = performance.now() + exactMs;
  }

  get rate(): number {
    return this.chars > 0 ? this.tokens / this.chars : DEFAULT_RATE;
  }

  /** Past the time budget: a slow machine or a slow kind of text counts less, not longer. */
  expired(): boolean {
    return performance.now() > this.deadline;
  }
}

type Seen = { tokens: number; chars: number };

/** `text` counted from its start chunk by chunk (each cut at a space near its end when there is one) until done or the time budget is spent. */
function countRun(c: Counter, text: string, b: TokenBudget): Seen {
  let tokens = 0;
  let i = 0;
  const to = text.length;
  while (i < to) {
    let end = Math.min(to, i + CHUNK_CHARS);
    if (end < to) {
      const space = text.lastIndexOf(' ', end);
      if (space > end - CUT_SLACK && space > i) end = space;
    }
    tokens += c(text.slice(i, end), PLAIN);
    i = end;
    if (b.expired()) break;
  }
  return { tokens, chars: i };
}

/** Evenly spaced chunks of `text` worth what the budget has left, counted until done or the time budget is spent. */
function sample(c: Counter, text: string, b: TokenBudget): Seen {
  const k = Math.max(1, Math.floor(b.left / CHUNK_CHARS));
  const stride = text.length / k;
  let tokens = 0;
  let chars = 0;
  for (let j = 0; j < k; j++) {
    const at = Math.floor(j * stride);
    const end = Math.min(text.length, at + CHUNK_CHARS);
    tokens += c(text.slice(at, end), PLAIN);
    chars += end - at;
    if (b.expired()) break;
  }
  return { tokens, chars };
}

/** Tokens of `text` within `budget`: exact while it lasts, then sampled, then priced at the rate so far. */
export function countTokensWithin(text: string, model: string | undefined, budget: TokenBudget): number {
  if (!text) return 0;
  const len = text.length;
  let seen: Seen = { tokens: 0, chars: 0 };
  if (budget.left > 0 && !budget.expired()) {
    const c = counter(encodingFor(model));
    seen = len <= budget.left ? countRun(c, text, budget) : sample(c, text, budget);
    budget.left = len <= budget.left ? budget.left - seen.chars : 0;
    budget.chars += seen.chars;
    budget.tokens += seen.tokens;
  }
  if (seen.chars === len) return seen.tokens;
  budget.sampled = true;
  const rate = seen.chars > 0 ? seen.tokens / seen.chars : budget.rate;
  return Math.round(rate * len);
}

/**
 * Loads both encodings and runs each over a little of every kind of text once. The first counts
 * after loading are slow while V8 compiles the merge loop (a first 4 MB random prompt took 185 ms,
 * the next 13 ms); a server calls this before it listens, so no request pays for it.
 */
export function warmTokenizer(): void {
  let mixed = 'Hello, world! 12345 ¿Qué tal? 漢字かなカナ 😀👍🏽 \t\n{"a":[1,2]} ';
  for (let i = 0; i < 512; i++) mixed += String.fromCharCode(33 + ((i * 7919) % 0xd000));
  for (const name of ['o200k_base', 'cl100k_base'] as const) {
    const c = counter(name);
    countRun(c, mixed, new TokenBudget(mixed.length, Infinity));
  }
}

/**
 * A budget that counts the same way every time: exact up to EXACT_CHARS characters, sampled past
 * them, with no time limit (the characters bound it: about a millisecond). For the simulated
 * provider, whose usage must not change with the machine's load.
 */
export function steadyBudget(): TokenBudget {
  return new TokenBudget(EXACT_CHARS, Number.POSITIVE_INFINITY);
}

/** Tokens of one text, with a steady budget of its own (the same count on every machine and load). */
export function countTokens(text: string, model?: string): number {
  return countTokensWithin(text, model, steadyBudget());
}

/** Text of a message `content`: a string, or the text of its parts; images counted separately. */
function contentTokens(content: unknown, model: string | undefined, b: TokenBudget): number {
  if (typeof content === 'string') return countTokensWithin(content, model, b);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part !== 'object' || part === null) continue;
    const p = part as Record<string, unknown>;
    if (typeof p.text === 'string') n += countTokensWithin(p.text, model, b);
    else if (typeof p.refusal === 'string') n += countTokensWithin(p.refusal, model, b);
    else if (p.type === 'image_url' || p.type === 'image') n += IMAGE_TOKENS;
  }
  return n;
}

function messageTokens(m: Record<string, unknown>, model: string | undefined, b: TokenBudget): number {
  let n = PER_MESSAGE + countTokensWithin(typeof m.role === 'string' ? m.role : '', model, b) + contentTokens(m.content, model, b);
  if (typeof m.name === 'string') n += PER_NAME + countTokensWithin(m.name, model, b);
  if (Array.isArray(m.tool_calls)) n += countTokensWithin(JSON.stringify(m.tool_calls), model, b);
  if (typeof m.tool_call_id === 'string') n += countTokensWithin(m.tool_call_id, model, b);
  return n;
}

/** Prompt tokens of an OpenAI chat request body (within `budget`: pass one to learn whether it sampled). */
export function estimatePromptTokens(body: Record<string, unknown>, budget = new TokenBudget()): number {
  const model = typeof body.model === 'string' ? body.model : undefined;
  let n = REPLY_PRIMING;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) if (typeof m === 'object' && m !== null) n += messageTokens(m as Record<string, unknown>, model, budget);
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) n += countTokensWithin(JSON.stringify(body.tools), model, budget);
  return n;
}

/** An estimate: `sampled` when part of the text was sampled or priced at a rate rather than counted. */
export interface EstimatedUsage extends Usage {
  estimated: true;
  sampled: boolean;
}

/**
 * Usage of a chat call from the request and the output the gateway saw. `toolCalls` are the
 * accumulated calls (or their JSON text).
 */
export function estimateChatUsage(body: Record<string, unknown>, outputText: string, toolCalls?: ToolCallOut[] | string): EstimatedUsage {
  const model = typeof body.model === 'string' ? body.model : undefined;
  // The answer and the prompt get a budget each: a long prompt must not leave the answer unmeasured.
  const prompt = new TokenBudget();
  const promptTokens = estimatePromptTokens(body, prompt);
  const out = new TokenBudget();
  let completionTokens = countTokensWithin(outputText, model, out);
  if (typeof toolCalls === 'string') completionTokens += countTokensWithin(toolCalls, model, out);
  else if (toolCalls) for (const c of toolCalls) completionTokens += countTokensWithin(c.name, model, out) + countTokensWithin(c.arguments, model, out);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, estimated: true, sampled: prompt.sampled || out.sampled };
}

/** Usage of an embeddings call: the tokens of its input (strings; token arrays count as given). */
export function estimateEmbeddingUsage(body: Record<string, unknown>): EstimatedUsage {
  const model = typeof body.model === 'string' ? body.model : undefined;
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const b = new TokenBudget();
  let n = 0;
  for (const i of inputs) {
    if (typeof i === 'string') n += countTokensWithin(i, model, b);
    else if (typeof i === 'number') n += 1;
    else if (Array.isArray(i)) n += i.length;
  }
  return { promptTokens: n, completionTokens: 0, totalTokens: n, estimated: true, sampled: b.sampled };
}
