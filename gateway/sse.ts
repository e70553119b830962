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
 */
import type { Writable } from 'node:stream';
import type { SseEvent } from './translators/types.js';

export type { SseEvent };

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';
  private skipLeadingLF = false;
  private started = false;
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;

  /** Feed one chunk; returns the events it completed (often none or one). */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLeadingLF && text.length > 0) {
      this.skipLeadingLF = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    const out: SseEvent[] = [];
    const buf = this.pending + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(buf.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < buf.length) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else {
          this.skipLeadingLF = true;
        }
      }
      start = i + 1;
    }
    this.pending = buf.slice(start);
    return out;
  }

  /** The upstream ended: flush a trailing line and a pending event. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const tail = this.pending + this.decoder.decode();
    this.pending = '';
    if (tail.length > 0) this.line(tail, out);
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      default:
        break; // retry and unknown fields: nothing a proxy needs
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length > 0) {
      const ev: SseEvent = { data: this.data.length === 1 ? this.data[0] : this.data.join('\n') };
      if (this.event !== undefined && this.event !== '') ev.event = this.event;
      if (this.id !== undefined) ev.id = this.id;
      out.push(ev);
    }
    this.data = [];
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
  return `${head}${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`;
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
