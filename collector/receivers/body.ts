/**
 * Reads a request body with the size limit enforced while reading: exporters send chunked
 * bodies without a content-length, and a gzip body is limited after decompression too.
 */
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { collectorErrors } from '../errors.js';

export async function readBody(raw: Readable, encoding: string | undefined, limit: number, declaredLength?: number): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc !== '' && enc !== 'identity' && enc !== 'gzip') {
    raw.resume();
    throw collectorErrors.unsupportedEncoding(enc);
  }
  if (declaredLength !== undefined && declaredLength > limit) {
    drain(raw, limit);
    throw collectorErrors.tooLarge(limit);
  }
  const source: Readable = enc === 'gzip' ? raw.pipe(createGunzip()) : raw;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        if (source !== raw) source.destroy();
        drain(raw, limit);
        throw collectorErrors.tooLarge(limit);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('Z_')) throw collectorErrors.invalid(`the gzip body does not decompress: ${(err as Error).message}`);
    throw err;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

/**
 * Discards the rest of a refused body so the answer reaches the client, up to a bound after
 * which the connection is cut (an endless chunked body must not keep it busy).
 */
function drain(raw: Readable, limit: number): void {
  let extra = 0;
  const cap = Math.max(limit * 4, 64 * 1024 * 1024);
  raw.on('data', (c: Buffer) => {
    extra += c.length;
    if (extra > cap) raw.destroy();
  });
  raw.resume();
}
