import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** USD per million tokens of each kind. Missing cached/cache-write/reasoning prices fall back. */
const ModelPriceSchema = z.object({
  /** Glob on the model name (`*` any run of characters), matched case-insensitively. */
  pattern: z.string().min(1),
  provider: z.string().min(1),
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  /** Cache-read input tokens; defaults to the input price. */
  cached_input: z.number().nonnegative().optional(),
  /** Cache-creation input tokens; defaults to the input price. */
  cache_write: z.number().nonnegative().optional(),
  /** Reasoning output tokens; defaults to the output price. */
  reasoning: z.number().nonnegative().optional(),
  /** When this row's prices were taken (YYYY-MM-DD), when later than the table's `taken`. */
  taken: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});

export const PriceTableSchema = z.object({
  currency: z.literal('USD'),
  unit: z.literal('per million tokens'),
  /** The date the prices were taken (YYYY-MM-DD). */
  taken: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  source: z.string(),
  models: z.array(ModelPriceSchema).min(1),
});

export type PriceTable = z.infer<typeof PriceTableSchema>;
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

export function pricesPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'prices.json'), join(here, '..', '..', 'schemas', 'prices.json')]) {
    try {
      readFileSync(p);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(`schemas/prices.json not found near ${here}`);
}

export function loadPriceTable(path = pricesPath()): PriceTable {
  return PriceTableSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/**
 * The model name as prices are keyed: lower case, without a `vendor/` route prefix or a
 * Bedrock/Vertex vendor prefix (`anthropic.claude-…`), and without a Bedrock `-v1:0` suffix.
 */
export function canonicalModel(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/^.*\//, '')
    .replace(/^(anthropic|openai|meta|mistral|cohere|amazon|us|eu|apac)\.(?=[a-z])/g, '')
    .replace(/^(anthropic|openai|meta|mistral|cohere|amazon)\./, '')
    .replace(/-v\d+(:\d+)?$/, '')
    .replace(/@.*$/, '');
}

/** The glob as an anchored regular expression (RE2-compatible: ClickHouse matches the same source). */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .toLowerCase()
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** How specific a pattern is: the longest literal part wins, ties in file order. */
export function patternWeight(pattern: string): number {
  return pattern.replaceAll('*', '').length;
}

export interface PriceIndex {
  table: PriceTable;
  find(model: string): ModelPrice | undefined;
}

/** Builds a matcher: the longest (most specific) matching pattern wins. */
export function indexPrices(table: PriceTable): PriceIndex {
  const entries = table.models.map((m) => ({ m, re: globToRegExp(m.pattern), weight: patternWeight(m.pattern) })).sort((a, b) => b.weight - a.weight);
  const cache = new Map<string, ModelPrice | undefined>();
  return {
    table,
    find(model) {
      const key = canonicalModel(model);
      if (cache.has(key)) return cache.get(key);
      const hit = entries.find((e) => e.re.test(key))?.m;
      if (cache.size < 10_000) cache.set(key, hit);
      return hit;
    },
  };
}

/**
 * Token counts as tracegate stores them: `prompt` includes cache-read and cache-write tokens,
 * `completion` includes reasoning tokens (OpenAI's convention; Anthropic's uncached
 * `input_tokens` are normalized to it before they reach a span).
 */
export interface TokenCounts {
  prompt: number;
  completion: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

export interface Cost {
  prompt: number;
  completion: number;
  total: number;
  /** Parts of the prompt cost. */
  input: number;
  cacheRead: number;
  cacheWrite: number;
  /** Parts of the completion cost. */
  output: number;
  reasoning: number;
}

const PER = 1_000_000;

/** Prices one call; each kind of token at its own price, nothing counted twice. */
export function computeCost(price: ModelPrice, t: TokenCounts): Cost {
  const cacheRead = Math.max(0, t.cacheRead ?? 0);
  const cacheWrite = Math.max(0, t.cacheWrite ?? 0);
  const reasoning = Math.min(Math.max(0, t.reasoning ?? 0), Math.max(0, t.completion));
  const plainInput = Math.max(0, t.prompt - cacheRead - cacheWrite);
  const plainOutput = Math.max(0, t.completion - reasoning);
  const input = (plainInput * price.input) / PER;
  const cr = (cacheRead * (price.cached_input ?? price.input)) / PER;
  const cw = (cacheWrite * (price.cache_write ?? price.input)) / PER;
  const output = (plainOutput * price.output) / PER;
  const rs = (reasoning * (price.reasoning ?? price.output)) / PER;
  const prompt = input + cr + cw;
  const completion = output + rs;
  return { prompt, completion, total: prompt + completion, input, cacheRead: cr, cacheWrite: cw, output, reasoning: rs };
}
