/**
 * Determinism for the simulated provider: every choice it makes (words, tool arguments,
 * vectors, cached tokens, latency) comes from a small PRNG seeded by a hash of the request, so
 * the same request always gets the same answer.
 */
import { createHash } from 'node:crypto';

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** A number from a standard normal distribution. */
  normal(): number;
}

/** JSON with object keys sorted, so key order in a request does not change its seed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A 32-bit seed from any number of parts. */
export function seedOf(...parts: unknown[]): number {
  const digest = createHash('sha256').update(parts.map(canonicalJson).join('\u0000')).digest();
  return digest.readUInt32LE(0);
}

/** mulberry32: tiny, fast and good enough for made-up answers. */
export function rngFrom(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    normal: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}

/** Lower-case hex of the given length, from the generator. */
export function hexId(rng: Rng, length: number): string {
  let s = '';
  while (s.length < length) s += Math.floor(rng.next() * 16).toString(16);
  return s;
}
