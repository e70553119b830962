/**
 * The SSE parser gives the same events however the bytes are split: every stream below is cut at
 * every byte boundary (and into single bytes) and must parse exactly as it does whole.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SseLimitError, SseParser, sseEvents, sseFrame, writeFrames } from '../../gateway/sse.js';
import type { SseEvent } from '../../gateway/providers/types.js';

const enc = new TextEncoder();

function parseSplits(bytes: Uint8Array, cuts: number[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.subarray(at, c)));
    at = c;
  }
  return [...out, ...p.end()];
}

const cases: { name: string; text: string; events: SseEvent[] }[] = [
  { name: 'OpenAI chunks and [DONE] (LF)', text: 'data: {"a":1}\n\ndata: {"b":"é→😀"}\n\ndata: [DONE]\n\n', events: [{ data: '{"a":1}' }, { data: '{"b":"é→😀"}' }, { data: '[DONE]' }] },
  {
    name: 'Anthropic named events (CRLF)',
    text: 'event: message_start\r\ndata: {"type":"message_start"}\r\n\r\nevent: ping\r\ndata: {"type": "ping"}\r\n\r\n',
    events: [
      { event: 'message_start', data: '{"type":"message_start"}' },
      { event: 'ping', data: '{"type": "ping"}' },
    ],
  },
  { name: 'CR only line ends', text: 'data: x\r\rdata: y\r\r', events: [{ data: 'x' }, { data: 'y' }] },
  { name: 'multi-line data joined with \\n, comments skipped, id kept', text: ': keep-alive\nid: 7\ndata: line1\ndata:line2\ndata\n\n', events: [{ id: '7', data: 'line1\nline2\n' }] },
  { name: 'event without data is not dispatched; retry and unknown fields ignored', text: 'event: lonely\n\nretry: 100\nfoo: bar\ndata: z\n\n', events: [{ data: 'z' }] },
  { name: 'leading BOM; only the first space after the colon dropped', text: '\uFEFFdata:  two spaces\n\n', events: [{ data: ' two spaces' }] },
  { name: 'last event without a blank line is delivered at end', text: 'data: a\n\ndata: tail', events: [{ data: 'a' }, { data: 'tail' }] },
];

describe('SseParser', () => {
  for (const c of cases) {
    it(`${c.name}: whole, at every single cut, and byte by byte`, () => {
      const bytes = enc.encode(c.text);
      expect(parseSplits(bytes, [])).toEqual(c.events);
      for (let i = 1; i < bytes.length; i++) expect(parseSplits(bytes, [i])).toEqual(c.events);
      expect(
        parseSplits(
          bytes,
          Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
        ),
      ).toEqual(c.events);
    });
  }

  it('every pair of cuts on a mixed stream', () => {
    const bytes = enc.encode(cases[1].text + cases[0].text.replace(/\n/g, '\r'));
    const whole = parseSplits(bytes, []);
    expect(whole).toHaveLength(5);
    for (let i = 1; i < bytes.length; i++) for (let j = i; j < bytes.length; j += 3) expect(parseSplits(bytes, [i, j])).toEqual(whole);
  });

  it('reads an async byte source', async () => {
    async function* source() {
      yield enc.encode('data: {"x"');
      yield enc.encode(':1}\n');
      yield enc.encode('\n');
    }
    const got: SseEvent[] = [];
    for await (const ev of sseEvents(source())) got.push(ev);
    expect(got).toEqual([{ data: '{"x":1}' }]);
  });
});

describe('SseParser bounds', () => {
  // `work` counts the bytes the line search looked at and the bytes copied to join split lines.
  const feed = (p: SseParser, bytes: Uint8Array, read: number) => {
    const out: SseEvent[] = [];
    for (let at = 0; at < bytes.length; at += read) out.push(...p.push(bytes.subarray(at, at + read)));
    return [...out, ...p.end()];
  };

  it('is linear in the bytes it reads: a 1 MiB line one byte per read costs a few bytes of work per byte', () => {
    const line = enc.encode(`data: ${'x'.repeat(1 << 20)}\n\n`);
    for (const read of [1, 7, 1024, line.length]) {
      const p = new SseParser({ maxLineBytes: 2 << 20 });
      expect(feed(p, line, read)).toEqual([{ data: 'x'.repeat(1 << 20) }]);
      // A parser re-scanning what it holds would do ~n²/2 (5·10^11 here) one byte at a time.
      // Two line-end searches, one copy into the carry, at most one more for its doublings.
      expect(p.work).toBeLessThanOrEqual(5 * line.length);
    }
  });

  it('is linear on many short lines without CR (the CR search does not restart per line)', () => {
    const bytes = enc.encode('data: a\n\n'.repeat(100_000));
    const p = new SseParser();
    expect(feed(p, bytes, bytes.length)).toHaveLength(100_000);
    expect(p.work).toBeLessThanOrEqual(2 * bytes.length);
  });

  it('refuses a line past maxLineBytes as soon as it is past, whole or one byte at a time, with the events before it', () => {
    const bytes = enc.encode(`data: ok\n\ndata: ${'y'.repeat(200)}`);
    for (const read of [1, 5, bytes.length]) {
      const p = new SseParser({ maxLineBytes: 100 });
      let err: unknown;
      const got: SseEvent[] = [];
      try {
        for (let at = 0; at < bytes.length; at += read) got.push(...p.push(bytes.subarray(at, at + read)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SseLimitError);
      expect(err).toMatchObject({ what: 'line', limit: 100 });
      expect([...got, ...(err as SseLimitError).events]).toEqual([{ data: 'ok' }]);
    }
  });

  it('refuses an event whose data lines add up past maxEventBytes, each line being within its limit', () => {
    const p = new SseParser({ maxLineBytes: 100, maxEventBytes: 250 });
    const line = `data: ${'z'.repeat(90)}\n`;
    expect(p.push(line + line)).toEqual([]);
    expect(() => p.push(line)).toThrow(SseLimitError);
    const q = new SseParser({ maxLineBytes: 100, maxEventBytes: 250 });
    expect(q.push(`${line}${line}\n${line}${line}\n`)).toHaveLength(2);
  });
});

describe('sseFrame and writeFrames', () => {
  it('frames round-trip through the parser, newlines included', () => {
    const p = new SseParser();
    const evs = p.push(sseFrame('a\nb\r\nc', 'x') + sseFrame('{"k":1}'));
    expect(evs).toEqual([{ event: 'x', data: 'a\nb\nc' }, { data: '{"k":1}' }]);
  });

  it('waits for drain under backpressure and returns undefined otherwise', async () => {
    const out = new PassThrough({ highWaterMark: 4 });
    expect(writeFrames(out, [])).toBeUndefined();
    const pending = writeFrames(out, ['data: 0123456789\n\n']);
    expect(pending).toBeInstanceOf(Promise);
    out.resume();
    await pending;
    expect(writeFrames(out, ['x'])).toBeUndefined();
  });

  it('does not hang when the client is gone', async () => {
    const out = new PassThrough({ highWaterMark: 1 });
    const pending = writeFrames(out, ['data: xx\n\n']);
    out.destroy();
    await pending;
    expect(writeFrames(out, ['more'])).toBeUndefined();
  });
});
