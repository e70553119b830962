/**
 * The AWS event stream framing (`application/vnd.amazon.eventstream`) of Bedrock's streaming
 * answers (ConverseStream, InvokeModelWithResponseStream), as events for the stream translators.
 *
 * A message is: total length (4 bytes, big-endian), headers length (4), prelude CRC32 (4),
 * headers, payload, message CRC32 (4). `:message-type` is `event` (`:event-type` names it),
 * `exception` (`:exception-type` names it, the payload is `{message}`) or `error`
 * (`:error-code` / `:error-message` headers). `@smithy/eventstream-codec` decodes one whole
 * message and checks both CRCs; this file only cuts the byte stream into messages, bounded.
 *
 * Each message becomes an `SseEvent` so the gateway's stream layers stay one: `event` is the
 * event type for events, `exception:<type>` for exceptions and errors; `data` is the payload
 * text (for errors, `{"message": …}` built from the headers).
 *
 * An upstream is untrusted: a length prefix past `maxEventBytes` is refused before anything is
 * buffered (SseLimitError, the same 502 as an SSE event too large), and a bad prelude CRC, a bad
 * message CRC, a length below the minimum or bytes left over at the end are refused at once as
 * `EventStreamError` (a clear 502, never a wait for bytes that will not come).
 */
import { crc32 } from 'node:zlib';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { GatewayError } from '../../errors.js';
import { SseLimitError } from '../../sse.js';
import type { SseEvent, StreamDecoder } from '../types.js';

/** Prelude (12) + message CRC (4): the smallest message. */
const MIN_MESSAGE = 16;
const PRELUDE = 12;

const toUtf8 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('utf8');
const fromUtf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** The one codec instance: `decode()` keeps no state (only `feed()` does, which is not used). */
export const eventStreamCodec = new EventStreamCodec(toUtf8, fromUtf8);

/**
 * A malformed event stream: the framing is lost, nothing after it can be read. The attempt's
 * answer (a 502 bad_upstream_response, retryable before the client's stream started).
 */
export class EventStreamError extends GatewayError {
  constructor(detail: string) {
    super('bad_upstream_response', `the upstream sent a malformed event stream: ${detail}`);
    this.name = 'EventStreamError';
  }
}

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';
export const EXCEPTION_PREFIX = 'exception:';

function headerString(headers: Record<string, { type: string; value: unknown }>, name: string): string | undefined {
  const h = headers[name];
  return h && h.type === 'string' ? (h.value as string) : undefined;
}

/** One decoded message → the event the translators read. */
export function eventOf(frame: Uint8Array): SseEvent {
  let msg: ReturnType<typeof eventStreamCodec.decode>;
  try {
    msg = eventStreamCodec.decode(frame);
  } catch (err) {
    throw new EventStreamError(`a message failed its checks (${(err as Error).message.slice(0, 120)})`);
  }
  const type = headerString(msg.headers, ':message-type');
  const body = toUtf8(msg.body);
  if (type === 'event') return { event: headerString(msg.headers, ':event-type') ?? '', data: body };
  if (type === 'exception') return { event: EXCEPTION_PREFIX + (headerString(msg.headers, ':exception-type') ?? 'unknown'), data: body };
  if (type === 'error') {
    const code = headerString(msg.headers, ':error-code') ?? 'InternalError';
    return { event: EXCEPTION_PREFIX + code, data: JSON.stringify({ message: headerString(msg.headers, ':error-message') ?? code }) };
  }
  throw new EventStreamError(`a message of unknown type ${JSON.stringify(type ?? null).slice(0, 40)}`);
}

/**
 * Bytes → events, however the stream is split. Holds at most one message (≤ maxEventBytes)
 * plus the bytes of one read; each byte is copied at most twice (a message trickling in one byte
 * per read is joined once, when it is whole).
 */
export class EventStreamDecoder implements StreamDecoder {
  private parts: Buffer[] = [];
  private held = 0;
  /** Bytes the next step needs: a prelude, then its whole message. */
  private needed = PRELUDE;

  constructor(private readonly maxEventBytes: number) {}

  push(chunk: Buffer): SseEvent[] {
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held < this.needed) return [];
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held);
    const out: SseEvent[] = [];
    let at = 0;
    this.needed = PRELUDE;
    while (buf.length - at >= PRELUDE) {
      const total = buf.readUInt32BE(at);
      if (crc32(buf.subarray(at, at + 8)) !== buf.readUInt32BE(at + 8)) {
        throw new EventStreamError('a message with a bad prelude checksum');
      }
      if (total < MIN_MESSAGE) throw new EventStreamError(`a message of ${total} bytes (the minimum is ${MIN_MESSAGE})`);
      if (total > this.maxEventBytes) throw new SseLimitError('event', this.maxEventBytes, out);
      if (buf.length - at < total) {
        this.needed = total;
        break;
      }
      out.push(eventOf(buf.subarray(at, at + total)));
      at += total;
    }
    // Copied: a view would keep the whole read it came from alive.
    const rest = at === 0 ? buf : Buffer.from(buf.subarray(at));
    this.parts = rest.length > 0 ? [rest] : [];
    this.held = rest.length;
    return out;
  }

  end(): SseEvent[] {
    if (this.held > 0) throw new EventStreamError(`it ended inside a message (${this.held} bytes left)`);
    return [];
  }
}
