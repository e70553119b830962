/**
 * The one backoff (common/backoff.ts) as both of its users configure it: the gateway's upstream
 * retries (base and max from the route, doubling, equal jitter, Retry-After as a floor) and the
 * collector's export retries (exporterhelper's settings: multiplier and randomization factor).
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay, EQUAL_JITTER, NO_JITTER, sleep, type Backoff } from '../../common/backoff.js';
import { exportBackoff, type ExportRetry } from '../../collector/exporters/exporter.js';

const fixed = (r: number) => () => r;

describe('gateway retries: doubling from the route base, equal jitter, Retry-After floor', () => {
  /** The route defaults: retry.backoff { base: 100, max: 2000 }. */
  const ROUTE: Backoff = { initialMs: 100, maxMs: 2000, multiplier: 2, spread: EQUAL_JITTER };
  it.each([
    { retry: 0, random: 0, want: 50 },
    { retry: 0, random: 1, want: 100 },
    { retry: 3, random: 0.5, want: 600 },
    { retry: 10, random: 1, want: 2000 },
    { retry: 5000, random: 1, want: 2000 },
    { retry: 0, random: 0.5, retryAfter: 1500, want: 1500 },
    { retry: 4, random: 1, retryAfter: 10, want: 1600 },
  ])('retry $retry, random $random, Retry-After $retryAfter → $want ms', ({ retry, random, retryAfter, want }) => {
    expect(backoffDelay(ROUTE, retry, fixed(random), retryAfter)).toBe(want);
  });

  it('never waits past the cap without a Retry-After', () => {
    for (let retry = 0; retry < 40; retry++) expect(backoffDelay(ROUTE, retry, fixed(0.999999))).toBeLessThanOrEqual(2000);
  });
});

describe('collector export retries: exporterhelper settings', () => {
  /** The OpenTelemetry Collector's defaults (and tracegate's). */
  const OTEL: ExportRetry = { initialIntervalMs: 5000, maxIntervalMs: 30_000, multiplier: 1.5, randomizationFactor: 0.5 };
  it.each<[string, ExportRetry, number, number, number]>([
    ['first retry, lowest draw', OTEL, 0, 0, 2500],
    ['first retry, middle draw', OTEL, 0, 0.5, 5000],
    ['first retry, highest draw', OTEL, 0, 0.999999, 7500],
    ['second retry grows by the multiplier', OTEL, 1, 0.5, 7500],
    ['fourth retry', OTEL, 3, 0.5, 16_875],
    ['the base stops at maxIntervalMs', OTEL, 5, 0.5, 30_000],
    ['jitter applies around the capped base (as exporterhelper does)', OTEL, 50, 0.999999, 45_000],
    ['no randomization: exact', { ...OTEL, randomizationFactor: 0 }, 2, 0.9, 11_250],
    ['multiplier 1: constant', { ...OTEL, multiplier: 1, randomizationFactor: 0 }, 9, 0.3, 5000],
    ['never negative with a factor above 1', { ...OTEL, randomizationFactor: 2 }, 0, 0, 0],
    ['a retry count past what a double holds: the cap', { ...OTEL, randomizationFactor: 0 }, 10_000, 0.5, 30_000],
  ])('%s', (_n, cfg, attempt, draw, want) => {
    expect(backoffDelay(exportBackoff(cfg), attempt, fixed(draw))).toBe(want);
  });

  it('every draw stays within [base·(1−r), base·(1+r)] and spans the range', () => {
    const b = exportBackoff(OTEL);
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(OTEL.maxIntervalMs, OTEL.initialIntervalMs * OTEL.multiplier ** attempt);
      const seen = Array.from({ length: 101 }, (_, i) => backoffDelay(b, attempt, fixed(Math.min(i / 100, 0.999999))));
      expect(Math.min(...seen)).toBe(Math.round(base * 0.5));
      expect(Math.max(...seen)).toBeLessThanOrEqual(Math.round(base * 1.5));
      expect(Math.max(...seen)).toBeGreaterThanOrEqual(Math.round(base * 1.5) - 1);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    }
  });

  it('with Math.random: within bounds, and not all the same', () => {
    const draws = Array.from({ length: 200 }, () => backoffDelay(exportBackoff(OTEL), 0));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(2500);
    expect(Math.max(...draws)).toBeLessThanOrEqual(7500);
    expect(new Set(draws).size).toBeGreaterThan(1);
  });
});

describe('judge retries and stdio restarts: exact doubling', () => {
  it.each([
    [0, 250],
    [1, 500],
    [3, 2000],
    [4, 4000],
    [9, 4000],
  ])('retry %i waits %i ms whatever the draw', (retry, want) => {
    const judge: Backoff = { initialMs: 250, maxMs: 4000, multiplier: 2, spread: NO_JITTER };
    for (const r of [0, 0.5, 0.999999]) expect(backoffDelay(judge, retry, fixed(r))).toBe(want);
  });
});

describe('sleep', () => {
  it('waits, and ends early without throwing when the signal aborts', async () => {
    let t0 = performance.now();
    await sleep(30);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    const ac = new AbortController();
    t0 = performance.now();
    const slept = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    await slept;
    expect(performance.now() - t0).toBeLessThan(5000);
    t0 = performance.now();
    await sleep(10_000, ac.signal); // already aborted
    expect(performance.now() - t0).toBeLessThan(50);
  });
});
