import { timingSafeEqual } from 'node:crypto';

/** Checks an `authorization` header value against the configured bearer token in constant time. */
export function bearerOk(token: string | undefined, header: string | undefined): boolean {
  if (token === undefined) return true;
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
