import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../../collector/model.js';
import { costStage, formatUsd } from '../../../collector/processors/cost.js';
import { span, stageContext } from './fixtures.js';

const llm = (model: string, tokens: Attributes): Attributes => ({ 'openinference.span.kind': 'LLM', 'llm.model_name': model, ...tokens });

// Prices (fixtures.ts, per million): gpt-4o 2.5 in / 1.25 cached / 10 out; o3 2 / 0.5 / 8, reasoning 8;
// claude-sonnet-4 3 in / 0.3 cache read / 3.75 cache write / 15 out.
const cases: Array<[name: string, attrs: Attributes, want: Attributes]> = [
  [
    'plain prompt and completion',
    llm('gpt-4o-2024-08-06', { 'llm.token_count.prompt': '1000000', 'llm.token_count.completion': '100000' }),
    {
      'llm.cost.prompt': '2.5',
      'llm.cost.completion': '1',
      'llm.cost.total': '3.5',
      'llm.cost.prompt_details.input': '2.5',
      'llm.cost.completion_details.output': '1',
      'tracegate.price.date': '2025-08-01',
    },
  ],
  [
    'cached tokens at the cached price, out of the prompt count (not twice)',
    llm('gpt-4o', { 'llm.token_count.prompt': '1000', 'llm.token_count.completion': '0', 'llm.token_count.prompt_details.cache_read': '400' }),
    // 600 × 2.5 + 400 × 1.25 per million
    { 'llm.cost.prompt': '0.002', 'llm.cost.prompt_details.input': '0.0015', 'llm.cost.prompt_details.cache_read': '0.0005', 'llm.cost.total': '0.002' },
  ],
  [
    'cache-write tokens at the cache-write price',
    llm('claude-sonnet-4-20250514', {
      'llm.token_count.prompt': '2510',
      'llm.token_count.prompt_details.cache_read': '2000',
      'llm.token_count.prompt_details.cache_write': '500',
      'llm.token_count.completion': '100',
    }),
    // 10 × 3 + 2000 × 0.3 + 500 × 3.75 = 2505 µ$; 100 × 15 = 1500 µ$
    { 'llm.cost.prompt': '0.002505', 'llm.cost.prompt_details.cache_write': '0.001875', 'llm.cost.prompt_details.cache_read': '0.0006', 'llm.cost.completion': '0.0015', 'llm.cost.total': '0.004005' },
  ],
  [
    'reasoning tokens at the reasoning price, inside the completion',
    llm('o3', { 'llm.token_count.prompt': '0', 'llm.token_count.completion': '500', 'llm.token_count.completion_details.reasoning': '400' }),
    { 'llm.cost.completion': '0.004', 'llm.cost.completion_details.reasoning': '0.0032', 'llm.cost.completion_details.output': '0.0008' },
  ],
  [
    'embedding spans are priced from embedding.model_name',
    { 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'text-embedding-3-small', 'llm.token_count.prompt': '1000' },
    { 'llm.cost.total': '0.00002' },
  ],
  [
    'a cost already on the span wins (only a missing total is added)',
    llm('gpt-4o', { 'llm.token_count.prompt': '1000', 'llm.token_count.completion': '10', 'llm.cost.prompt': '0.5', 'llm.cost.completion': '0.25' }),
    { 'llm.cost.prompt': '0.5', 'llm.cost.completion': '0.25', 'llm.cost.total': '0.75' },
  ],
];

describe('cost stage', () => {
  it.each(cases)('%s', (_, attrs, want) => {
    const [out] = costStage([span(attrs)], stageContext());
    expect(out.attributes).toMatchObject(want);
  });

  it('leaves unknown models, spans without tokens and non-LLM spans alone, counting the unknown model', () => {
    const ctx = stageContext();
    const spans = [
      span(llm('no-such-model', { 'llm.token_count.prompt': '5' })),
      span(llm('gpt-4o', {})),
      span({ 'openinference.span.kind': 'CHAIN', 'llm.model_name': 'gpt-4o', 'llm.token_count.prompt': '5' }),
    ];
    const out = costStage(spans, ctx);
    out.forEach((s, i) => {
      expect(s).toBe(spans[i]);
    });
    expect(ctx.counters).toMatchObject({ unpriced: 1, priced: 0 });
  });

  it('counts priced spans and spans that came with their cost', () => {
    const ctx = stageContext();
    costStage([span(llm('gpt-4o', { 'llm.token_count.prompt': '1' })), span(llm('gpt-4o', { 'llm.cost.total': '1' }))], ctx);
    expect(ctx.counters).toMatchObject({ priced: 1, costOnSpan: 1 });
  });

  it.each([
    [0, '0'],
    [1e-7, '0.0000001'],
    [0.1 + 0.2, '0.3'],
    [12.5, '12.5'],
    [3, '3'],
    [1.23456789012345e-5, '0.000012345679'],
  ])('formats %s USD as %s (fixed notation, no exponent)', (n, s) => {
    expect(formatUsd(n)).toBe(s);
  });
});
