/**
 * Provider usage objects → tracegate's `Usage` (prompt includes cache reads and writes,
 * completion includes reasoning), and back to OpenAI's shape for translated answers.
 */
import { isObject, num } from './helpers.js';
import type { Usage } from '../types.js';

export function withOptional(u: Usage, key: 'cacheReadTokens' | 'cacheWriteTokens' | 'reasoningTokens', v: number | undefined): Usage {
  if (v !== undefined && v > 0) u[key] = v;
  return u;
}

/** Where an OpenAI-style usage object keeps each count (Chat Completions and Responses differ). */
const CHAT_KEYS = ['prompt_tokens', 'completion_tokens', 'prompt_tokens_details', 'completion_tokens_details'] as const;
const RESPONSES_KEYS = ['input_tokens', 'output_tokens', 'input_tokens_details', 'output_tokens_details'] as const;

function openAIStyle(raw: unknown, [inKey, outKey, inDetails, outDetails]: readonly string[]): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const prompt = num(raw[inKey]) ?? 0;
  const completion = num(raw[outKey]) ?? 0;
  const u: Usage = { promptTokens: prompt, completionTokens: completion, totalTokens: num(raw.total_tokens) ?? prompt + completion };
  const pd = raw[inDetails];
  const cd = raw[outDetails];
  withOptional(u, 'cacheReadTokens', isObject(pd) ? num(pd.cached_tokens) : undefined);
  withOptional(u, 'reasoningTokens', isObject(cd) ? num(cd.reasoning_tokens) : undefined);
  return u;
}

/** Chat Completions / Embeddings `usage`. */
export const usageFromOpenAI = (raw: unknown): Usage | undefined => openAIStyle(raw, CHAT_KEYS);

/** Responses API `usage` (input already includes cached tokens, output includes reasoning). */
export const usageFromResponses = (raw: unknown): Usage | undefined => openAIStyle(raw, RESPONSES_KEYS);

/** tracegate `Usage` → OpenAI chat `usage` for a translated answer. */
export function openAIUsageOf(u: Usage): Record<string, unknown> {
  const out: Record<string, unknown> = {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
  };
  if (u.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}
