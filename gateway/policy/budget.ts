/**
 * What a call costs against a budget, priced by schemas/prices.ts, the module the collector
 * prices spans with (one price table, one computeCost), in the counters' integer nano-USD.
 *
 * Before sending: the worst case, the estimated input tokens plus the most output the call can
 * produce (its max_tokens / max_completion_tokens / max_output_tokens, else the configured cap),
 * at the prices of the model about to be called. After: the real usage at the prices of the
 * model that answered, as the collector will price the call's span (response model first).
 */
import { computeCost, type PriceIndex, type TokenCounts } from '../../schemas/prices.js';
import type { Usage } from '../providers/types.js';
import { toNano } from './counters.js';

/** The output cap a client's body asks for, whichever API's field it uses. */
export function requestedMaxTokens(body: Record<string, unknown>): number | undefined {
  // Google's generateContent keeps it in generationConfig.maxOutputTokens.
  const g = body.generationConfig;
  const fields: [Record<string, unknown>, string][] = [
    [body, 'max_completion_tokens'],
    [body, 'max_tokens'],
    [body, 'max_output_tokens'],
  ];
  if (typeof g === 'object' && g !== null) fields.push([g as Record<string, unknown>, 'maxOutputTokens']);
  for (const [o, f] of fields) {
    const v = o[f];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  }
  return undefined;
}

export function tokensOf(u: Usage): TokenCounts {
  return { prompt: u.promptTokens, completion: u.completionTokens, cacheRead: u.cacheReadTokens, cacheWrite: u.cacheWriteTokens, reasoning: u.reasoningTokens };
}

export class Pricing {
  constructor(private readonly prices: PriceIndex) {}

  /** nano-USD for these tokens at the model's prices; 0 for a model the table does not price (as the collector). */
  cost(model: string | undefined, t: TokenCounts): number {
    const price = model ? this.prices.find(model) : undefined;
    return price ? toNano(computeCost(price, t).total) : 0;
  }

  worstCase(model: string, inputTokens: number, outputTokens: number): number {
    return this.cost(model, { prompt: inputTokens, completion: outputTokens });
  }

  /** The real cost, priced by the first model name that the table knows, response model first. */
  settle(models: readonly (string | undefined)[], usage: Usage): number {
    for (const m of models) if (m && this.prices.find(m)) return this.cost(m, tokensOf(usage));
    return 0;
  }
}
