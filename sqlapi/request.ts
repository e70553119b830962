/**
 * Reading one HTTP request as ClickHouse's HTTP interface reads it: credentials, the query text
 * (URL `query` first, then the body, joined by a newline), output format, query parameters and
 * settings, and the compression the response may use.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { ChError } from './errors.js';
import { splitParams } from './settings.js';

export interface Credentials {
  user: string;
  password: string;
}

/** User and password from X-ClickHouse-User/Key, basic auth or the URL, in ClickHouse's order. */
export function credentialsOf(headers: IncomingHttpHeaders, search: URLSearchParams): Credentials {
  const headerUser = one(headers['x-clickhouse-user']);
  const headerKey = one(headers['x-clickhouse-key']);
  if (headerUser !== undefined || headerKey !== undefined) return { user: headerUser || 'default', password: headerKey ?? '' };
  const auth = one(headers.authorization);
  if (auth && /^basic\s+/i.test(auth)) {
    const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? { user: decoded || 'default', password: '' } : { user: decoded.slice(0, colon) || 'default', password: decoded.slice(colon + 1) };
  }
  return { user: search.get('user') || 'default', password: search.get('password') ?? '' };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** With a configured password, the user and password must match; without one, anyone reads. */
export function checkCredentials(given: Credentials, expected: { user: string; password?: string }): void {
  if (expected.password === undefined) return;
  const a = Buffer.from(`${given.user}\0${given.password}`);
  const b = Buffer.from(`${expected.user}\0${expected.password}`);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw ChError.of('AUTHENTICATION_FAILED', `${given.user.slice(0, 64)}: Authentication failed: password is incorrect, or there is no user with such name`);
  }
}

/** Reads the body up to `limit` bytes (after decompression), decoding gzip, deflate or br. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (one(req.headers['content-encoding']) ?? '').trim().toLowerCase();
  let source: NodeJS.ReadableStream = req;
  let decoder: Transform | undefined;
  if (encoding === 'gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding === 'br') decoder = createBrotliDecompress();
  else if (encoding && encoding !== 'identity') throw ChError.of('NOT_IMPLEMENTED', `Unknown Content-Encoding ${encoding.slice(0, 32)}`);
  if (decoder) {
    req.on('error', (err) => decoder.destroy(err));
    source = req.pipe(decoder);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw ChError.of('QUERY_IS_TOO_LARGE', `Query is too large (more than ${limit} bytes): tracegate's SQL interface only reads`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof ChError) throw err;
    throw ChError.of('CANNOT_DECOMPRESS', `cannot read the request body: ${(err as Error).message}`);
  } finally {
    decoder?.destroy();
  }
  return Buffer.concat(chunks);
}

export interface ParsedQuery {
  /** The client's text: URL `query`, then the body. */
  text: string;
  defaultFormat?: string;
  /** `name = literal` settings the client asked for (allowed ones only). */
  settings: string[];
  queryParams: Record<string, string | null>;
  queryId?: string;
  /** The response encoding to use, when the client asked for compression and accepts one. */
  responseEncoding?: 'gzip' | 'deflate' | 'br';
  compressionLevel?: number;
  /** An error after the headers is written in a tagged block (X-ClickHouse-Exception-Tag); off with http_exception_tagging=0. */
  exceptionTagging: boolean;
}

const QUERY_ID = /^[\w.:-]{1,128}$/;
const DATABASE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Everything but the credentials and body reading: pure, so it is tested without a server. */
export function parseQuery(search: URLSearchParams, body: string, acceptEncoding: string | undefined, formatHeader?: string): ParsedQuery {
  if (search.get('compress') === '1' || search.get('decompress') === '1') {
    throw ChError.of('NOT_IMPLEMENTED', "ClickHouse's native block compression (compress=1, decompress=1) is not supported here; use enable_http_compression=1 with Accept-Encoding");
  }
  const database = search.get('database');
  if (database && !DATABASE.test(database)) throw ChError.of('UNKNOWN_DATABASE', `Database ${database.slice(0, 64)} does not exist`);
  const urlQuery = search.get('query') ?? '';
  const text = urlQuery && body ? `${urlQuery}\n${body}` : urlQuery || body;
  const split = splitParams(search);
  const defaultFormat = search.get('default_format') ?? formatHeader ?? undefined;
  const queryId = search.get('query_id') || undefined;
  if (queryId !== undefined && !QUERY_ID.test(queryId)) throw ChError.of('BAD_ARGUMENTS', 'query_id may hold letters, digits and . _ : - only, up to 128 characters');
  const exceptionTagging = split.http.get('http_exception_tagging') !== '0';
  const parsed: ParsedQuery = { text, defaultFormat, settings: split.statementSettings, queryParams: split.queryParams, queryId, exceptionTagging };
  if (split.http.get('enable_http_compression') === '1') {
    parsed.responseEncoding = pickEncoding(acceptEncoding);
    const level = Number(split.http.get('http_zlib_compression_level'));
    if (Number.isInteger(level) && level >= 1 && level <= 9) parsed.compressionLevel = level;
  }
  return parsed;
}

/** The first of gzip, deflate, br the client lists (ClickHouse's supported set, minus zstd/xz/lz4). */
export function pickEncoding(accept: string | undefined): ParsedQuery['responseEncoding'] {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const [name, ...rest] = part.trim().toLowerCase().split(';');
    if (rest.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))) continue;
    if (name === 'gzip' || name === 'deflate' || name === 'br') return name;
  }
  return undefined;
}
