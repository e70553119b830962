/**
 * An error after the headers, as ClickHouse's HTTP interface reports it: the status is already
 * 200, so the exception text is written at the end of the body, inside a block a client can find
 * (`__exception__`, with the response's X-ClickHouse-Exception-Tag around it and the text's length
 * before the closing marker, as @clickhouse/client reads it since ClickHouse 25.11; without
 * tagging, `__exception__` and the text), and the response is cut without its last chunk, so a
 * client that does not look for the block still fails instead of taking a partial result.
 */
import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';

const MARKER = '__exception__';

/** The block for `text` (ChError.render's line, ending in a newline). */
export function exceptionBlock(text: string, tag?: string): string {
  if (!tag) return `\r\n${MARKER}\r\n${text}`;
  return `\r\n${MARKER}\r\n${tag}\r\n${text}${Buffer.byteLength(text)} ${tag}\r\n${MARKER}\r\n`;
}

/** Writes the block through `out` (the compressor, if any), flushes it, then breaks the connection. */
export function cutWithException(out: Writable, res: ServerResponse, block: string): void {
  res.shouldKeepAlive = false;
  const cut = () => setImmediate(() => res.destroy());
  if (out === res) {
    res.write(block, cut);
    return;
  }
  out.write(block);
  const flush = (out as Writable & { flush?: (cb: () => void) => void }).flush;
  if (flush) flush.call(out, cut);
  else cut();
}
