/**
 * The AWS event stream decoder: the stored bytes of a ConverseStream (test/fixtures/bedrock/
 * eventstream.json) decode to the same events however the stream is split, UTF-8 split inside a
 * character included; exceptions and errors become `exception:` events; malformed framing (a bad
 * prelude or message CRC, a length below the minimum, a length past the limit, bytes left at the
 * end) is refused at once, with nothing buffered past the limit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EventStreamDecoder, EventStreamError } from '../../../../gateway/providers/bedrock/eventstream.js';
import type { SseEvent } from '../../../../gateway/providers/types.js';
import { SseLimitError } from '../../../../gateway/sse.js';
import { codec, eventMessage } from '../../../helpers/providers/bedrock_wire.js';

const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, '../../../fixtures/bedrock/eventstream.json'), 'utf8'));
const STREAM = Buffer.from(FIXTURE.converseStream, 'base64');
const LIMIT = 8 * 1024 * 1024;

const EXPECTED: SseEvent[] = [
  { event: 'messageStart', data: '{"role":"assistant","p":"abcdefghijklm"}' },
  { event: 'contentBlockDelta', data: '{"contentBlockIndex":0,"delta":{"text":"Héllo "},"p":"abcdefghijklmnopqrstuvwxy"}' },
  { event: 'contentBlockDelta', data: '{"contentBlockIndex":0,"delta":{"text":"wörld 🌍"},"p":"abcdefghijklmnopqrstuvwxyzABCDEF"}' },
  { event: 'contentBlockStop', data: '{"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"}' },
  { event: 'messageStop', data: '{"stopReason":"end_turn","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"}' },
  { event: 'metadata', data: '{"usage":{"inputTokens":7,"outputTokens":3,"totalTokens":10},"metrics":{"latencyMs":12},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"}' },
];

function decodeIn(pieces: Buffer[], limit = LIMIT): SseEvent[] {
  const d = new EventStreamDecoder(limit);
  return [...pieces.flatMap((p) => d.push(p)), ...d.end()];
}

describe('AWS event stream decoder', () => {
  it('decodes the stored ConverseStream bytes in one piece', () => {
    expect(decodeIn([STREAM])).toEqual(EXPECTED);
  });

  it('gives the same events split at every byte, and byte by byte', () => {
    for (let at = 1; at < STREAM.length; at++) {
      expect(decodeIn([STREAM.subarray(0, at), STREAM.subarray(at)])).toEqual(EXPECTED);
    }
    expect(decodeIn([...STREAM].map((b) => Buffer.from([b])))).toEqual(EXPECTED);
  });

  it('names exceptions and errors exception:<type>, payload {message}', () => {
    expect(decodeIn([Buffer.from(FIXTURE.exception, 'base64')])).toEqual([{ event: 'exception:throttlingException', data: '{"message":"Too many tokens, please wait before trying again."}' }]);
    expect(decodeIn([Buffer.from(FIXTURE.error, 'base64')])).toEqual([{ event: 'exception:InternalFailure', data: '{"message":"An internal error occurred."}' }]);
  });

  it('refuses a bad message checksum', () => {
    const bad = Buffer.from(STREAM);
    bad[40] ^= 0xff; // inside the first message's headers
    expect(() => decodeIn([bad])).toThrow(EventStreamError);
  });

  it('refuses a bad prelude checksum as soon as the prelude is in, without waiting for the message', () => {
    const bad = Buffer.from(STREAM.subarray(0, 12));
    bad[3] ^= 0x01; // the total length
    const d = new EventStreamDecoder(LIMIT);
    expect(() => d.push(bad)).toThrow(/prelude checksum/);
  });

  it('refuses a length past the limit before buffering it (a 4 GiB prefix with a valid CRC)', () => {
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(0xfffffff0, 0);
    prelude.writeUInt32BE(0, 4);
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    const d = new EventStreamDecoder(LIMIT);
    let err: unknown;
    try {
      d.push(Buffer.concat([STREAM.subarray(0, 10)]));
      d.push(Buffer.concat([STREAM.subarray(10), prelude]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SseLimitError);
    // The messages completed before it are handed over with the error.
    expect((err as SseLimitError).events).toEqual(EXPECTED);
    expect((err as SseLimitError).limit).toBe(LIMIT);
  });

  it('refuses a stream that ends inside a message', () => {
    expect(() => decodeIn([STREAM.subarray(0, STREAM.length - 5)])).toThrow(/ended inside a message/);
    expect(() => decodeIn([STREAM.subarray(0, 5)])).toThrow(EventStreamError);
  });

  it('refuses a message shorter than its own framing, and an unknown message type', () => {
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(8, 0);
    prelude.writeUInt32BE(0, 4);
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    expect(() => decodeIn([prelude])).toThrow(/minimum is 16/);
    const odd = Buffer.from(codec.encode({ headers: { ':message-type': { type: 'string', value: 'gossip' } }, body: new Uint8Array(0) }));
    expect(() => decodeIn([odd])).toThrow(/unknown type/);
  });

  it('holds at most one message: a message trickling in one byte per read costs linear work', () => {
    const big = eventMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'z'.repeat(200_000) } });
    const d = new EventStreamDecoder(LIMIT);
    const started = performance.now();
    let got: SseEvent[] = [];
    for (let i = 0; i < big.length; i++) got = got.concat(d.push(big.subarray(i, i + 1)));
    expect(got).toHaveLength(1);
    // Joined once when whole: quadratic joining of 200 kB would take seconds.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
