/** Exponential backoff with jitter: the base grows by the multiplier up to the cap, each delay drawn from ±randomizationFactor. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffConfig } from '../../collector/exporters/backoff.js';

/** The OpenTelemetry Collector's defaults (and tracegate's). */
const OTEL: BackoffConfig = { initialIntervalMs: 5000, maxIntervalMs: 30_000, multiplier: 1.5, randomizationFactor: 0.5 };
const fixed = (r: number) => () => r;

describe('backoffDelay', () => {
  it.each<[string, BackoffConfig, number, number, number]>([
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
  ])('%s', (_n, cfg, attempt, draw, want) => {
    expect(backoffDelay(cfg, attempt, fixed(draw))).toBe(want);
  });

  it('every draw stays within [base·(1−r), base·(1+r)] and spans the range', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(OTEL.maxIntervalMs, OTEL.initialIntervalMs * OTEL.multiplier ** attempt);
      const seen = Array.from({ length: 101 }, (_, i) => backoffDelay(OTEL, attempt, fixed(Math.min(i / 100, 0.999999))));
      expect(Math.min(...seen)).toBe(Math.round(base * 0.5));
      expect(Math.max(...seen)).toBeLessThanOrEqual(Math.round(base * 1.5));
      expect(Math.max(...seen)).toBeGreaterThanOrEqual(Math.round(base * 1.5) - 1);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    }
  });

  it('with Math.random: within bounds, and not all the same', () => {
    const draws = Array.from({ length: 200 }, () => backoffDelay(OTEL, 0));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(2500);
    expect(Math.max(...draws)).toBeLessThanOrEqual(7500);
    expect(new Set(draws).size).toBeGreaterThan(1);
  });
});
