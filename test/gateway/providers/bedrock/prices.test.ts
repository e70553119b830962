/**
 * Bedrock model ids find their prices: plain ids, cross-region inference profiles (`us.`, `eu.`,
 * `apac.`, `global.`), ARNs, and the `-v1:0` suffixes, for Claude, Nova, Titan and Llama.
 */
import { describe, expect, it } from 'vitest';
import { computeCost, indexPrices, loadPriceTable } from '../../../../schemas/prices.js';
import { priceRows } from '../../../../schemas/price-load.js';

const table = loadPriceTable();
const prices = indexPrices(table);

describe('Bedrock model ids in the price table', () => {
  it.each([
    ['anthropic.claude-sonnet-4-20250514-v1:0', 'claude-sonnet-4*', 3, 15],
    ['us.anthropic.claude-sonnet-4-20250514-v1:0', 'claude-sonnet-4*', 3, 15],
    ['eu.anthropic.claude-3-7-sonnet-20250219-v1:0', 'claude-3-7-sonnet*', 3, 15],
    ['apac.anthropic.claude-3-5-haiku-20241022-v1:0', 'claude-3-5-haiku*', 0.8, 4],
    ['global.anthropic.claude-sonnet-4-5-20250929-v1:0', 'global.anthropic.claude-sonnet-4*', 3, 15],
    ['us.anthropic.claude-opus-4-5-20251101-v1:0', 'claude-opus-4-5*', 5, 25],
    ['arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4*', 1, 5],
    ['amazon.nova-micro-v1:0', 'nova-micro*', 0.035, 0.14],
    ['us.amazon.nova-lite-v1:0', 'nova-lite*', 0.06, 0.24],
    ['amazon.nova-pro-v1:0', 'nova-pro*', 0.8, 3.2],
    ['amazon.titan-text-express-v1', 'titan-text-express*', 0.2, 0.6],
    ['meta.llama3-1-70b-instruct-v1:0', 'llama3-1-70b*', 0.72, 0.72],
    ['us.meta.llama3-3-70b-instruct-v1:0', 'llama3-3-70b*', 0.72, 0.72],
    ['us.meta.llama4-maverick-17b-instruct-v1:0', 'llama4-maverick*', 0.24, 0.97],
  ])('%s → %s', (model, pattern, input, output) => {
    const p = prices.find(model);
    expect(p?.pattern).toBe(pattern);
    expect([p?.input, p?.output]).toEqual([input, output]);
  });

  it('cache reads and writes of Claude on Bedrock are priced apart', () => {
    const p = prices.find('us.anthropic.claude-sonnet-4-20250514-v1:0')!;
    const c = computeCost(p, { prompt: 1150, completion: 100, cacheRead: 1000, cacheWrite: 100 });
    expect(c.input).toBeCloseTo((50 * 3) / 1e6, 12);
    expect(c.cacheRead).toBeCloseTo((1000 * 0.3) / 1e6, 12);
    expect(c.cacheWrite).toBeCloseTo((100 * 3.75) / 1e6, 12);
  });

  it('rows taken later than the table carry their own date into model_prices', () => {
    const rows = priceRows(table, 1);
    expect(rows.find((r) => r.pattern === 'nova-pro*')?.taken).toBe('2026-12-06');
    expect(rows.find((r) => r.pattern === 'gpt-4o*')?.taken).toBe(table.taken);
  });
});
