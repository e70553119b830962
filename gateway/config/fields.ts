/**
 * Field types the config documents share, and that a provider's own Backend fields use
 * (gateway/providers/types.ts `ProviderConfig`): durations, sizes, names, headers, URLs, secrets.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration, parseSize, SIZE_PATTERN } from './units.js';

const DURATION_MSG = 'a duration: milliseconds, or a number with ms, s, m or h (e.g. 30s)';
export const duration = z
  .union([z.number().nonnegative(DURATION_MSG), z.string().regex(new RegExp(DURATION_PATTERN), DURATION_MSG)], { error: DURATION_MSG })
  .transform((v) => parseDuration(v) as number);

const SIZE_MSG = 'a size: bytes, or a number with b, kb, mb or gb (e.g. 4mb)';
export const size = z.union([z.number().int(SIZE_MSG).nonnegative(SIZE_MSG), z.string().regex(new RegExp(SIZE_PATTERN), SIZE_MSG)], { error: SIZE_MSG }).transform((v) => parseSize(v) as number);

/** Kubernetes object names: rendered routes keep them. */
export const name = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'lower-case letters, digits and "-", starting and ending with a letter or digit');

export const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a valid HTTP header name');
/** Control characters (CR, LF, NUL) in a header value would be refused by undici on every call. */
export const headerValue = z
  .string()
  .max(8192)
  .regex(/^[\t\x20-\x7e\x80-\uffff]*$/, 'a header value without control characters');

/**
 * Why a URL the gateway would connect to is refused, or undefined. Only http(s) with a host:
 * another scheme (file:, unix:, data:, ftp:, gopher:, javascript:) is never fetched, and
 * `user:pass@` is refused so that a credential lives in apiKey, where it is redacted. The
 * message never repeats the URL (it may hold a secret).
 */
export function httpUrlProblem(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a URL: write it as http(s)://host[:port][/path]';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http and https URLs are allowed, not "${u.protocol.slice(0, 20)}"`;
  if (!u.hostname) return 'the URL has no host';
  if (u.username || u.password) return 'credentials inside a URL are not allowed: give the key as apiKey with { env } or { file }';
  return undefined;
}

export const httpUrl = z
  .string()
  .max(2048)
  .superRefine((v, ctx) => {
    const problem = httpUrlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const secretRef = z.union(
  [
    z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), optional: z.boolean().default(false) }).strict(),
    z.object({ file: z.string().min(1), optional: z.boolean().default(false) }).strict(),
  ],
  {
    error: (iss) =>
      typeof iss.input === 'string'
        ? 'an inline key is not allowed in the config file: write { env: VARIABLE } or { file: /path/to/secret }'
        : 'give exactly one of { env: VARIABLE } or { file: /path/to/secret } (optional: true to start without it)',
  },
);
