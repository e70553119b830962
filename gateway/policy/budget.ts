/**
 * What a call costs against a budget, priced by schemas/prices.ts, the module the collector
 * prices spans with (one price table, one computeCost), in the counters' integer nano-USD.
 *
 * Before sending: the worst case, the estimated input tokens plus the most output the call can
 * produce (its max_tokens / max_completion_tokens / max_output_tokens, else the configured cap),
 * at the prices of the model about to be called. After: the real usage at the prices of the
 * model that answered, as the collector will price the call's span (response model first).
 */
import { computeCost, type ModelPrice, type PriceIndex, type TokenCounts } from '../../schemas/prices.js';
import type { Usage } from '../providers/types.js';
import { toNano } from './counters.js';

/** The output cap a client's body asks for, whichever API's field it uses. */
export function requestedMaxTokens(body: Record<string, unknown>): number | undefined {
  // Google's generateContent keeps it in generationConfig.maxOutputTokens.
  const g = body.generationConfig;
  return (
    tokenCount(body.max_completion_tokens) ??
    tokenCount(body.max_tokens) ??
    tokenCount(body.max_output_tokens) ??
    (typeof g === 'object' && g !== null ? tokenCount((g as Record<string, unknown>).maxOutputTokens) : undefined)
  );
}

const tokenCount = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

export function tokensOf(u: Usage): TokenCounts {
  return { prompt: u.promptTokens, completion: u.completionTokens, cacheRead: u.cacheReadTokens, cacheWrite: u.cacheWriteTokens, reasoning: u.reasoningTokens };
}

/** Model names whose prices are remembered as given (the index remembers them by canonical name). */
const NAMES_KEPT = 10_000;

export class Pricing {
  /** Model name as given → its prices: the name's canonical form is worked out once, not twice a call. */
  private readonly byName = new Map<string, ModelPrice | undefined>();

  constructor(private readonly prices: PriceIndex) {}

  private price(model: string): ModelPrice | undefined {
    if (this.byName.has(model)) return this.byName.get(model);
    const price = this.prices.find(model);
    if (this.byName.size < NAMES_KEPT) this.byName.set(model, price);
    return price;
  }

  /** nano-USD for these tokens at the model's prices; 0 for a model the table does not price (as the collector). */
  cost(model: string | undefined, t: TokenCounts): number {
    const price = model ? this.price(model) : undefined;
    return price ? toNano(computeCost(price, t).total) : 0;
  }

  worstCase(model: string, inputTokens: number, outputTokens: number): number {
    return this.cost(model, { prompt: inputTokens, completion: outputTokens });
  }

  /** The real cost, priced by the first model name that the table knows, response model first. */
  settle(models: readonly (string | undefined)[], usage: Usage): number {
    for (const m of models) if (m && this.price(m)) return this.cost(m, tokensOf(usage));
    return 0;
  }
}
