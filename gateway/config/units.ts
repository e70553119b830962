/** Durations and byte sizes as people write them in YAML: `250ms`, `30s`, `2m`, `1h`; `512kb`, `10mb`. */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const SIZE = /^(\d+)(b|kb|mb|gb)?$/i;

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export const DURATION_PATTERN = DURATION.source;
export const SIZE_PATTERN = '^(\\d+)([bB]|[kK][bB]|[mM][bB]|[gG][bB])?$';

/** A number is milliseconds; a string needs a unit. Returns undefined when it cannot be read. */
export function parseDuration(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = DURATION.exec(v.trim());
  return m ? Math.round(Number(m[1]) * DURATION_MS[m[2]]) : undefined;
}

/** A number is bytes; a string may carry b, kb, mb or gb (powers of 1024). */
export function parseSize(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = SIZE.exec(v.trim());
  return m ? Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()] : undefined;
}

/** Gateway API durations (GEP-2257): whole units, `1h2m3s4ms` style, no fractions. */
export function gatewayApiDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
