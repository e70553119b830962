/**
 * Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character; undefined
 * when it already fits. The UTF-16 length bounds the UTF-8 size (at most 3 bytes per code
 * unit), so short values are decided without encoding them.
 */
export function truncateUtf8(v: string, maxBytes: number): string | undefined {
  if (v.length * 3 <= maxBytes) return undefined;
  if (Buffer.byteLength(v, 'utf8') <= maxBytes) return undefined;
  const buf = Buffer.from(v, 'utf8');
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut lands before a character's first byte.
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}
