import { OI, TG } from '../../common/semconv.js';
import type { SpanRecord } from '../model.js';
import { computeCost, type ModelPrice, type PriceIndex, type TokenCounts } from '../../schemas/prices.js';
import { Patch, applyPatch, firstStr, intAttr } from './attrs.js';
import { perSpan, type Stage, type StageContext } from './context.js';

const MODEL_KEYS = [OI.LLM_RESPONSE_MODEL_NAME, OI.LLM_MODEL_NAME, OI.LLM_REQUEST_MODEL_NAME, OI.EMBEDDING_MODEL_NAME];

/**
 * USD as ClickHouse's `toFloat64OrZero` reads it: fixed notation (never `1e-7`), at most 12
 * decimals (a millionth of a micro-dollar), no trailing zeros.
 */
export function formatUsd(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0';
  if (n < 1000) {
    // The shortest form, when it is fixed notation with at most 12 decimals, is what toFixed(12)
    // gives without its trailing zeros: below 1000 half a double's spacing is under 6e-14, so no
    // other 12-decimal number lies closer to n. It costs half as much as toFixed.
    const short = String(n);
    const dot = short.indexOf('.');
    if (short.indexOf('e') === -1 && (dot === -1 || short.length - dot <= 13)) return short;
  }
  let s = n.toFixed(12);
  let end = s.length;
  while (s.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (s.charCodeAt(end - 1) === 46 /* . */) end--;
  s = s.slice(0, end);
  return s;
}

function tokensOf(a: Record<string, string>): TokenCounts | undefined {
  const prompt = intAttr(a, OI.TOKEN_PROMPT);
  const completion = intAttr(a, OI.TOKEN_COMPLETION);
  if (prompt === undefined && completion === undefined) return undefined;
  return {
    prompt: prompt ?? 0,
    completion: completion ?? 0,
    cacheRead: intAttr(a, OI.TOKEN_PROMPT_CACHE_READ),
    cacheWrite: intAttr(a, OI.TOKEN_PROMPT_CACHE_WRITE),
    reasoning: intAttr(a, OI.TOKEN_COMPLETION_REASONING),
  };
}

/**
 * Prices by the model name as spans spell it: PriceIndex.find canonicalizes the name with
 * regular expressions before its own cache, too slow to do for every span.
 */
const memos = new WeakMap<PriceIndex, Map<string, ModelPrice | null>>();

function findPrice(prices: PriceIndex, model: string): ModelPrice | undefined {
  let memo = memos.get(prices);
  if (!memo) memos.set(prices, (memo = new Map()));
  let hit = memo.get(model);
  if (hit === undefined) {
    hit = prices.find(model) ?? null;
    if (memo.size < 10_000) memo.set(model, hit);
  }
  return hit ?? undefined;
}

/** A cost the span brought (an SDK that prices itself, or the gateway) is kept; only a missing total is added. */
function keepSpanCost(span: SpanRecord, ctx: StageContext): SpanRecord {
  ctx.counters.costOnSpan++;
  const a = span.attributes;
  if (a[OI.COST_TOTAL] !== undefined) return span;
  const p = new Patch(a);
  p.fill(OI.COST_TOTAL, formatUsd((Number(a[OI.COST_PROMPT]) || 0) + (Number(a[OI.COST_COMPLETION]) || 0)));
  return applyPatch(span, p);
}

/** Prices an LLM or EMBEDDING span from its normalized token counts and model. */
export function priceSpan(span: SpanRecord, ctx: StageContext): SpanRecord {
  const a = span.attributes;
  const kind = a[OI.SPAN_KIND];
  if (kind !== 'LLM' && kind !== 'EMBEDDING') return span;
  if (a[OI.COST_TOTAL] !== undefined || a[OI.COST_PROMPT] !== undefined || a[OI.COST_COMPLETION] !== undefined) return keepSpanCost(span, ctx);
  const tokens = tokensOf(a);
  const model = firstStr(a, MODEL_KEYS);
  if (!tokens || !model) return span;
  const price = findPrice(ctx.prices, model);
  if (!price) {
    ctx.counters.unpriced++;
    return span;
  }
  const c = computeCost(price, tokens);
  const p = new Patch(a);
  p.set(OI.COST_PROMPT, formatUsd(c.prompt));
  p.set(OI.COST_COMPLETION, formatUsd(c.completion));
  p.set(OI.COST_TOTAL, formatUsd(c.total));
  p.set(OI.COST_PROMPT_INPUT, formatUsd(c.input));
  p.set(OI.COST_COMPLETION_OUTPUT, formatUsd(c.output));
  if (tokens.cacheRead) p.set(OI.COST_PROMPT_CACHE_READ, formatUsd(c.cacheRead));
  if (tokens.cacheWrite) p.set(OI.COST_PROMPT_CACHE_WRITE, formatUsd(c.cacheWrite));
  if (tokens.reasoning) p.set(OI.COST_COMPLETION_REASONING, formatUsd(c.reasoning));
  p.set(TG.PRICE_DATE, ctx.prices.table.taken);
  ctx.counters.priced++;
  return applyPatch(span, p);
}

export const costStage: Stage = perSpan(priceSpan);
