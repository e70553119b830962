/**
 * Gemini `usageMetadata` → tracegate's `Usage` (gateway/providers/types.ts: prompt includes cache
 * reads, completion includes reasoning).
 *
 * Gemini counts: `promptTokenCount` (includes `cachedContentTokenCount`), `candidatesTokenCount`
 * (the answer, WITHOUT thoughts), `thoughtsTokenCount`, `toolUsePromptTokenCount` (results of
 * server-side tools fed back as input), and `totalTokenCount` = prompt + candidates + tool-use
 * prompt + thoughts. So: prompt = prompt + tool-use prompt, completion = candidates + thoughts,
 * reasoning = thoughts, cache reads = cached content; the total then equals Gemini's.
 */
import { isObject, num } from '../shared/helpers.js';
import type { Usage } from '../types.js';

export function usageFromGemini(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  const prompt = (num(raw.promptTokenCount) ?? 0) + (num(raw.toolUsePromptTokenCount) ?? 0);
  const thoughts = num(raw.thoughtsTokenCount) ?? 0;
  const completion = (num(raw.candidatesTokenCount) ?? 0) + thoughts;
  const u: Usage = { promptTokens: prompt, completionTokens: completion, totalTokens: num(raw.totalTokenCount) ?? prompt + completion };
  const cached = num(raw.cachedContentTokenCount);
  if (cached !== undefined && cached > 0) u.cacheReadTokens = cached;
  if (thoughts > 0) u.reasoningTokens = thoughts;
  return u;
}
