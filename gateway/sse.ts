/**
 * Server-sent events, the three layers of a streamed answer (STYLE.md #10): `SseParser` turns
 * upstream bytes into events, translators turn events into client frames, `writeFrames` writes
 * the frames with backpressure.
 *
 * The parser follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CRLF may be
 * split across chunks), a chunk may end anywhere, even inside a UTF-8 sequence; `data:` lines of
 * one event are joined with "\n"; a single space after the colon is dropped; lines starting with
 * ":" are comments; `retry:` and unknown fields are ignored; a leading BOM is skipped. One
 * leniency: an event still pending when the stream ends is delivered, because some servers omit
 * the final blank line.
 *
 * An upstream is not trusted (ARCHITECTURE.md, trust boundaries): the parser works on bytes, looks
 * at each byte a bounded number of times however the stream is split (a line trickling in one byte
 * per read costs what it costs whole), and refuses a line or an event past its limit with
 * `SseLimitError` instead of holding it. Line ends are ASCII and never inside a UTF-8 sequence, so
 * each line is decoded once, whole: the same text as decoding the stream first.
 */
import type { Writable } from 'node:stream';
import type { SseEvent } from './providers/types.js';

export type { SseEvent };

export interface SseLimits {
  /** Longest line, in bytes without its line end. */
  maxLineBytes: number;
  /** Largest event: its data lines' bytes, plus one per line for the joining "\n". */
  maxEventBytes: number;
}

/**
 * 8 MiB each: far above any real event (a chat chunk is a few hundred bytes; the largest,
 * a Responses `response.completed` repeating a whole long answer, is around a megabyte), and
 * what one stream may hold at worst is about twice this.
 */
export const SSE_LIMITS: Readonly<SseLimits> = Object.freeze({ maxLineBytes: 8 * 1024 * 1024, maxEventBytes: 8 * 1024 * 1024 });

/** A line or an event past its limit. `events`: those the same push completed before it. */
export class SseLimitError extends Error {
  constructor(
    readonly what: 'line' | 'event',
    readonly limit: number,
    readonly events: SseEvent[],
  ) {
    super(`an upstream SSE ${what} exceeded ${limit} bytes`);
    this.name = 'SseLimitError';
  }
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;
const FIELD_DATA = Buffer.from('data');
const FIELD_EVENT = Buffer.from('event');
const FIELD_ID = Buffer.from('id');

/** Whether `buf[start, end)` is the field `name`: the name alone, or followed by a colon. */
function isField(buf: Buffer, start: number, end: number, name: Buffer): boolean {
  const n = name.length;
  if (end - start < n || (end - start > n && buf[start + n] !== COLON)) return false;
  for (let i = 0; i < n; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

export class SseParser {
  /**
   * Bytes looked at by the line-end search plus bytes copied to join lines split across chunks:
   * the parser's work, which tests bound by a small multiple of the bytes pushed.
   */
  work = 0;
  private readonly limits: SseLimits;
  /** The current line's bytes from earlier chunks, in `carry[0, carried)`; grows by doubling. */
  private carry: Buffer = Buffer.alloc(0);
  private carried = 0;
  private skipLeadingLF = false;
  private firstLine = true;
  private data: string[] = [];
  private dataBytes = 0;
  private event: string | undefined;
  private id: string | undefined;

  constructor(limits: Partial<SseLimits> = {}) {
    this.limits = { ...SSE_LIMITS, ...limits };
  }

  /** Feed one chunk; returns the events it completed (often none or one). Throws `SseLimitError`. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: SseEvent[] = [];
    const len = buf.length;
    let pos = 0;
    if (this.skipLeadingLF && len > 0) {
      this.skipLeadingLF = false;
      if (buf[0] === LF) pos = 1;
    }
    // Next LF and CR at or after `pos`; -1 once there is none left in this chunk. Each is searched
    // for again only after `pos` passed it, so every byte is looked at at most twice.
    let lf = -2;
    let cr = -2;
    try {
      while (pos < len) {
        if (lf !== -1 && lf < pos) lf = this.find(buf, LF, pos);
        if (cr !== -1 && cr < pos) cr = this.find(buf, CR, pos);
        const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
        if (end < 0) {
          this.keep(buf, pos, len);
          break;
        }
        this.completeLine(buf, pos, end, out);
        pos = end + 1;
        if (buf[end] === CR) {
          if (pos < len) {
            if (buf[pos] === LF) pos++;
          } else this.skipLeadingLF = true;
        }
      }
    } catch (err) {
      if (err instanceof SseLimitError) err.events.unshift(...out);
      throw err;
    }
    return out;
  }

  /** The upstream ended: flush a trailing line and a pending event. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.carried > 0) {
      const n = this.carried;
      this.carried = 0;
      this.line(this.carry, 0, n, out);
    }
    this.dispatch(out);
    return out;
  }

  private find(buf: Buffer, byte: number, from: number): number {
    const at = buf.indexOf(byte, from);
    this.work += (at < 0 ? buf.length : at + 1) - from;
    return at;
  }

  /** Holds the start of a line whose end is in a later chunk. */
  private keep(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    this.checkLine(this.carried + n);
    if (this.carried + n > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(256, 2 * (this.carried + n)));
      this.carry.copy(grown, 0, 0, this.carried);
      this.work += this.carried;
      this.carry = grown;
    }
    buf.copy(this.carry, this.carried, start, end);
    this.work += n;
    this.carried += n;
  }

  private completeLine(buf: Buffer, start: number, end: number, out: SseEvent[]): void {
    if (this.carried === 0) {
      this.checkLine(end - start);
      this.line(buf, start, end, out);
      return;
    }
    this.keep(buf, start, end);
    const n = this.carried;
    this.carried = 0;
    this.line(this.carry, 0, n, out);
    // A line that needed a large carry does not keep it for the rest of the stream.
    if (this.carry.length > 64 * 1024) this.carry = Buffer.alloc(0);
  }

  private checkLine(bytes: number): void {
    if (bytes > this.limits.maxLineBytes) throw new SseLimitError('line', this.limits.maxLineBytes, []);
  }

  private line(buf: Buffer, start: number, end: number, out: SseEvent[]): void {
    if (this.firstLine) {
      this.firstLine = false;
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    }
    if (start === end) {
      this.dispatch(out);
      return;
    }
    if (buf[start] === COLON) return; // a comment
    if (isField(buf, start, end, FIELD_DATA)) this.addData(buf, this.valueStart(buf, start + 4, end), end);
    else if (isField(buf, start, end, FIELD_EVENT)) this.event = buf.toString('utf8', this.valueStart(buf, start + 5, end), end);
    else if (isField(buf, start, end, FIELD_ID)) {
      const id = buf.toString('utf8', this.valueStart(buf, start + 2, end), end);
      if (!id.includes('\0')) this.id = id;
    }
    // retry and unknown fields: nothing a proxy needs
  }

  /** Where a field's value starts: after the colon and one optional space. */
  private valueStart(buf: Buffer, afterName: number, end: number): number {
    if (afterName >= end) return end;
    const v = afterName + 1;
    return v < end && buf[v] === SPACE ? v + 1 : v;
  }

  private addData(buf: Buffer, start: number, end: number): void {
    this.dataBytes += end - start + 1;
    if (this.dataBytes > this.limits.maxEventBytes) throw new SseLimitError('event', this.limits.maxEventBytes, []);
    this.data.push(buf.toString('utf8', start, end));
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length > 0) {
      const ev: SseEvent = { data: this.data.length === 1 ? this.data[0] : this.data.join('\n') };
      if (this.event !== undefined && this.event !== '') ev.event = this.event;
      if (this.id !== undefined) ev.id = this.id;
      out.push(ev);
    }
    this.data = [];
    this.dataBytes = 0;
    this.event = undefined;
  }
}

/** Events from a byte stream (an undici body, a Node readable), in order. */
export async function* sseEvents(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const chunk of source) {
    for (const ev of parser.push(chunk)) yield ev;
  }
  for (const ev of parser.end()) yield ev;
}

/**
 * One serialized frame. `data` may hold newlines: each line becomes its own `data:` line, so
 * the receiver joins them back to the same text.
 */
export function sseFrame(data: string, event?: string): string {
  const head = event === undefined ? '' : `event: ${event}\n`;
  if (!data.includes('\n') && !data.includes('\r')) return `${head}data: ${data}\n\n`;
  return `${head}${data
    .split(/\r\n|\r|\n/)
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
}

/** A frame from an event, keeping its event name: how passthrough translators re-emit events. */
export function sseFrameOf(ev: SseEvent): string {
  return sseFrame(ev.data, ev.event);
}

export const SSE_DONE_FRAME = 'data: [DONE]\n\n';

/** Response headers for an SSE answer. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
});

/**
 * Write frames as one chunk. Returns undefined when the socket took them, or a promise that
 * settles when it drains (or closes: a gone client must not leave the pump waiting forever).
 * The caller awaits it before reading more from the upstream: that is the backpressure.
 */
export function writeFrames(out: Writable, frames: string[]): Promise<void> | undefined {
  if (frames.length === 0 || out.destroyed) return undefined;
  const ok = out.write(frames.length === 1 ? frames[0] : frames.join(''));
  if (ok) return undefined;
  return new Promise<void>((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}
