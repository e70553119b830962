/**
 * Results stream from the engine's query threads to the client with backpressure: the first
 * bytes arrive while the query still runs, a result several times the old buffer passes with
 * bounded memory, an error after the headers is reported as ClickHouse's HTTP interface reports
 * it, and the interface can be started and stopped again and again while queries stream.
 */
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@clickhouse/client';
import { buildSqlInterface, type SqlInterface } from '../../sqlapi/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';

let store: TempStore;

beforeAll(async () => {
  store = await tempStore();
});
afterAll(async () => {
  await store?.destroy();
});

/** Statements of this interface still running in the engine. */
async function running(): Promise<number> {
  const rows = await store.rows<{ n: string }>("SELECT count() AS n FROM system.processes WHERE query LIKE '%tracegate-sql %' AND query NOT LIKE '%system.processes%'");
  return Number(rows[0].n);
}

function open(port: number, query: string, search = ''): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/?${search}`, method: 'POST' }, resolve);
    req.on('error', reject);
    req.end(query);
  });
}

/** Reads the response to its end (or its cut); what came, and whether the transfer completed. */
function drain(res: IncomingMessage, keep = true): Promise<{ body: Buffer; bytes: number; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      if (keep) chunks.push(c);
    });
    res.on('end', () => resolve({ body: Buffer.concat(chunks), bytes, complete: res.complete }));
    res.on('error', () => resolve({ body: Buffer.concat(chunks), bytes, complete: false }));
    res.on('aborted', () => resolve({ body: Buffer.concat(chunks), bytes, complete: false }));
  });
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('a result larger than the old 128 MiB buffer', () => {
  let sql: SqlInterface;
  let port: number;
  beforeAll(async () => {
    sql = buildSqlInterface({ store, port: 0, maxResultRows: 100_000_000, maxResultBytes: 4 * 1024 ** 3, maxExecutionTime: 120 });
    ({ port } = await sql.listen());
  });
  afterAll(async () => {
    await sql?.close();
  });

  it('arrives while the query runs, held back while the client does not read, with bounded memory', async () => {
    // About 400 MB of TabSeparated: 4 million rows of a number and 90 characters.
    const res = await open(port, "SELECT number, repeat('x', 90) FROM numbers(4000000)");
    expect(res.statusCode).toBe(200);
    // The client reads nothing yet: the query thread stops at its window, so the query is still
    // running while the first bytes are already here.
    res.pause();
    const first = await new Promise<Buffer>((resolve) => res.once('readable', () => resolve(res.read(1) as Buffer)));
    expect(first.length).toBe(1);
    expect(await running()).toBe(1);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = performance.now();
    res.resume();
    const { bytes, complete } = await drain(res, false);
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    expect(complete).toBe(true);
    expect(bytes + 1).toBeGreaterThan(350 * 1024 * 1024);
    const growth = (peak - rssBefore) / 1024 ** 2;
    console.log(`streamed ${(bytes / 1024 ** 2).toFixed(0)} MiB in ${seconds.toFixed(1)} s; RSS ${(rssBefore / 1024 ** 2).toFixed(0)} MiB before, peak +${growth.toFixed(0)} MiB`);
    // The old design held the whole result (and a copy) before the first byte.
    expect(growth).toBeLessThan(150);
    await waitFor(async () => (await running()) === 0, 5000);
  }, 120_000);
});

describe('an error after the headers', () => {
  let sql: SqlInterface;
  let port: number;
  beforeAll(async () => {
    sql = buildSqlInterface({ store, port: 0, maxResultRows: 1_000_000 });
    ({ port } = await sql.listen());
  });
  afterAll(async () => {
    await sql?.close();
  });
  // Past the held first MiB, then past max_result_rows.
  const TOO_MANY = 'SELECT number FROM numbers(3000000)';

  it('is written at the end of the body in a tagged block, and the response is cut', async () => {
    const res = await open(port, TOO_MANY);
    expect(res.statusCode).toBe(200);
    const tag = String(res.headers['x-clickhouse-exception-tag']);
    expect(tag).toMatch(/^[A-Za-z0-9]{8}$/);
    const { body, complete } = await drain(res);
    expect(complete).toBe(false);
    const tail = body.subarray(-400).toString();
    const m = new RegExp(`\r\n__exception__\r\n${tag}\r\n(Code: 396\\. DB::Exception: [^\n]*\\(TOO_MANY_ROWS_OR_BYTES\\) \\(version [^)]+\\)\n)(\\d+) ${tag}\r\n__exception__\r\n$`).exec(tail);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(Buffer.byteLength(m![1]));
    expect(await running()).toBe(0);
  });

  it('is the legacy block with http_exception_tagging=0', async () => {
    const res = await open(port, TOO_MANY, 'http_exception_tagging=0');
    expect(res.headers['x-clickhouse-exception-tag']).toBeUndefined();
    const { body, complete } = await drain(res);
    expect(complete).toBe(false);
    expect(body.subarray(-300).toString()).toMatch(/\r\n__exception__\r\nCode: 396\. DB::Exception: .*\(TOO_MANY_ROWS_OR_BYTES\) \(version [^)]+\)\n$/);
  });

  it('fails @clickhouse/client with the engine error', async () => {
    const client = createClient({ url: `http://127.0.0.1:${port}` });
    try {
      await expect((await client.query({ query: TOO_MANY, format: 'JSONEachRow' })).json()).rejects.toMatchObject({ code: '396', type: 'TOO_MANY_ROWS_OR_BYTES' });
      expect(await (await client.query({ query: 'SELECT 1 AS a', format: 'JSONEachRow' })).json()).toEqual([{ a: 1 }]);
    } finally {
      await client.close();
    }
  });

  it('before the headers (within the held first MiB) keeps its status', async () => {
    const res = await open(port, 'SELECT number FROM numbers(3000000)', 'max_result_rows=1000');
    expect(res.statusCode).toBe(500);
    expect(res.headers['x-clickhouse-exception-code']).toBe('396');
    expect((await drain(res)).body.toString()).toMatch(/^Code: 396\./);
  });
});

describe('start and stop, again and again', () => {
  it('closes while a result streams, and starts again on the same store', async () => {
    for (let round = 0; round < 3; round++) {
      const sql = buildSqlInterface({ store, port: 0, maxResultRows: 100_000_000, maxResultBytes: 4 * 1024 ** 3 });
      const { port } = await sql.listen();
      const res = await open(port, 'SELECT number FROM numbers(50000000)');
      res.pause();
      await waitFor(async () => (await running()) === 1, 5000);
      // close() waits for the running query; the client goes away so that it ends.
      const closed = sql.close();
      res.destroy();
      await closed;
      expect(await running()).toBe(0);
      const again = buildSqlInterface({ store, port: 0 });
      const at = await again.listen();
      expect(await (await fetch(at.url, { method: 'POST', body: 'SELECT 1' })).text()).toBe('1\n');
      await again.close();
    }
  }, 120_000);
});
