/** Anthropic's usage counters → tracegate's `Usage` (prompt = input + cache reads + cache writes). */
import { isObject, num } from '../shared/helpers.js';
import { withOptional } from '../shared/usage.js';
import type { Usage } from '../types.js';

/** The raw counters Anthropic reports; a stream merges `message_start` and `message_delta` ones. */
export interface AnthropicCounters {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
}

/** Fields present in `raw` override those in `into` (message_delta carries final counts). */
export function mergeAnthropicCounters(into: AnthropicCounters, raw: unknown): AnthropicCounters {
  if (!isObject(raw)) return into;
  const input = num(raw.input_tokens);
  const output = num(raw.output_tokens);
  const cacheRead = num(raw.cache_read_input_tokens);
  const cacheWrite = num(raw.cache_creation_input_tokens);
  if (input !== undefined) into.input = input;
  if (output !== undefined) into.output = output;
  if (cacheRead !== undefined) into.cacheRead = cacheRead;
  if (cacheWrite !== undefined) into.cacheWrite = cacheWrite;
  return into;
}

export function usageFromAnthropic(c: AnthropicCounters): Usage {
  const prompt = (c.input ?? 0) + (c.cacheRead ?? 0) + (c.cacheWrite ?? 0);
  const completion = c.output ?? 0;
  const u: Usage = { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion };
  withOptional(u, 'cacheReadTokens', c.cacheRead);
  withOptional(u, 'cacheWriteTokens', c.cacheWrite);
  return u;
}
