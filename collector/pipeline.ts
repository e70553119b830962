/**
 * receivers → processor stages → spool (→ exporter). The one place the stages are listed.
 * A request's spans are processed and encoded on the receiving thread and appended to the spool
 * before the receiver answers: an acknowledged span is on disk.
 */
import type { SpanBatch } from './model.js';
import { buildProcessor, type Processor, type ProcessorConfig, type ProcessorDeps } from './processors/index.js';
import { encodeRows } from './exporters/rowbinary.js';
import type { Spool } from './exporters/spool.js';

/** A stage: a pure function from a batch to a batch. */
export type PipelineStage = (batch: SpanBatch) => SpanBatch;

export interface Pipeline {
  /** Runs the stages and spools the result; throws SpoolFullError when the disk limit is reached. */
  accept(batch: SpanBatch): void;
  /** Counters of the stages (the processor's). */
  counters(): object;
}

export function buildStages(processor: Processor): PipelineStage[] {
  return [(batch) => processor.process(batch)];
}

export function buildPipeline(config: ProcessorConfig, deps: { spool: Spool; processor?: ProcessorDeps }): Pipeline {
  const processor = buildProcessor(config, deps.processor);
  const stages = buildStages(processor);
  return {
    accept(batch) {
      let out = batch;
      for (const stage of stages) out = stage(out);
      if (out.length > 0) deps.spool.append(encodeRows(out), out.length);
    },
    counters: () => processor.counters(),
  };
}
