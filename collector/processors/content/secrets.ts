import { REDACTED } from '../../../common/semconv.js';
import { scrubJsonKeys } from './secrets-json.js';
import { AUTH_HEADER, AWS, DASH_TOKEN, GOOGLE, JSON_KEY, JWT, PARAMETER, PEM, probe, SCHEME, UNDERSCORE_TOKEN, URL_PASSWORD } from './secrets-probe.js';

/**
 * Credentials must never reach a table. Keys are judged by name (cached per key); values are
 * looked at only where a probe (secrets-probe.ts) finds a token's prefix or a credential's name,
 * then masked by pattern; JSON text inside values has its credential-named keys' values
 * replaced (secrets-json.ts).
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
 * Bearer and Basic credentials: 16 characters and more, or 8 with a digit (Basic: or `+`, `/`),
 * or ending in `=` (`the bearer of bad news` stays). The scheme as people write it (`Bearer`,
 * `bearer`, `BEARER`, `Basic`, `BASIC`), or in any case when the credential is padded
 * (`basic abc=`): prose says "basic" too often for a lower-case word to be looked at otherwise.
 */
function schemeCredential(all: string, scheme: string, space: string, token: string): string {
  const padded = token.endsWith('=');
  if (!padded && !USUAL_SPELLINGS.has(scheme)) return all;
  const basic = scheme.length === 5;
  const secret = basic ? padded || (token.length >= 8 && /[0-9+/]/.test(token)) : padded || token.length >= 16 || (token.length >= 8 && /\d/.test(token));
  return secret ? `${scheme}${space}${REDACTED}` : all;
}

const USUAL_SPELLINGS = new Set(['Bearer', 'bearer', 'BEARER', 'Basic', 'BASIC']);

/** `?key=` only with a value shaped like an API key (a cache or object key stays). */
function queryCredential(all: string, name: string, value: string): string {
  if (/^[?&;]key=$/i.test(name) && !/^[A-Za-z0-9_-]{16,}$/.test(value)) return all;
  return name + REDACTED;
}

type Replacement = string | ((substring: string, ...groups: string[]) => string);

/**
 * Each pattern runs only when its probe bit is set (secrets-probe.ts), in this order. Every
 * pattern is linear: it starts at a literal or a word start, its quantifiers are bounded, and
 * what follows a repeated class cannot be matched by it, so a failed attempt never rescans
 * (1 MB near misses in test/collector/processors/secrets.test.ts).
 */
const PATTERNS: ReadonlyArray<readonly [bit: number, re: RegExp, replacement: Replacement]> = [
  // `Authorization: <scheme> <credentials>` written into text (a curl line, a logged header), any case;
  // a quoted JSON key `"authorization":` is left to the JSON scan, which keeps the JSON valid
  [
    AUTH_HEADER,
    /\b((?:proxy-)?authorization\s{0,8}[:=]\s{0,8}["']?)(?:([A-Za-z]{1,20})(\s{1,8}))?([^\s"',;]{1,4096})/gi,
    // a string, not a function: V8 replaces without calling back (a group not matched is empty)
    `$1$2$3${REDACTED}`,
  ],
  [SCHEME, /\b(bearer|basic)(\s{1,8})([A-Za-z0-9._~+/-]{1,4096}=*)/gi, schemeCredential],
  [DASH_TOKEN, /\b(?:sk-(?:ant-|proj-|or-)?[A-Za-z0-9_-]{20,512}|xox[abprs]-[A-Za-z0-9-]{10,256})/g, REDACTED],
  [AWS, /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, REDACTED],
  [GOOGLE, /\bAIza[0-9A-Za-z_-]{35}/g, REDACTED],
  [UNDERSCORE_TOKEN, /\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}|hf_[A-Za-z0-9]{30,60})\b/g, REDACTED],
  [JWT, /(?<![\w-])eyJ[\w-]{4,4096}\.eyJ[\w-]{2,8192}\.[\w-]{0,4096}/g, REDACTED],
  // scheme://user:password@host: the password
  [URL_PASSWORD, /(\b[A-Za-z][\w+.-]{0,31}:\/\/[^\s:/?#@"'<>]{0,256}:)[^\s/?#@"'<>]{1,256}@/g, `$1${REDACTED}@`],
  // credential parameters in a query or form body; the generic names only after ? or &
  [
    PARAMETER,
    /((?<![\w-])(?:api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|client[_-]?secret|passw(?:or)?d|secret)=|[?&;](?:token|sig|signature|key|x-amz-signature|x-amz-security-token)=)([^&\s#"'<>]{1,4096})/gi,
    queryCredential,
  ],
];

/**
 * The shortest value any pattern can match (`BASIC abc=`, `?sig=abc`); most attribute values
 * (roles, counts, ids, names) are shorter and are not scanned at all.
 */
const MIN_SECRET_LENGTH = 8;

/** The value with credentials masked; the same string when none was found. */
export function scrubValue(v: string): string {
  if (v.length < MIN_SECRET_LENGTH) return v;
  const found = probe(v);
  return found === 0 ? v : applyPatterns(v, found);
}

/** PEM keys, then the patterns whose bits are set, then credential-named JSON keys. */
export function applyPatterns(v: string, bits: number): string {
  let out = bits & PEM ? scrubPem(v) : v;
  for (const [bit, re, replacement] of PATTERNS) {
    if (bits & bit) out = out.replace(re, replacement as string);
  }
  return bits & JSON_KEY ? scrubJsonKeys(out) : out;
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----/g;
const PEM_END = /-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----/g;

/**
 * PEM private keys (PKCS#1, PKCS#8, SEC1, OpenSSH, encrypted), across lines or with `\n`
 * escapes: from BEGIN through END, or to the end of the text when the key was cut. The next
 * END is found once and reused, so many BEGINs without an END stay linear.
 */
function scrubPem(v: string): string {
  if (!v.includes('PRIVATE KEY-----')) return v;
  let out = '';
  let last = 0;
  let end: RegExpExecArray | null | undefined;
  PEM_BEGIN.lastIndex = 0;
  for (let b = PEM_BEGIN.exec(v); b !== null; b = PEM_BEGIN.exec(v)) {
    if (end !== null && (end === undefined || end.index < PEM_BEGIN.lastIndex)) {
      PEM_END.lastIndex = PEM_BEGIN.lastIndex;
      end = PEM_END.exec(v);
    }
    const stop = end ? end.index + end[0].length : v.length;
    out += v.slice(last, b.index) + REDACTED;
    last = stop;
    PEM_BEGIN.lastIndex = stop;
  }
  return last === 0 ? v : out + v.slice(last);
}
