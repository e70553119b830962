import type { TokenCounts } from '../../../schemas/prices.js';

/** Token figures as a source reported them, before they are made to mean what tracegate stores. */
export interface RawUsage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
  total?: number;
  /** The source is known to count input without cache reads/writes (Anthropic, Bedrock style). */
  inputExcludesCache?: boolean;
  /** The source is known to count output without reasoning (Gemini style). */
  outputExcludesReasoning?: boolean;
}

export type Tokens = Required<Pick<TokenCounts, 'prompt' | 'completion'>> & TokenCounts & { total: number };

/**
 * Brings a usage report to tracegate's meaning: prompt includes cache-read and cache-write
 * tokens, completion includes reasoning tokens, total is their sum.
 *
 * Rules, in order, when the source does not say which way it counts:
 * - cache reads + writes larger than the input count: the input cannot include them, add them;
 * - a reported total equal to input + cache + output (+ reasoning): the input left cache out, add it;
 * - otherwise the input includes them (the GenAI convention and OpenAI's usage);
 * and the same for reasoning against output (reasoning above output, or a total that shows it
 * was left out: Gemini's candidates count leaves thoughts out).
 */
export function normalizeTokens(u: RawUsage): Tokens | undefined {
  if (u.input === undefined && u.output === undefined) return undefined;
  const input = u.input ?? 0;
  const output = u.output ?? 0;
  const cacheRead = u.cacheRead ?? 0;
  const cacheWrite = u.cacheWrite ?? 0;
  const reasoning = u.reasoning ?? 0;
  const cache = cacheRead + cacheWrite;
  const totalSays = (sum: number) => u.total !== undefined && u.total === sum;

  const inputExcl = u.inputExcludesCache ?? (cache > input || (cache > 0 && (totalSays(input + cache + output) || totalSays(input + cache + output + reasoning))));
  const prompt = inputExcl ? input + cache : input;
  const outputExcl = u.outputExcludesReasoning ?? (reasoning > output || (reasoning > 0 && totalSays(prompt + output + reasoning)));
  const completion = outputExcl ? output + reasoning : output;

  const t: Tokens = { prompt, completion, total: prompt + completion };
  if (u.cacheRead !== undefined) t.cacheRead = cacheRead;
  if (u.cacheWrite !== undefined) t.cacheWrite = cacheWrite;
  if (u.reasoning !== undefined) t.reasoning = reasoning;
  return t;
}
