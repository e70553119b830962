/**
 * The read-only SQL interface's resource limits on the real embedded engine: a query past
 * max_memory_usage or max_result_bytes fails with the engine's own error, a query text past
 * maxQueryBytes (as sent, or once its gzip, deflate or br body is inflated) is refused with 413
 * before it reaches the engine, and after every refusal the next query is served.
 */
import { request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSqlInterface, type SqlInterface } from '../../sqlapi/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';

interface Answer {
  status: number;
  code: string | undefined;
  body: string;
}

const MAX_QUERY_BYTES = 4096;
const MAX_RESULT_BYTES = 4096;
const MAX_MEMORY_USAGE = 16 * 1024 * 1024;
/** About 4 million keys in a hash table: well past 16 MiB, well within the default 1 GiB. */
const GROUP_BY = 'SELECT count() FROM (SELECT number AS k FROM numbers(4000000) GROUP BY k)';

let store: TempStore;
let tight: SqlInterface;
let roomy: SqlInterface;
let tightPort: number;
let roomyPort: number;

function send(port: number, opts: { search?: string; method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/?${opts.search ?? ''}`, method: opts.method ?? 'POST', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-clickhouse-exception-code'] as string | undefined, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    // The server may answer (413) before it has read the whole body and close the connection.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(opts.body);
  });
}

const post = (query: string | Buffer, headers?: Record<string, string>) => send(tightPort, { body: query, headers });

/** Refused with this code, in ClickHouse's text form, and the next query is served. */
async function expectRefused(answer: Answer, code: number, status: number, text: RegExp): Promise<void> {
  expect(answer.code).toBe(String(code));
  expect(answer.status).toBe(status);
  expect(answer.body).toMatch(/^Code: \d+\. DB::Exception: .+\(version [\d.]+\)\n$/);
  expect(answer.body).toMatch(text);
  expect(await post('SELECT 1')).toMatchObject({ status: 200, body: '1\n' });
}

/** `SELECT 1` padded with a comment to exactly `bytes` bytes. */
const paddedQuery = (bytes: number) => `SELECT 1 /*${'x'.repeat(bytes - 'SELECT 1 /**/'.length)}*/`;

beforeAll(async () => {
  store = await tempStore();
  tight = buildSqlInterface({ store, port: 0, maxMemoryUsage: MAX_MEMORY_USAGE, maxResultBytes: MAX_RESULT_BYTES, maxQueryBytes: MAX_QUERY_BYTES });
  roomy = buildSqlInterface({ store, port: 0 });
  [{ port: tightPort }, { port: roomyPort }] = await Promise.all([tight.listen(), roomy.listen()]);
});

afterAll(async () => {
  await tight?.close();
  await roomy?.close();
  await store?.destroy();
});

describe('max_memory_usage', () => {
  it('fails a GROUP BY that needs more than the configured memory with MEMORY_LIMIT_EXCEEDED (241), and serves the next query', async () => {
    expect(await send(roomyPort, { body: GROUP_BY })).toMatchObject({ status: 200, body: '4000000\n' });
    await expectRefused(await post(GROUP_BY), 241, 500, /maximum: 16\.00 MiB[\s\S]*\(MEMORY_LIMIT_EXCEEDED\)/);
  });
});

describe('max_result_bytes', () => {
  it('fails a result larger than the configured bytes with TOO_MANY_ROWS_OR_BYTES (396), and serves the next query', async () => {
    expect((await send(roomyPort, { body: 'SELECT number FROM numbers(10000)' })).status).toBe(200);
    await expectRefused(await post('SELECT number FROM numbers(10000)'), 396, 500, /TOO_MANY_ROWS_OR_BYTES/);
    expect((await post('SELECT number FROM numbers(100)')).status).toBe(200);
  });

  it('refuses a client raising max_result_bytes past the configured one (READONLY, 164)', async () => {
    await expectRefused(await send(tightPort, { body: 'SELECT 1', search: `max_result_bytes=${MAX_RESULT_BYTES + 1}` }), 164, 500, /may be lowered, not raised above 4096/);
  });
});

describe('result limits apply to the result, not to the check of the statement', () => {
  /** One row of one byte; its EXPLAIN AST is over 300 lines and 4096 bytes. */
  const WIDE = `SELECT least(${Array(300).fill('number').join(', ')}) FROM numbers(1)`;

  it("answers a one-row result under a client's max_result_rows=1", async () => {
    expect(await send(roomyPort, { body: 'SELECT 1', search: 'max_result_rows=1' })).toMatchObject({ status: 200, body: '1\n' });
    expect(await send(roomyPort, { body: 'SELECT 1 + 1', search: 'max_result_rows=1' })).toMatchObject({ status: 200, body: '2\n' });
  });

  it('answers a small result of a long statement under the configured max_result_bytes', async () => {
    expect(await post(WIDE)).toMatchObject({ status: 200, body: '0\n' });
  });
});

describe('query size', () => {
  it('reads a query text of exactly the configured maximum', async () => {
    expect(Buffer.byteLength(paddedQuery(MAX_QUERY_BYTES))).toBe(MAX_QUERY_BYTES);
    expect(await post(paddedQuery(MAX_QUERY_BYTES))).toMatchObject({ status: 200, body: '1\n' });
  });

  it.each([
    ['a POST body', { body: paddedQuery(MAX_QUERY_BYTES + 1) }],
    ['a GET URL query', { method: 'GET', search: `query=${encodeURIComponent(paddedQuery(MAX_QUERY_BYTES + 1))}` }],
    ['a URL query and a body, each under it', { search: `query=${encodeURIComponent('SELECT 1')}`, body: `/*${'x'.repeat(MAX_QUERY_BYTES)}*/` }],
    // 1,500 characters, 4,517 bytes: the limit counts bytes
    ['a GET URL query of 3-byte characters', { method: 'GET', search: `query=${encodeURIComponent(`SELECT 1 /*${'€'.repeat(1500)}*/`)}` }],
  ])('refuses %s one byte past the maximum with 413 QUERY_IS_TOO_LARGE (229) before it reaches the engine', async (_what, opts) => {
    await expectRefused(await send(tightPort, opts), 229, 413, /Query is too large \(more than 4096 bytes\)/);
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ])('reads a %s body, and refuses one under the maximum that inflates past it with 413 (229)', async (encoding, compress) => {
    const headers = { 'content-encoding': encoding };
    expect(await post(compress(Buffer.from('SELECT 41 + 1')), headers)).toMatchObject({ status: 200, body: '42\n' });
    const bomb = compress(Buffer.from(paddedQuery(1024 * 1024)));
    expect(bomb.length).toBeLessThan(MAX_QUERY_BYTES);
    await expectRefused(await post(bomb, headers), 229, 413, /Query is too large \(more than 4096 bytes\)/);
  });

  it('stops inflating a 64 MiB gzip bomb at the maximum', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    const rssBefore = process.memoryUsage().rss;
    await expectRefused(await post(bomb, { 'content-encoding': 'gzip' }), 229, 413, /Query is too large/);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses a body in an encoding it does not read with 501 NOT_IMPLEMENTED (48), naming it', async () => {
    await expectRefused(await post('SELECT 1', { 'content-encoding': 'zstd' }), 48, 501, /Unknown Content-Encoding zstd/);
  });
});
