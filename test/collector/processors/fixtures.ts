import type { Attributes, SpanRecord } from '../../../collector/model.js';
import { indexPrices, type PriceTable } from '../../../schemas/prices.js';
import { resolveProcessorConfig, ProcessorConfigSchema, type ProcessorConfigInput } from '../../../collector/processors/config.js';
import { newCounters, type StageContext } from '../../../collector/processors/context.js';

export const END_NS = 1_700_000_000_500_000_000n;

/**
 * A span as the receiver hands it over, with the given attributes: fresh maps and arrays of
 * its own, as the decoders build them (the stages change a span in place).
 */
export function span(attributes: Attributes, over: Partial<SpanRecord> = {}): SpanRecord {
  const fresh = {
    ...over,
    ...(over.events && { events: over.events.map((e) => ({ ...e, attributes: { ...e.attributes } })) }),
  };
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    traceState: '',
    name: 'chat gpt-4o',
    kind: 'Client',
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: END_NS,
    serviceName: 'test',
    resourceAttributes: {},
    scopeName: 'test',
    scopeVersion: '1',
    attributes: { ...attributes },
    statusCode: 'Unset',
    statusMessage: '',
    events: [],
    links: [],
    ...fresh,
  };
}

/** Prices made up for the tests (per million tokens), so figures do not move with prices.json. */
export const TEST_PRICES: PriceTable = {
  currency: 'USD',
  unit: 'per million tokens',
  taken: '2025-08-01',
  source: 'tests',
  models: [
    { pattern: 'gpt-4o*', provider: 'openai', input: 2.5, output: 10, cached_input: 1.25 },
    { pattern: 'o3*', provider: 'openai', input: 2, output: 8, cached_input: 0.5, reasoning: 8 },
    { pattern: 'claude-sonnet-4*', provider: 'anthropic', input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 },
    { pattern: 'text-embedding-3-small*', provider: 'openai', input: 0.02, output: 0 },
  ],
};

export function stageContext(config: ProcessorConfigInput = {}, env: Record<string, string> = {}): StageContext {
  return {
    config: resolveProcessorConfig(ProcessorConfigSchema.parse(config), env),
    prices: indexPrices(TEST_PRICES),
    counters: newCounters(),
  };
}

/** A table row of the normalization tests: attributes in, attributes expected out. */
export interface NormalizeCase {
  name: string;
  attrs: Attributes;
  spanName?: string;
  /** Keys the normalized span must have with these values. */
  expect: Attributes;
  /** Keys it must not have. */
  absent?: string[];
}

export const json = (v: unknown) => JSON.stringify(v);
