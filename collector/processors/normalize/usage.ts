import type { Attributes } from '../../model.js';
import { firstInt, tryJson } from '../attrs.js';
import type { Seen } from './detect.js';
import { normalizeTokens, type RawUsage, type Tokens } from './tokens.js';

const GENAI_INPUT = ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.usage.prompt_tokens'];
const GENAI_OUTPUT = ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.usage.completion_tokens'];
const GENAI_CACHE_READ = [
  'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.usage.cache_read_input_tokens', // OpenLLMetry
  'llm.usage.cache_read_input_tokens',
  'gen_ai.usage.input_tokens.cached', // older vendor SDKs
];
const GENAI_CACHE_WRITE = [
  'gen_ai.usage.cache_creation.input_tokens',
  'gen_ai.usage.cache_creation_input_tokens', // OpenLLMetry
  'llm.usage.cache_creation_input_tokens',
  'gen_ai.usage.input_tokens.cache_write',
];
const GENAI_REASONING = ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens', 'llm.usage.reasoning_tokens', 'gen_ai.usage.output_tokens.reasoning'];
const GENAI_TOTAL = ['llm.usage.total_tokens', 'gen_ai.usage.total_tokens'];

function genaiUsage(a: Attributes): RawUsage {
  return {
    input: firstInt(a, GENAI_INPUT),
    output: firstInt(a, GENAI_OUTPUT),
    cacheRead: firstInt(a, GENAI_CACHE_READ),
    cacheWrite: firstInt(a, GENAI_CACHE_WRITE),
    reasoning: firstInt(a, GENAI_REASONING),
    total: firstInt(a, GENAI_TOTAL),
  };
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** Cache figures the AI SDK only puts in `ai.response.providerMetadata` (Anthropic, Bedrock). */
function vercelProviderCache(raw: string | undefined): { read?: number; write?: number } {
  // Parse only when a cache figure can be in it.
  if (raw === undefined || !raw.includes('InputTokens')) return {};
  const meta = tryJson(raw) as Record<string, Record<string, unknown> | undefined> | undefined;
  const anthropic = meta?.anthropic;
  const bedrock = meta?.bedrock?.usage as Record<string, unknown> | undefined;
  return {
    read: num(anthropic?.cacheReadInputTokens) ?? num(bedrock?.cacheReadInputTokens),
    write: num(anthropic?.cacheCreationInputTokens) ?? num(bedrock?.cacheWriteInputTokens),
  };
}

/**
 * The AI SDK's own usage (`ai.usage.*`: v4 promptTokens/completionTokens, v5 inputTokens/
 * outputTokens/cachedInputTokens/reasoningTokens). Its Anthropic and Bedrock providers (v4, v5)
 * pass the provider's input count through, which leaves cache reads and writes out.
 */
function vercelUsage(a: Attributes): RawUsage {
  const provider = (a['ai.model.provider'] ?? '').toLowerCase();
  const cache = vercelProviderCache(a['ai.response.providerMetadata']);
  return {
    input: firstInt(a, ['ai.usage.inputTokens', 'ai.usage.promptTokens', 'ai.usage.tokens']),
    output: firstInt(a, ['ai.usage.outputTokens', 'ai.usage.completionTokens']),
    cacheRead: firstInt(a, ['ai.usage.cachedInputTokens']) ?? cache.read,
    cacheWrite: cache.write,
    reasoning: firstInt(a, ['ai.usage.reasoningTokens']),
    total: firstInt(a, ['ai.usage.totalTokens']),
    inputExcludesCache: provider.startsWith('anthropic') || provider.startsWith('amazon-bedrock') ? true : undefined,
  };
}

/** Token counts from whichever convention the span reports usage in (the AI SDK's own first). */
export function spanTokens(a: Attributes, seen: Seen): Tokens | undefined {
  if (seen.vercel) {
    const t = normalizeTokens(vercelUsage(a));
    if (t) return t;
  }
  return seen.genai || seen.openllmetry ? normalizeTokens(genaiUsage(a)) : undefined;
}
