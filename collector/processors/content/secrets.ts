import { REDACTED } from '../../../common/semconv.js';

/**
 * Credentials must never reach a table. Keys are judged by name (cached per key); values are
 * looked at only when a cheap substring test finds a token's prefix, then masked by pattern.
 */
const KEY_WORDS = [
  'authorization',
  'api_key',
  'api-key',
  'apikey',
  'x-goog-api-key',
  'access_key',
  'access-key',
  'secret_key',
  'secret-key',
  'client_secret',
  'private_key',
  'password',
  'passwd',
  'cookie',
  'session_token',
  'auth_token',
  'access_token',
  'refresh_token',
];

const keyCache = new Map<string, boolean>();

export function isSecretKey(key: string): boolean {
  let v = keyCache.get(key);
  if (v === undefined) {
    const k = key.toLowerCase();
    v = KEY_WORDS.some((w) => k.includes(w));
    if (keyCache.size < 20_000) keyCache.set(key, v);
  }
  return v;
}

/**
 * Each pattern has a probe that rules most values out in nanoseconds: V8 finds a single
 * character or an upper-case-led literal with a fast scan, while a short literal that starts
 * with a common letter (`sk-`) costs a full pass; so `-` and `_` are looked for first.
 * Bearer tokens are matched as `Bearer` (the scheme's usual spelling; header keys are masked
 * whole whatever their value).
 */
const VALUE_PATTERNS: ReadonlyArray<readonly [probe: (v: string) => boolean, re: RegExp, replacement: string]> = [
  [(v) => v.includes('Bearer'), /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g, `Bearer ${REDACTED}`],
  [(v) => v.includes('-') && (v.includes('sk-') || v.includes('xox')), /\b(?:sk-(?:ant-|proj-|or-)?[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})/g, REDACTED],
  [(v) => v.includes('AKIA') || v.includes('ASIA'), /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, REDACTED],
  [(v) => v.includes('AIza'), /\bAIza[0-9A-Za-z_-]{35}/g, REDACTED],
  [(v) => v.includes('_') && v.includes('ghp_'), /\bghp_[A-Za-z0-9]{36}\b/g, REDACTED],
];

/**
 * The shortest value any pattern can match (`xox?-` and 10 characters); most attribute values
 * (roles, counts, ids, names) are shorter and are not scanned at all.
 */
const MIN_SECRET_LENGTH = 15;

/**
 * Every probe's literal in one expression: one pass rules out almost every value (half the
 * time of the probes one by one); the probes then pick the patterns to apply.
 */
const ANY_PROBE = /Bearer|sk-|xox|A(?:KIA|SIA|Iza)|ghp_/;

/** The value with tokens masked; the same string when none was found. */
export function scrubValue(v: string): string {
  if (v.length < MIN_SECRET_LENGTH || !ANY_PROBE.test(v)) return v;
  let out = v;
  for (const [probe, re, replacement] of VALUE_PATTERNS) {
    if (probe(out)) out = out.replace(re, replacement);
  }
  return out;
}
