/**
 * Property-based fuzzing of the SSE parser (gateway/sse.ts), the first code to touch an
 * upstream's streamed bytes: arbitrary bytes, biased towards the event-stream syntax (field names,
 * CR / LF / CRLF, BOM, comments, multi-byte UTF-8, invalid bytes), split at arbitrary points.
 * Properties: the events (and a limit error, if any) do not depend on the split; they equal a
 * naive reference parser written from the WHATWG rules; nothing but SseLimitError is ever thrown;
 * and streams built from known events parse back to them whatever their line ends.
 * Fixed seed under `npm test`, a long fresh-seeded run under `npm run fuzz` (fuzz.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseLimitError, SseParser, type SseLimits } from '../../gateway/sse.js';
import type { SseEvent } from '../../gateway/providers/types.js';
import { fuzzParams } from './fuzz.js';

interface Outcome {
  events: SseEvent[];
  /** Which limit stopped the stream, if one did. */
  error: 'line' | 'event' | null;
}

/** Small limits, so that generated streams reach them. */
const LIMITS: SseLimits = { maxLineBytes: 40, maxEventBytes: 60 };

function parse(bytes: Uint8Array, cuts: number[], limits: SseLimits): Outcome {
  const p = new SseParser(limits);
  const events: SseEvent[] = [];
  let at = 0;
  try {
    for (const c of [...cuts, bytes.length]) {
      events.push(...p.push(bytes.subarray(at, c)));
      at = c;
    }
    events.push(...p.end());
    return { events, error: null };
  } catch (err) {
    if (!(err instanceof SseLimitError)) throw err;
    return { events: [...events, ...err.events], error: err.what };
  }
}

/**
 * The rules applied the slow, obvious way: split the whole byte string into lines, then read
 * them in order. Line lengths count raw bytes (a leading BOM included); each line is decoded on
 * its own, which equals decoding the stream first because line ends are ASCII.
 */
function reference(bytes: Uint8Array, limits: SseLimits): Outcome {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10 && bytes[i] !== 13) continue;
    lines.push(bytes.subarray(start, i));
    if (bytes[i] === 13 && bytes[i + 1] === 10) i++;
    start = i + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  const decode = (b: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);
  const events: SseEvent[] = [];
  let data: string[] = [];
  let dataBytes = 0;
  let event = '';
  let id: string | undefined;
  const dispatch = () => {
    if (data.length > 0) events.push({ data: data.join('\n'), ...(event ? { event } : {}), ...(id !== undefined ? { id } : {}) });
    data = [];
    dataBytes = 0;
    event = '';
  };
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    if (line.length > limits.maxLineBytes) return { events, error: 'line' };
    if (n === 0 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    if (line.length === 0) {
      dispatch();
      continue;
    }
    if (line[0] === 58) continue;
    const colon = line.indexOf(58);
    const field = decode(colon < 0 ? line : line.subarray(0, colon));
    let value = colon < 0 ? new Uint8Array(0) : line.subarray(colon + 1);
    if (value[0] === 32) value = value.subarray(1);
    if (field === 'data') {
      dataBytes += value.length + 1;
      if (dataBytes > limits.maxEventBytes) return { events, error: 'event' };
      data.push(decode(value));
    } else if (field === 'event') event = decode(value);
    else if (field === 'id' && !decode(value).includes('\0')) id = decode(value);
  }
  dispatch();
  return { events, error: null };
}

const enc = new TextEncoder();
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('data:', 'data: ', 'event: ', 'id: ', 'id', ':', 'retry: 9', 'data', ' ', 'x', 'é', '😀', '\uFEFF', '\0').map((s) => enc.encode(s)) },
  { weight: 4, arbitrary: fc.constantFrom('\n', '\r', '\r\n', '\n\n', '\r\n\r\n').map((s) => enc.encode(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => enc.encode(s)) },
);
const stream = fc.array(piece, { maxLength: 40 }).map((parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
});
const withCuts = stream.chain((bytes) =>
  fc.tuple(
    fc.constant(bytes),
    fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }).map((c) => c.sort((a, b) => a - b)),
  ),
);

describe('SseParser under fuzzing', () => {
  it('any bytes, any split: the same outcome as the whole buffer and as the reference parser; only SseLimitError is thrown', () => {
    fc.assert(
      fc.property(withCuts, fc.boolean(), ([bytes, cuts], small) => {
        const limits = small ? LIMITS : { maxLineBytes: 1 << 20, maxEventBytes: 1 << 20 };
        const whole = parse(bytes, [], limits);
        expect(parse(bytes, cuts, limits)).toEqual(whole);
        expect(whole).toEqual(reference(bytes, limits));
      }),
      fuzzParams(300),
    );
  });

  it('one byte per read gives the same outcome as whole', () => {
    fc.assert(
      fc.property(stream, (bytes) => {
        const cuts = Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1);
        expect(parse(bytes, cuts, LIMITS)).toEqual(parse(bytes, [], LIMITS));
      }),
      fuzzParams(150),
    );
  });

  const text = fc.string({ maxLength: 12 }).filter((s) => !/[\r\n]/.test(s));
  const eventArb = fc.record({
    event: fc.option(
      text.filter((s) => s !== ''),
      { nil: undefined },
    ),
    lines: fc.array(text, { minLength: 1, maxLength: 4 }),
  });

  it('known events written with any mix of CR, LF and CRLF, comments, a BOM and split anywhere parse back to themselves', () => {
    const eol = fc.constantFrom('\n', '\r', '\r\n');
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 6 }), fc.boolean(), fc.infiniteStream(eol), fc.array(fc.nat(), { maxLength: 8 }), (events, bom, eols, rawCuts) => {
        let last = '';
        // A CR then an LF would be one CRLF line end, not two: after a CR, an LF-first end becomes a CR.
        const next = () => {
          const e = eols.next().value as string;
          last = last === '\r' && e.startsWith('\n') ? '\r' : e;
          return last;
        };
        let s = bom ? '\uFEFF' : '';
        for (const e of events) {
          s += `: a comment${next()}`;
          if (e.event !== undefined) s += `event: ${e.event}${next()}`;
          for (const l of e.lines) s += `data: ${l}${next()}`;
          s += next();
        }
        const bytes = enc.encode(s);
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const expected = events.map((e) => ({ data: e.lines.join('\n'), ...(e.event !== undefined ? { event: e.event } : {}) }));
        expect(parse(bytes, cuts, { maxLineBytes: 1 << 20, maxEventBytes: 1 << 20 })).toEqual({ events: expected, error: null });
      }),
      fuzzParams(300),
    );
  });
});
