import { describe, expect, it } from 'vitest';
import { normalizeTokens, type RawUsage } from '../../../collector/processors/normalize/tokens.js';

/**
 * tracegate stores prompt INCLUDING cache-read and cache-write tokens and completion INCLUDING
 * reasoning tokens. Each rule of normalizeTokens, with the source that needs it.
 */
const cases: Array<[rule: string, raw: RawUsage, want: ReturnType<typeof normalizeTokens>]> = [
  ['no usage at all: nothing', {}, undefined],
  ['plain counts: total filled', { input: 10, output: 5 }, { prompt: 10, completion: 5, total: 15 }],
  ['GenAI/OpenAI: input includes the cache reads', { input: 1000, output: 10, cacheRead: 400 }, { prompt: 1000, completion: 10, total: 1010, cacheRead: 400 }],
  [
    'cache larger than input: the input was uncached, cache added',
    { input: 10, output: 1, cacheRead: 900, cacheWrite: 100 },
    { prompt: 1010, completion: 1, total: 1011, cacheRead: 900, cacheWrite: 100 },
  ],
  ['a total equal to input + cache + output: uncached input, cache added', { input: 800, output: 50, cacheRead: 300, total: 1150 }, { prompt: 1100, completion: 50, total: 1150, cacheRead: 300 }],
  ['a total equal to input + output: input includes the cache', { input: 800, output: 50, cacheRead: 300, total: 850 }, { prompt: 800, completion: 50, total: 850, cacheRead: 300 }],
  [
    'source known to leave the cache out (AI SDK Anthropic): added even when small',
    { input: 1000, output: 5, cacheRead: 10, cacheWrite: 20, inputExcludesCache: true },
    { prompt: 1030, completion: 5, total: 1035, cacheRead: 10, cacheWrite: 20 },
  ],
  ['source known to include it: never added', { input: 10, output: 5, cacheRead: 900, inputExcludesCache: false }, { prompt: 10, completion: 5, total: 15, cacheRead: 900 }],
  ['OpenAI reasoning inside output', { input: 10, output: 500, reasoning: 400 }, { prompt: 10, completion: 500, total: 510, reasoning: 400 }],
  ['reasoning larger than output: added (Gemini thoughts)', { input: 10, output: 20, reasoning: 70 }, { prompt: 10, completion: 90, total: 100, reasoning: 70 }],
  ['a total showing reasoning outside output: added', { input: 10, output: 50, reasoning: 40, total: 100 }, { prompt: 10, completion: 90, total: 100, reasoning: 40 }],
  ['output only (embeddings report input only, chat may report output only)', { output: 7 }, { prompt: 0, completion: 7, total: 7 }],
];

describe('token semantics: nothing counted twice, nothing missed', () => {
  it.each(cases)('%s', (_, raw, want) => {
    expect(normalizeTokens(raw)).toEqual(want);
  });
});
