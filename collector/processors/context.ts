import type { SpanBatch, SpanRecord } from '../model.js';
import type { PriceIndex } from '../../schemas/prices.js';
import type { ResolvedProcessorConfig } from './config.js';

/** Conventions the normalizer recognizes; the values written to `tracegate.normalized_from`. */
export const CONVENTIONS = ['openinference', 'genai', 'openllmetry', 'vercel'] as const;
export type Convention = (typeof CONVENTIONS)[number];

/** Heuristic quality signals, the `gen_ai.evaluation.name` of the events the quality stage adds. */
export const SIGNALS = ['truncated', 'content_filtered', 'empty_output', 'invalid_json', 'invalid_tool_arguments', 'error'] as const;
export type Signal = (typeof SIGNALS)[number];

/** Counters the collector exposes; only ever increased. */
export interface ProcessorCounters {
  /** Spans that went through the processor. */
  spans: number;
  /** Spans per convention seen (a span can count for several). */
  normalizedFrom: Record<Convention, number>;
  /** LLM spans given a cost from the price table. */
  priced: number;
  /** LLM spans whose cost came with the span (kept as sent). */
  costOnSpan: number;
  /** LLM spans with tokens and a model that the price table does not know. */
  unpriced: number;
  /** Heuristic evaluation events added, per signal. */
  signals: Record<Signal, number>;
  /** Attribute values replaced by `__REDACTED__` (hide flags). */
  redacted: number;
  /** Attribute values cut to the size limit, and the spans that had any. */
  truncatedValues: number;
  truncatedSpans: number;
  /** Credential-looking attributes dropped or masked. */
  secretsScrubbed: number;
  /** Spans on which a stage threw (a bug; the span was passed on, see perSpan). */
  stageErrors: number;
}

export function newCounters(): ProcessorCounters {
  const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  return {
    spans: 0,
    normalizedFrom: zeros(CONVENTIONS),
    priced: 0,
    costOnSpan: 0,
    unpriced: 0,
    signals: zeros(SIGNALS),
    redacted: 0,
    truncatedValues: 0,
    truncatedSpans: 0,
    secretsScrubbed: 0,
    stageErrors: 0,
  };
}

/** What every stage gets besides the batch: settled config, the price index, the counters. */
export interface StageContext {
  readonly config: ResolvedProcessorConfig;
  readonly prices: PriceIndex;
  readonly counters: ProcessorCounters;
}

/**
 * A processor stage. It changes the spans it is given in place (the decoders build fresh spans
 * and maps per request; see README "Contract") and answers them; `resourceAttributes`, shared by
 * the spans of a resource, are replaced, never changed. Its other side effect is counting into
 * `ctx.counters`.
 */
export type Stage = (batch: SpanBatch, ctx: StageContext) => SpanBatch;

/**
 * A stage from a per-span function. A span the function throws on does not take the batch down:
 * it gets `onError(span)` (default: the span unchanged) and is counted.
 */
export function perSpan(fn: (span: SpanRecord, ctx: StageContext) => SpanRecord, onError: (span: SpanRecord) => SpanRecord = (s) => s): Stage {
  return (batch, ctx) =>
    batch.map((span) => {
      try {
        return fn(span, ctx);
      } catch {
        ctx.counters.stageErrors++;
        return onError(span);
      }
    });
}
