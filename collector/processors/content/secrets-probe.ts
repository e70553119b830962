/**
 * Which credential patterns could match a value, found without allocating. Every pattern of
 * secrets.ts needs one of a few trigger characters (`: = - _ A J B`) or the word `bearer`; only
 * where one occurs are the few characters around it compared. A long value is searched once per
 * trigger with indexOf (a memchr in V8: its cost is the call, some ten nanoseconds, not the
 * length), a short one is read once, character by character.
 *
 * Each probe answers yes for every value its pattern can match, so gating changes no result
 * (test/collector/processors/secrets.test.ts runs every pattern ungated and compares). The work
 * at each trigger is bounded, or reads characters no other trigger reads, so a probe is linear.
 */
import { secretKeyBefore } from './secrets-json.js';

export const AUTH_HEADER = 1;
export const SCHEME = 2;
export const DASH_TOKEN = 4;
export const AWS = 8;
export const GOOGLE = 16;
export const UNDERSCORE_TOKEN = 32;
export const JWT = 64;
export const URL_PASSWORD = 128;
export const PARAMETER = 256;
export const PEM = 512;
export const JSON_KEY = 1024;

const COLON = 58;
const EQUALS = 61;
const DASH = 45;
const UNDERSCORE = 95;
const QUOTE = 34;
const SLASH = 47;

/** v at i spells `word` (lower-case letters) in any case. */
function wordAt(v: string, i: number, word: string): boolean {
  if (i < 0 || i + word.length > v.length) return false;
  for (let k = 0; k < word.length; k++) {
    if ((v.charCodeAt(i + k) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** `\s` as regular expressions read it. */
const isSpace = (ch: number) =>
  ch === 32 ||
  (ch >= 9 && ch <= 13) ||
  ch === 0xa0 ||
  ch === 0x1680 ||
  (ch >= 0x2000 && ch <= 0x200a) ||
  ch === 0x2028 ||
  ch === 0x2029 ||
  ch === 0x202f ||
  ch === 0x205f ||
  ch === 0x3000 ||
  ch === 0xfeff;
const isAlnum = (ch: number) => (ch >= 48 && ch <= 57) || ((ch | 0x20) >= 97 && (ch | 0x20) <= 122);
/** `[\w-]`: a parameter name's characters. */
const isNameChar = (ch: number) => isAlnum(ch) || ch === UNDERSCORE || ch === DASH;
/** `[A-Za-z0-9._~+/-]`: a scheme credential's characters. */
const isTokenChar = (ch: number) => isNameChar(ch) || ch === 46 || ch === 126 || ch === 43 || ch === SLASH;

/** `authorization`, then at most 8 spaces, ending at `end` (a `:` or `=` follows). */
function authorizationBefore(v: string, end: number): number {
  let j = end;
  while (j > 0 && end - j < 8 && isSpace(v.charCodeAt(j - 1))) j--;
  return (v.charCodeAt(j - 1) | 0x20) === 110 && wordAt(v, j - 13, 'authorization') ? AUTH_HEADER : 0;
}

/** At a `:`: a JSON key (`"k":`, `"k" :`, `\"k\":`), `authorization:`, or `://` (URL_PASSWORD, pending an `@`). */
function atColon(v: string, i: number): number {
  let j = i;
  if (v.charCodeAt(i - 1) !== QUOTE) while (j > 0 && i - j < 16 && isSpace(v.charCodeAt(j - 1))) j--;
  if (v.charCodeAt(j - 1) === QUOTE) return secretKeyBefore(v, j - 1) ? JSON_KEY : 0;
  const url = v.charCodeAt(i + 1) === SLASH && v.charCodeAt(i + 2) === SLASH ? URL_PASSWORD : 0;
  return url | authorizationBefore(v, i);
}

/** The parameter names of PARAMETER in secrets.ts, looked at only when the name ends in two of their last letters. */
const PARAMETER_NAME =
  /^(?:api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|client[_-]?secret|passw(?:or)?d|secret|token|sig|signature|key|x-amz-signature|x-amz-security-token)$/i;
const LAST_TWO = new Set(['ey', 'en', 'et', 'wd', 'rd', 'ig', 're'].map((e) => (e.charCodeAt(0) << 8) | e.charCodeAt(1)));

/** A credential parameter's name before the `=` at i: a whole `[\w-]` run, at most 20 long. */
function parameterBefore(v: string, i: number): number {
  if (!LAST_TWO.has(((v.charCodeAt(i - 2) | 0x20) << 8) | (v.charCodeAt(i - 1) | 0x20))) return 0;
  let start = i - 1;
  while (start > 0 && i - start <= 20 && isNameChar(v.charCodeAt(start - 1))) start--;
  return i - start <= 20 && PARAMETER_NAME.test(v.slice(start, i)) ? PARAMETER : 0;
}

/**
 * `basic` or `bearer` in any case, 1-8 spaces and a credential whose padding starts at i. The
 * walk back stops at the previous `=` at the latest (not a credential character), so each
 * character is read for one `=` only.
 */
function paddedSchemeBefore(v: string, i: number): number {
  let j = i - 1;
  while (j >= 0 && i - j <= 4097 && isTokenChar(v.charCodeAt(j))) j--;
  if (j === i - 1 || i - j > 4097) return 0;
  const end = j;
  while (j >= 0 && end - j < 8 && isSpace(v.charCodeAt(j))) j--;
  if (j === end) return 0;
  return wordAt(v, j - 4, 'basic') || wordAt(v, j - 5, 'bearer') ? SCHEME : 0;
}

/** At an `=` (the first of a run): a credential parameter, a padded Basic/Bearer credential, `authorization=`. */
function atEquals(v: string, i: number): number {
  if (v.charCodeAt(i - 1) === EQUALS) return 0;
  return parameterBefore(v, i) | paddedSchemeBefore(v, i) | authorizationBefore(v, i);
}

const isXoxLetter = (ch: number) => ch === 97 || ch === 98 || ch === 112 || ch === 114 || ch === 115;

/** At a `-`: `sk-…`, `xox?-…`, the end of `PRIVATE KEY` in a PEM header. */
function atDash(v: string, i: number): number {
  const a = v.charCodeAt(i - 1);
  if ((a === 107 && v.charCodeAt(i - 2) === 115) || (i >= 4 && isXoxLetter(a) && v.startsWith('xox', i - 4))) return DASH_TOKEN;
  return a === 89 && v.startsWith('PRIVATE KEY', i - 11) ? PEM : 0;
}

/** At a `_`: `hf_`, `gh?_`, `sk_live_` and the like, `github_pat_`. */
function atUnderscore(v: string, i: number): number {
  const a = v.charCodeAt(i - 1);
  const b = v.charCodeAt(i - 2);
  const found =
    (a === 102 && b === 104) ||
    (b === 104 && v.charCodeAt(i - 3) === 103 && (a === 112 || a === 111 || a === 117 || a === 115 || a === 114)) ||
    (a === 107 && (b === 115 || b === 114) && (v.startsWith('live_', i + 1) || v.startsWith('test_', i + 1))) ||
    (a === 98 && i >= 6 && v.startsWith('github_pat_', i - 6));
  return found ? UNDERSCORE_TOKEN : 0;
}

/** At an `A`: `AKIA`, `ASIA`, `AIza`. */
function atA(v: string, i: number): number {
  if (v.startsWith('KIA', i + 1) || v.startsWith('SIA', i + 1)) return AWS;
  return v.startsWith('Iza', i + 1) ? GOOGLE : 0;
}

/** At a `J`: `eyJ`, a JWT's start (base64 of `{"`). */
const atJ = (v: string, i: number) => (v.charCodeAt(i - 1) === 121 && v.charCodeAt(i - 2) === 101 ? JWT : 0);

/** At a `B`: `Bearer`, `BEARER`, `Basic`, `BASIC`. */
function atB(v: string, i: number): number {
  const found = v.startsWith('earer', i + 1) || v.startsWith('EARER', i + 1) || v.startsWith('asic', i + 1) || v.startsWith('ASIC', i + 1);
  return found ? SCHEME : 0;
}

/** Up to this length one read of the characters costs less than eight searches. */
const SHORT = 64;

function probeShort(v: string): number {
  let bits = 0;
  for (let i = 0; i < v.length; i++) {
    const ch = v.charCodeAt(i);
    if (ch > 98) continue; // c-z and beyond: no trigger
    switch (ch) {
      case COLON:
        bits |= atColon(v, i);
        break;
      case EQUALS:
        bits |= atEquals(v, i);
        break;
      case DASH:
        bits |= atDash(v, i);
        break;
      case UNDERSCORE:
        bits |= atUnderscore(v, i);
        break;
      case 65:
        bits |= atA(v, i);
        break;
      case 74:
        bits |= atJ(v, i);
        break;
      case 66:
        bits |= atB(v, i);
        break;
      case 98:
        if (v.startsWith('earer', i + 1)) bits |= SCHEME;
        break;
    }
  }
  return bits;
}

/** Runs of `-` and `_` are one hit: only the first of a run can follow a prefix. */
function probeLong(v: string): number {
  let bits = 0;
  for (let i = v.indexOf(':'); i >= 0; i = v.indexOf(':', i + 1)) bits |= atColon(v, i);
  for (let i = v.indexOf('='); i >= 0; i = v.indexOf('=', i + 1)) bits |= atEquals(v, i);
  for (let i = v.indexOf('-'); i >= 0; i = v.indexOf('-', i + 1)) {
    bits |= atDash(v, i);
    while (v.charCodeAt(i + 1) === DASH) i++;
  }
  for (let i = v.indexOf('_'); i >= 0; i = v.indexOf('_', i + 1)) {
    bits |= atUnderscore(v, i);
    while (v.charCodeAt(i + 1) === UNDERSCORE) i++;
  }
  for (let i = v.indexOf('A'); i >= 0; i = v.indexOf('A', i + 1)) bits |= atA(v, i);
  for (let i = v.indexOf('J'); i >= 0; i = v.indexOf('J', i + 1)) bits |= atJ(v, i);
  for (let i = v.indexOf('B'); i >= 0; i = v.indexOf('B', i + 1)) bits |= atB(v, i);
  if (!(bits & SCHEME) && v.includes('bearer')) bits |= SCHEME;
  return bits;
}

/**
 * Below this length only a `:` or `=` can start a match (a URL password, a parameter, a JSON key,
 * a padded Basic credential): `Basic ` and 8 characters, an unsigned JWT, `xoxb-` and 10, take 14
 * and more.
 */
const ONLY_COLON_OR_EQUALS = 14;

/** The patterns (bits above) that could match v; 0 for most values. */
export function probe(v: string): number {
  if (v.length < ONLY_COLON_OR_EQUALS && v.indexOf(':') < 0 && v.indexOf('=') < 0) return 0;
  const bits = v.length <= SHORT ? probeShort(v) : probeLong(v);
  return bits & URL_PASSWORD && !v.includes('@') ? bits & ~URL_PASSWORD : bits;
}
