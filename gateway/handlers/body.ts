/**
 * The gateway's JSON body parser. Before `JSON.parse`, one pass over the text checks what a parse
 * cannot be trusted with: nesting deeper than `maxDepth` (every later walk of the value, from
 * span attributes to the upstream request, recurses; a 12 KB body of brackets used to overflow
 * the stack in a telemetry timer and kill the process) and keys that reach an object's prototype
 * (`__proto__`, `constructor.prototype`: refused, as Fastify's own parser does by default).
 * The pass is a loop with no recursion, linear in the text, and keeps at most `maxDepth` frames.
 */
import { GatewayError } from '../errors.js';

/** Nesting levels a request body may have (objects and arrays); 400 past it. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Path segments named in a message: enough to find the place, short enough to read. */
const PATH_SEGMENTS = 8;
const KEY_CHARS = 40;

/** One open object or array: its key or index so far, for the path in a message. */
interface Frame {
  object: boolean;
  /** The key being read (objects) or the element index (arrays). */
  key: string;
  index: number;
  /** In an object: the next string is a key. */
  expectKey: boolean;
}

function segment(f: Frame): string {
  if (!f.object) return `[${f.index}]`;
  const key = f.key.length > KEY_CHARS ? `${f.key.slice(0, KEY_CHARS)}…` : f.key;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** `$.messages[0].content…` for the open frames (the first few). */
function pathOf(frames: readonly Frame[], depth: number): string {
  let p = '$';
  const n = Math.min(depth, PATH_SEGMENTS);
  for (let i = 0; i < n; i++) p += segment(frames[i]);
  return depth > PATH_SEGMENTS ? `${p}…` : p;
}

/** A key's text: escapes resolved (a key can spell `__proto__` with `\u005f`), cut for messages. */
function keyText(text: string, start: number, end: number): string {
  const raw = text.slice(start, end);
  if (!raw.includes('\\')) return raw.length > KEY_CHARS * 4 ? raw.slice(0, KEY_CHARS * 4) : raw;
  try {
    return JSON.parse(text.slice(start - 1, end + 1)) as string;
  } catch {
    return raw; // invalid escapes: JSON.parse reports the body after the scan
  }
}

/** What the checked text is: a client's request body (a 400), or an upstream's answer (a 502). */
export type JsonSource = 'request' | 'answer';

const SOURCES = {
  request: { code: 'invalid_json', what: 'the request body', deepAdvice: '; flatten it or send the value as a string' },
  answer: { code: 'bad_upstream_response', what: 'the upstream answer', deepAdvice: ', deeper than the gateway passes on' },
} as const;

function tooDeep(frames: readonly Frame[], depth: number, offset: number, maxDepth: number, source: JsonSource): GatewayError {
  const s = SOURCES[source];
  return new GatewayError(s.code, `${s.what} nests deeper than ${maxDepth} levels at ${pathOf(frames, depth)} (character ${offset})${s.deepAdvice}`);
}

function forbiddenKey(frames: readonly Frame[], depth: number, key: string, source: JsonSource): GatewayError {
  const s = SOURCES[source];
  return new GatewayError(s.code, `${s.what} has a forbidden key "${key}" at ${pathOf(frames, depth)}; keys that reach an object prototype are refused`);
}

/**
 * The index of the quote that ends a string starting at `from` (or the text's length). Found with
 * indexOf, which runs at memchr speed: a prompt is mostly one long string.
 */
function closingQuote(text: string, from: number): number {
  for (let q = text.indexOf('"', from); q !== -1; q = text.indexOf('"', q + 1)) {
    let slashes = 0;
    while (q - slashes - 1 >= from && text.charCodeAt(q - slashes - 1) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q;
  }
  return text.length;
}

/** A value string of `longChars` and more with no escape: where it sits in the value and in the text. */
export type LongString = (path: (string | number)[], start: number, end: number) => void;

export interface JsonCheckOptions {
  long?: LongString;
  longChars?: number;
  /** Whose text it is (default: a request body). */
  source?: JsonSource;
}

/**
 * Checks nesting and keys of JSON text; throws a GatewayError (a 400 for a request body, a 502
 * for an upstream answer: `source`). Invalid JSON is left to JSON.parse. Returns how many objects
 * and arrays the text opens (what parsing it will allocate). `long` hears of every value string
 * of `longChars` characters and more without a backslash (its text is its value); its path is as
 * the scan read it (a repeated key, a key past 160 characters or one with escapes can name another
 * place: check it against the parsed value).
 */
export function checkJsonText(text: string, maxDepth = MAX_JSON_DEPTH, { long, longChars = Infinity, source = 'request' }: JsonCheckOptions = {}): number {
  const frames: Frame[] = [];
  let depth = 0;
  let containers = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      const end = closingQuote(text, start);
      i = end;
      const f = depth > 0 ? frames[depth - 1] : undefined;
      if (f?.object && f.expectKey) {
        f.expectKey = false;
        f.key = keyText(text, start, i);
        if (f.key === '__proto__') throw forbiddenKey(frames, depth, f.key, source);
        if (f.key === 'prototype' && depth > 1 && frames[depth - 2].object && frames[depth - 2].key === 'constructor') throw forbiddenKey(frames, depth, f.key, source);
      } else if (long && i - start >= longChars && !text.slice(start, i).includes('\\')) {
        long(
          frames.slice(0, depth).map((g) => (g.object ? g.key : g.index)),
          start,
          i,
        );
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= maxDepth) throw tooDeep(frames, depth, i, maxDepth, source);
      containers++;
      const object = c === OPEN_OBJECT;
      const f = (frames[depth] ??= { object, key: '', index: 0, expectKey: object });
      f.object = object;
      f.key = '';
      f.index = 0;
      f.expectKey = object;
      depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (c === COMMA && depth > 0) {
      const f = frames[depth - 1];
      if (f.object) f.expectKey = true;
      else f.index++;
    } else if (c === COLON && depth > 0) {
      frames[depth - 1].expectKey = false;
    }
  }
  return containers;
}

/** Parses a JSON request body after `checkJsonText`; every failure is a 400 GatewayError. */
export function parseJsonBody(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  checkJsonText(text, maxDepth);
  return parseJsonText(text);
}

/** JSON.parse with the gateway's 400 for text `checkJsonText` already passed. */
export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_json', text.trim() === '' ? 'the request body is empty; send a JSON object' : 'the request body is not valid JSON');
  }
}
