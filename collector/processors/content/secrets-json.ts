/**
 * Credentials under JSON keys inside attribute values (`llm.invocation_parameters`, a request
 * body in `input.value`, tool-call arguments: JSON text, often JSON inside a JSON string): the
 * value of a key named like a credential is replaced and the text stays valid JSON at every
 * level of escaping. A scanner, not a JSON parser: values that are not JSON (prose with a
 * quoted word and a colon) are handled alike, and work is linear in the text.
 */
import { REDACTED } from '../../../common/semconv.js';

/** Key names (lower case, without `_`, `-`, `.`) that hold a credential whatever they end with. */
const EXACT = new Set(['auth', 'pass', 'pwd', 'secret', 'token', 'authorization', 'credential', 'credentials', 'cookie']);

/** Key names ending in one of these hold a credential (`db_password`, `clientSecret`, `x-api-key`, `github_token`). */
const SUFFIXES = ['password', 'passwd', 'secret', 'apikey', 'secretkey', 'privatekey', 'accesskey', 'token', 'authorization', 'credentials'];

/** …except these: tokenizer settings and limits, not credentials. */
const NOT_SECRET = new Set(['maxtoken', 'eostoken', 'bostoken', 'padtoken', 'unktoken', 'septoken', 'clstoken', 'masktoken', 'stoptoken', 'starttoken', 'endtoken']);

const cache = new Map<string, boolean>();

export function isSecretJsonKey(key: string): boolean {
  let v = cache.get(key);
  if (v === undefined) {
    const k = key.toLowerCase().replace(/[_.-]/g, '');
    v = EXACT.has(k) || (!NOT_SECRET.has(k) && SUFFIXES.some((s) => k.endsWith(s)));
    if (cache.size < 20_000) cache.set(key, v);
  }
  return v;
}

const BACKSLASH = 0x5c;

/** `[\w$.@-]`: a key's characters as KEY below reads them. */
function isKeyChar(ch: number): boolean {
  return (ch >= 48 && ch <= 57) || ((ch | 0x20) >= 97 && (ch | 0x20) <= 122) || ch === 95 || ch === 36 || ch === 46 || ch === 64 || ch === 45;
}

const isSeparator = (ch: number) => ch === 95 || ch === 45 || ch === 46;

/** The last two characters of the key ending before `end`, separators skipped, `| 0x20` (lower case for letters). */
function ending(s: string, end: number): number {
  let j = end - 1;
  while (j >= 0 && isSeparator(s.charCodeAt(j))) j--;
  const last = s.charCodeAt(j--) | 0x20;
  while (j >= 0 && isSeparator(s.charCodeAt(j))) j--;
  return (((s.charCodeAt(j) | 0x20) & 0xff) << 8) | (last & 0xff);
}

/** The key ending before `end` ends with `word` (lower case) once `_ - .` are dropped, in any case. */
function endsWithWord(s: string, end: number, word: string): boolean {
  let j = end - 1;
  for (let k = word.length - 1; k >= 0; k--, j--) {
    while (j >= 0 && isSeparator(s.charCodeAt(j))) j--;
    if ((s.charCodeAt(j) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

const code = (w: string) => (w.charCodeAt(w.length - 2) << 8) | w.charCodeAt(w.length - 1);

/** The words a credential-named key ends with (the exact names too), by their last two letters. */
const WORDS_BY_ENDING = new Map<number, string[]>();
for (const w of new Set([...EXACT, ...SUFFIXES])) WORDS_BY_ENDING.set(code(w), [...(WORDS_BY_ENDING.get(code(w)) ?? []), w]);
const SECRET_ENDINGS = new Uint8Array(1 << 16);
for (const e of WORDS_BY_ENDING.keys()) SECRET_ENDINGS[e] = 1;

/**
 * Whether the key whose closing quote is at `quote` (in any escaping) is credential-named, as
 * scrubJsonKeys would judge it. Most keys are ruled out by their last two letters, nearly all
 * the others by the words with those letters; only a key ending in such a word is read out.
 */
export function secretKeyBefore(s: string, quote: number): boolean {
  const last = s.charCodeAt(quote - 1) | 0x20;
  const prev = s.charCodeAt(quote - 2) | 0x20;
  if (last >= 97 && last <= 122 && prev >= 97 && prev <= 122 && SECRET_ENDINGS[(prev << 8) | last] === 0) return false;
  let end = quote;
  while (end > 0 && s.charCodeAt(end - 1) === BACKSLASH) end--;
  const e = ending(s, end);
  if (SECRET_ENDINGS[e] === 0 || !endsWithAnyWord(s, end, WORDS_BY_ENDING.get(e) ?? [])) return false;
  let start = end;
  while (start > 0 && end - start <= 64 && isKeyChar(s.charCodeAt(start - 1))) start--;
  return end - start <= 64 && isSecretJsonKey(s.slice(start, end));
}

function endsWithAnyWord(s: string, end: number, words: readonly string[]): boolean {
  for (let k = 0; k < words.length; k++) if (endsWithWord(s, end, words[k])) return true;
  return false;
}

/**
 * A key and its colon, at any level of escaping: `"k":` in JSON text, `\"k\":` in JSON inside a
 * JSON string, and so on (the backslashes before both quotes must agree). Bounded quantifiers
 * and one start per quote keep it linear.
 */
const KEY = /(\\{0,7})"([A-Za-z_$@][\w$.@-]{0,63})(\\{0,7})"\s{0,16}:\s{0,16}/g;

/** Where the string value starting at `i` (its opening quote escaped with `level` backslashes) ends, past its closing quote; -1 if it does not. */
function stringEnd(s: string, i: number, level: number): number {
  let j = i + level + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return level === 0 ? j + 1 : -1; // a bare quote inside an escaped string: not JSON we know
    if (c !== 0x5c) {
      j++;
      continue;
    }
    let m = 0;
    while (s.charCodeAt(j + m) === 0x5c) m++;
    if (s.charCodeAt(j + m) === 0x22) {
      // At a level whose quotes carry k = 2^L - 1 backslashes, a run of m before a quote closes
      // the string when m % 2^(L+1) = k (level 0: an even run); otherwise the quote is content.
      if (m % (2 * (level + 1)) === level) return j + m + 1;
      j += m + 1;
    } else j += m;
  }
  return -1;
}

/** Where a number, `true` or `false` starting at `i` ends; -1 when none starts there. */
function scalarEnd(s: string, i: number): number {
  const m = /^(?:-?\d[\d.eE+-]{0,63}|true|false)/.exec(s.slice(i, i + 64));
  return m ? i + m[0].length : -1;
}

/** The text with the values of credential-named keys replaced; the same string when none (called when secretKeyBefore found one). */
export function scrubJsonKeys(s: string): string {
  let out = '';
  let last = 0;
  KEY.lastIndex = 0;
  for (let m = KEY.exec(s); m !== null; m = KEY.exec(s)) {
    const [all, before, key, after] = m;
    // The backslashes before both quotes agree, and none precede the match (a longer run).
    if (before !== after || (m.index > 0 && s.charCodeAt(m.index - 1) === 0x5c) || !isSecretJsonKey(key)) continue;
    const at = m.index + all.length;
    const quote = `${before}"`;
    const stringValue = s.startsWith(quote, at);
    const end = stringValue ? stringEnd(s, at, before.length) : scalarEnd(s, at);
    if (end < 0) continue;
    out += s.slice(last, at) + quote + REDACTED + quote;
    last = end;
    KEY.lastIndex = end;
  }
  return last === 0 ? s : out + s.slice(last);
}
