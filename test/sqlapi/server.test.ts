import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { buildSqlInterface, type SqlInterface } from '../../sqlapi/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function raw(port: number, path: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('read-only ClickHouse HTTP interface', () => {
  let store: TempStore;
  let sqlInterface: SqlInterface;
  let port: number;
  let client: ClickHouseClient;
  const db = 'tracegate';

  beforeAll(async () => {
    store = await tempStore();
    await store.client.command({ query: `CREATE TABLE ${db}.probe (id UInt32, name String) ENGINE = MergeTree ORDER BY id` });
    await store.client.insert({
      table: `${db}.probe`,
      values: [
        { id: 1, name: 'one' },
        { id: 2, name: "it's two" },
      ],
      format: 'JSONEachRow',
    });
    sqlInterface = buildSqlInterface({ store, port: 0 });
    ({ port } = await sqlInterface.listen());
    client = createClient({ url: `http://127.0.0.1:${port}`, compression: { response: true, request: false } });
  });
  afterAll(async () => {
    await client?.close();
    await sqlInterface?.close();
    await store?.destroy();
  });

  describe('with @clickhouse/client over HTTP', () => {
    it('pings', async () => {
      expect((await client.ping()).success).toBe(true);
    });

    it('reads JSONEachRow', async () => {
      const rs = await client.query({ query: `SELECT id, name FROM ${db}.probe ORDER BY id`, format: 'JSONEachRow' });
      expect(await rs.json()).toEqual([
        { id: 1, name: 'one' },
        { id: 2, name: "it's two" },
      ]);
    });

    it('reads JSON with meta', async () => {
      const rs = await client.query({ query: `SELECT count() AS n FROM ${db}.probe`, format: 'JSON' });
      const json = await rs.json<{ n: string | number }>();
      expect(json.meta).toEqual([{ name: 'n', type: 'UInt64' }]);
      expect(json.data.map((r) => Number(r.n))).toEqual([2]);
    });

    it('reads TabSeparated and CSV text', async () => {
      const tsv = await client.query({ query: `SELECT id, name FROM ${db}.probe ORDER BY id`, format: 'TabSeparated' });
      expect(await tsv.text()).toBe("1\tone\n2\tit\\'s two\n");
      const csv = await client.query({ query: `SELECT id, name FROM ${db}.probe ORDER BY id`, format: 'CSVWithNames' });
      expect(await csv.text()).toBe('"id","name"\n1,"one"\n2,"it\'s two"\n');
    });

    it('binds query parameters', async () => {
      const rs = await client.query({
        query: `SELECT id FROM ${db}.probe WHERE name = {name:String} OR id IN {ids:Array(UInt32)} ORDER BY id`,
        query_params: { name: "it's two", ids: [1] },
        format: 'JSONEachRow',
      });
      expect(await rs.json()).toEqual([{ id: 1 }, { id: 2 }]);
    });

    it('returns Native bytes', async () => {
      const rs = await client.exec({ query: `SELECT id, name FROM ${db}.probe ORDER BY id FORMAT Native` });
      const chunks: Buffer[] = [];
      for await (const c of rs.stream) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      expect(bytes.length).toBeGreaterThan(10);
      expect(bytes.includes(Buffer.from('UInt32'))).toBe(true);
    });

    it.each([
      ['INSERT', () => client.insert({ table: `${db}.probe`, values: [{ id: 3, name: 'x' }], format: 'JSONEachRow' })],
      ['DROP', () => client.command({ query: `DROP TABLE ${db}.probe` })],
      ['ALTER', () => client.command({ query: `ALTER TABLE ${db}.probe DELETE WHERE 1` })],
      ['CREATE', () => client.command({ query: `CREATE TABLE ${db}.other (a UInt8) ENGINE = Memory` })],
      ['SET', () => client.command({ query: 'SET max_threads = 1' })],
      ['TRUNCATE', () => client.command({ query: `TRUNCATE TABLE ${db}.probe` })],
      ['a writing setting', () => client.query({ query: 'SELECT 1', clickhouse_settings: { insert_deduplication_token: 'x' } })],
      ['allow_ddl', () => client.query({ query: 'SELECT 1', clickhouse_settings: { allow_ddl: 1 } })],
    ])('refuses %s with a READONLY ClickHouseError', async (_what, run) => {
      await expect(run()).rejects.toMatchObject({ code: '164', type: 'READONLY' });
    });

    it('accepts readonly and harmless settings from the client', async () => {
      const rs = await client.query({
        query: 'SELECT toUInt64(7) AS n',
        format: 'JSONEachRow',
        clickhouse_settings: { readonly: '1', output_format_json_quote_64bit_integers: 1, max_result_rows: '100', wait_end_of_query: 1 },
      });
      expect(await rs.json()).toEqual([{ n: '7' }]);
    });

    it('reads gzip-compressed request bodies', async () => {
      const gz = createClient({ url: `http://127.0.0.1:${port}`, compression: { request: true, response: true } });
      try {
        const rs = await gz.query({ query: `SELECT count() AS n FROM ${db}.probe WHERE name != {s:String}`, query_params: { s: 'x'.repeat(2000) }, format: 'JSONEachRow' });
        expect((await rs.json<{ n: number }>()).map((r) => Number(r.n))).toEqual([2]);
      } finally {
        await gz.close();
      }
    });

    it('reports the engine errors with their own code', async () => {
      await expect(client.query({ query: `SELECT * FROM ${db}.nope`, format: 'JSONEachRow' })).rejects.toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
    });

    it('leaves the store writable after serving queries', async () => {
      await store.client.insert({ table: `${db}.probe`, values: [{ id: 9, name: 'after' }], format: 'JSONEachRow' });
      const rows = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${db}.probe WHERE id = 9`);
      expect(Number(rows[0].n)).toBe(1);
      const settings = await store.rows(`SELECT name FROM system.settings WHERE changed AND name IN ('readonly', 'max_result_rows', 'output_format_json_quote_64bit_integers')`);
      expect(settings).toEqual([]);
      const rs = await client.query({ query: `SELECT name FROM ${db}.probe WHERE id = 9`, format: 'JSONEachRow' });
      expect(await rs.json()).toEqual([{ name: 'after' }]);
    });
  });

  describe('raw HTTP, as curl sends it', () => {
    it.each(['/', '/ping', '/replicas_status'])('GET %s answers Ok.', async (path) => {
      const res = await raw(port, path);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('Ok.\n');
    });

    it('runs the query in the URL with TabSeparated by default and the ClickHouse headers', async () => {
      const res = await raw(port, `/?query=${encodeURIComponent(`SELECT id FROM ${db}.probe WHERE id < 3 ORDER BY id`)}&query_id=q-1`);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('1\n2\n');
      expect(res.headers['x-clickhouse-format']).toBe('TabSeparated');
      expect(res.headers['content-type']).toBe('text/tab-separated-values; charset=UTF-8');
      expect(res.headers['x-clickhouse-query-id']).toBe('q-1');
      expect(res.headers['x-clickhouse-timezone']).toBe('UTC');
      expect(res.headers['x-clickhouse-server-display-name']).toBe('tracegate');
      // Real values only: the result's rows and bytes, nothing written; chDB's stream reports no rows read.
      const summary = JSON.parse(String(res.headers['x-clickhouse-summary'])) as Record<string, string>;
      expect(summary).toMatchObject({ written_rows: '0', written_bytes: '0', result_rows: '2', result_bytes: '4' });
      expect(Number(summary.elapsed_ns)).toBeGreaterThan(0);
      expect(summary).not.toHaveProperty('read_rows');
    });

    it('runs the body with default_format and param_ values', async () => {
      const res = await raw(port, '/?default_format=JSONCompact&param_id=2', { method: 'POST', body: `SELECT name FROM ${db}.probe WHERE id = {id:UInt32}` });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString()).data).toEqual([["it's two"]]);
    });

    it('answers default_format=Native and RowBinaryWithNamesAndTypes as clickhouse-go asks', async () => {
      const native = await raw(port, '/?default_format=Native&database=default', { method: 'POST', body: 'SELECT timeZone()' });
      expect(native.status).toBe(200);
      expect(native.headers['content-type']).toBe('application/octet-stream');
      expect(native.body.includes(Buffer.from('String'))).toBe(true);
      const rb = await raw(port, '/', { method: 'POST', body: 'SELECT toUInt8(7) AS x FORMAT RowBinaryWithNamesAndTypes' });
      expect([...rb.body]).toEqual([1, 1, 0x78, 5, ...Buffer.from('UInt8'), 7]);
    });

    it('takes the output format from the X-ClickHouse-Format header', async () => {
      const res = await raw(port, '/', { method: 'POST', body: 'SELECT 1 AS a', headers: { 'X-ClickHouse-Format': 'JSONEachRow' } });
      expect(res.body.toString()).toBe('{"a":1}\n');
    });

    it('takes the URL query as a prefix of the body', async () => {
      const res = await raw(port, `/?query=${encodeURIComponent('SELECT 1 AS a,')}`, { method: 'POST', body: '2 AS b FORMAT JSONEachRow' });
      expect(res.body.toString()).toBe('{"a":1,"b":2}\n');
    });

    it('compresses when asked with enable_http_compression=1', async () => {
      const res = await raw(port, '/?enable_http_compression=1', { method: 'POST', body: 'SELECT number FROM numbers(100) FORMAT CSV', headers: { 'Accept-Encoding': 'gzip' } });
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(res.body).toString().split('\n')).toHaveLength(101);
    });

    it('answers a write with code 164, the exception header and a 500', async () => {
      const res = await raw(port, '/', { method: 'POST', body: `INSERT INTO ${db}.probe VALUES (5, 'x')` });
      expect(res.status).toBe(500);
      expect(res.headers['x-clickhouse-exception-code']).toBe('164');
      expect(res.body.toString()).toMatch(/^Code: 164\. DB::Exception: .*\(READONLY\) \(version [\d.]+\)\n$/);
    });

    it('answers a syntax error with 400 and code 62', async () => {
      const res = await raw(port, '/', { method: 'POST', body: 'SELECT FROM WHERE' });
      expect(res.status).toBe(400);
      expect(res.headers['x-clickhouse-exception-code']).toBe('62');
    });

    it('answers an unknown path with 404 and an unknown method with an error', async () => {
      expect((await raw(port, '/nope')).status).toBe(404);
      const del = await raw(port, '/', { method: 'DELETE' });
      expect(del.status).toBe(500);
      expect(del.body.toString()).toContain('not supported');
    });
  });

  it('checks a configured password', async () => {
    const guarded = buildSqlInterface({ store, port: 0, password: 's3cret' });
    const { url } = await guarded.listen();
    try {
      const wrong = createClient({ url, password: 'nope' });
      await expect(wrong.query({ query: 'SELECT 1', format: 'JSONEachRow' })).rejects.toMatchObject({ type: 'AUTHENTICATION_FAILED' });
      await wrong.close();
      const right = createClient({ url, password: 's3cret' });
      expect(await (await right.query({ query: 'SELECT 1 AS a', format: 'JSONEachRow' })).json()).toEqual([{ a: 1 }]);
      await right.close();
    } finally {
      await guarded.close();
    }
  });

  it('says so in one line when the port is taken', async () => {
    const second = buildSqlInterface({ store, port });
    await expect(second.listen()).rejects.toThrow(/port is in use/);
  });
});
