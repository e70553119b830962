import type { SpanBatch } from '../model.js';
import { indexPrices, loadPriceTable, type PriceTable } from '../../schemas/prices.js';
import { resolveProcessorConfig, type ProcessorConfig } from './config.js';
import { newCounters, type ProcessorCounters, type Stage, type StageContext } from './context.js';
import { normalizeStage } from './normalize/index.js';
import { costStage } from './cost.js';
import { qualityStage } from './quality.js';
import { contentStage } from './content/index.js';

export {
  ProcessorConfigSchema,
  parseProcessorConfig,
  resolveProcessorConfig,
  hideFlagsFromEnv,
  type ProcessorConfig,
  type ProcessorConfigInput,
  type ResolvedProcessorConfig,
  type HideFlags,
} from './config.js';
export { CONVENTIONS, SIGNALS, type ProcessorCounters, type Convention, type Signal, type Stage, type StageContext } from './context.js';

/**
 * The stages, in order. Normalize first: every later stage reads OpenInference keys only.
 * Cost needs the normalized model and token counts. Quality reads the content (output text,
 * tool-call arguments, invocation parameters) before the content stage can hide or cut it.
 * Content last, so nothing after it re-adds hidden text or secrets, and the size limit also
 * covers what earlier stages wrote.
 */
export const STAGES: ReadonlyArray<readonly [name: string, stage: Stage]> = [
  ['normalize', normalizeStage],
  ['cost', costStage],
  ['quality', qualityStage],
  ['content', contentStage],
];

export interface Processor {
  /**
   * Runs every stage. Changes the given spans in place and answers them (the decoders build
   * fresh spans per request; pass copies to keep the originals).
   */
  process(batch: SpanBatch): SpanBatch;
  /** A copy of the counters so far. */
  counters(): ProcessorCounters;
}

export interface ProcessorDeps {
  /** The price table; default: loaded from `config.pricesPath` or the bundled table. */
  prices?: PriceTable;
  /** Where unset hide flags come from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export function buildProcessor(config: ProcessorConfig, deps: ProcessorDeps = {}): Processor {
  const resolved = resolveProcessorConfig(config, deps.env ?? process.env);
  const table = deps.prices ?? loadPriceTable(resolved.pricesPath);
  const ctx: StageContext = { config: resolved, prices: indexPrices(table), counters: newCounters() };
  const stages = STAGES.filter(([name]) => name !== 'quality' || resolved.qualitySignals).map(([, s]) => s);
  return {
    process(batch) {
      ctx.counters.spans += batch.length;
      let out = batch;
      for (const stage of stages) out = stage(out, ctx);
      return out;
    },
    counters: () => structuredClone(ctx.counters),
  };
}
