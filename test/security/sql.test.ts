/**
 * The read-only SQL interface as an attacker tries it: every table function, statement kind,
 * function and table outside the allowlists, however spelled and wherever placed, is refused
 * with ClickHouse's answer; no file is read (the canary's secret never appears), no connection
 * is made (the canary listener stays at 0), no row is written, and the next query is served.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSqlInterface, type SqlInterface } from '../../sqlapi/index.js';
import { embeddedEngine, type ReadSession } from '../../sqlapi/engine.js';
import { checkReadOnly } from '../../sqlapi/readonly.js';
import { isAllowedFunction, TABLE_FUNCTIONS } from '../../sqlapi/allowlist/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';
import { buildCollector } from '../../collector/collector.js';
import { parseCollectorConfig } from '../../collector/config.js';
import { canaryFile, canaryListener, type CanaryFile, type CanaryListener } from './canary.js';

interface Answer {
  status: number;
  code: string | undefined;
  body: string;
}

let store: TempStore;
let sql: SqlInterface;
let port: number;
// Made when the file is collected: test names and statements below use its path.
const canary: CanaryFile = canaryFile();
let listener: CanaryListener;
let session: ReadSession;

function post(query: string, opts: { search?: string; headers?: Record<string, string>; onSocket?: (destroy: () => void) => void } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/?${opts.search ?? ''}`, method: 'POST', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-clickhouse-exception-code'] as string | undefined, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    opts.onSocket?.(() => req.destroy());
    req.end(query);
  });
}

const probeRows = async () => Number((await store.rows<{ n: string }>('SELECT count() AS n FROM tracegate.probe'))[0].n);

/** The answer refuses, leaks nothing, reaches nobody, writes nothing, and the next query is served. */
async function expectRefused(answer: Answer, codes: number[]): Promise<void> {
  expect(codes).toContain(Number(answer.code));
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.body).toMatch(/^Code: \d+\. DB::Exception: .+\(version [\d.]+\)\n$/);
  expect(answer.body).not.toContain(canary.secret);
  expect(listener.connections).toBe(0);
  expect(await probeRows()).toBe(2);
  const next = await post('SELECT 1');
  expect(next).toMatchObject({ status: 200, body: '1\n' });
}

/** Every spelling the parser reads as the same name. */
const spellings = (name: string) => [name, `"${name}"`, `\`${name}\``, name.toUpperCase(), `${name}/* x */`, `/* x */ -- y\n\t${name}\n`];

/** Every place a table function can stand; `$` is the call. */
const PLACES = [
  'SELECT * FROM $',
  '/* a */SELECT/* b */*/* c */FROM/* d */$/* e */',
  'WITH x AS (SELECT * FROM $) SELECT * FROM x',
  'SELECT * FROM (SELECT * FROM $)',
  'SELECT * FROM tracegate.probe AS a JOIN $ AS b ON 1 = 1',
  'INSERT INTO FUNCTION $ SELECT 1',
  'CREATE TABLE tracegate.evil AS $',
  'CREATE VIEW tracegate.evil AS SELECT * FROM $',
  "CREATE DICTIONARY tracegate.evil (a String) PRIMARY KEY a SOURCE(CLICKHOUSE(QUERY 'SELECT * FROM $')) LAYOUT(FLAT()) LIFETIME(0)",
  'EXPLAIN SELECT * FROM $',
  'DESCRIBE TABLE $',
  'SELECT (SELECT count() FROM $)',
  'SELECT 1 WHERE 1 IN (SELECT 1 FROM $)',
  'SELECT 1 UNION ALL SELECT 1 FROM $',
];

beforeAll(async () => {
  listener = await canaryListener();
  store = await tempStore();
  await store.client.command({ query: 'CREATE TABLE tracegate.probe (id UInt32) ENGINE = MergeTree ORDER BY id' });
  await store.client.insert({ table: 'tracegate.probe', values: [{ id: 1 }, { id: 2 }], format: 'JSONEachRow' });
  // another database in the same engine, which no query may list or read
  await store.client.command({ query: 'CREATE DATABASE secretdb' });
  await store.client.command({ query: 'CREATE TABLE secretdb.secret (token String) ENGINE = MergeTree ORDER BY token' });
  sql = buildSqlInterface({ store, port: 0, maxExecutionTime: 5, maxResultRows: 1000 });
  ({ port } = await sql.listen());
  session = await embeddedEngine(store.dataDir).open([], 'tracegate');
});

afterAll(async () => {
  session?.close();
  await sql?.close();
  await listener?.close();
  await store?.destroy();
});

const refusedByCheck = async (text: string) => {
  const err = await checkReadOnly(session, text, { database: 'tracegate' }).then(
    () => undefined,
    (e: { code?: number }) => e,
  );
  return err?.code;
};

describe('table functions', () => {
  it('refuses every table function of the shipped engine not on the allowlist, in every spelling and place', async () => {
    const names = (await store.rows<{ name: string }>('SELECT name FROM system.table_functions ORDER BY name')).map((r) => r.name);
    expect(names.length).toBeGreaterThan(50);
    const passed: string[] = [];
    for (const name of names.filter((n) => !TABLE_FUNCTIONS.has(n))) {
      // every spelling in every place
      const texts = spellings(name).flatMap((s) => PLACES.map((p) => p.replace('$', `${s}('x')`)));
      for (const text of texts) {
        const code = await refusedByCheck(text);
        if (code === undefined) passed.push(text);
        else expect([62, 164, 497]).toContain(code);
      }
    }
    expect(passed).toEqual([]);
  }, 300_000);

  it.each(spellings('file'))('file() spelled %s reads nothing', async (spelling) => {
    await expectRefused(await post(`SELECT * FROM ${spelling}('${canary.path}', 'LineAsString')`), [497, 62]);
  });

  it.each([
    (u: string) => `SELECT * FROM url('${u}/x', 'LineAsString')`,
    (u: string) => `SELECT * FROM remote('${u.replace('http://', '')}', system.one)`,
    (u: string) => `SELECT * FROM s3('${u}/b/k', 'CSV')`,
    (u: string) => `SELECT * FROM mysql('${u.replace('http://', '')}', 'd', 't', 'u', 'p')`,
    (u: string) => `SELECT * FROM postgresql('${u.replace('http://', '')}', 'd', 't', 'u', 'p')`,
    (u: string) => `SELECT * FROM tracegate.probe WHERE id IN (SELECT 1 FROM urlCluster('c', '${u}/x', 'CSV'))`,
    (u: string) => `WITH (SELECT * FROM url('${u}/x', 'LineAsString')) AS a SELECT a`,
  ])('network table function %# connects to nobody', async (make) => {
    await expectRefused(await post(make(listener.url)), [497, 62]);
  });

  it('answers the allowed ones', async () => {
    expect((await post('SELECT count() FROM numbers(10)')).body).toBe('10\n');
    expect((await post('SELECT sum(generate_series) FROM generateSeries(1, 3)')).body).toBe('6\n');
  });
});

describe('statement kinds', () => {
  it.each([
    'INSERT INTO tracegate.probe VALUES (3)',
    'INSERT INTO tracegate.probe SELECT 3',
    '/* read */ INSERT INTO tracegate.probe VALUES (3)',
    '(INSERT INTO tracegate.probe VALUES (3))',
    'CREATE TABLE tracegate.x (a UInt8) ENGINE = Memory',
    'ALTER TABLE tracegate.probe DELETE WHERE 1',
    'ALTER TABLE tracegate.probe UPDATE id = 0 WHERE 1',
    'DELETE FROM tracegate.probe WHERE 1',
    'UPDATE tracegate.probe SET id = 0 WHERE 1',
    'DROP TABLE tracegate.probe',
    'TRUNCATE TABLE tracegate.probe',
    'RENAME TABLE tracegate.probe TO tracegate.gone',
    'EXCHANGE TABLES tracegate.probe AND tracegate.otel_traces',
    'OPTIMIZE TABLE tracegate.probe FINAL',
    'SYSTEM FLUSH LOGS',
    'SYSTEM SHUTDOWN',
    'KILL QUERY WHERE 1',
    'SET readonly = 0',
    'USE system',
    'GRANT ALL ON *.* TO default',
    "CREATE USER evil IDENTIFIED BY 'x'",
    "BACKUP TABLE tracegate.probe TO Disk('default', 'b.zip')",
    'ATTACH TABLE tracegate.probe',
    'DETACH TABLE tracegate.probe',
    'UNDROP TABLE tracegate.probe',
    `SELECT 1 INTO OUTFILE '${canary.dir}/out.txt'`,
    'SELECT 1 SETTINGS readonly = 0',
    'SELECT * FROM (SELECT 1 SETTINGS max_execution_time = 100000)',
    'EXPLAIN INSERT INTO tracegate.probe VALUES (3)',
    'WITH 1 AS a INSERT INTO tracegate.probe VALUES (3)',
    // The parser gives these the node of SHOW TABLES (ShowTables); only two SHOW forms are served.
    "SHOW SETTINGS LIKE 'max%'",
    'SHOW DICTIONARIES',
    'SHOW MERGES',
    'SHOW CLUSTERS',
    'SHOW CLUSTER default',
    'SHOW FILESYSTEM CACHES',
    'SHOW TEMPORARY TABLES',
    '/* x */ show  Settings',
    'EXPLAIN SHOW TABLES FROM secretdb',
    'SHOW PROCESSLIST',
    'SHOW GRANTS',
    'SHOW USERS',
    'SHOW CREATE TABLE secretdb.secret',
    'SHOW COLUMNS FROM secret FROM secretdb',
  ])('refuses %s', async (text) => {
    await expectRefused(await post(text), [164, 62, 497]);
  });

  it('refuses two statements as the engine does, with a syntax error', async () => {
    const answer = await post('SELECT 1; INSERT INTO tracegate.probe VALUES (3)');
    expect(answer.body).toContain('Multi-statements are not allowed');
    await expectRefused(answer, [62]);
  });

  it('reports a syntax error as one (code 62, 400), not as a refused write', async () => {
    const answer = await post('SELEC 1');
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Syntax error');
    await expectRefused(answer, [62]);
  });
});

describe('functions', () => {
  it('refuses every function of the shipped engine not on the allowlist', async () => {
    const names = (await store.rows<{ name: string }>('SELECT name FROM system.functions ORDER BY name')).map((r) => r.name);
    const refused = names.filter((n) => !isAllowedFunction(n) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
    expect(refused).toContain('file');
    expect(refused).toContain('dictGet');
    const passed: string[] = [];
    for (const name of refused) {
      for (const text of [`SELECT ${name}('x')`, `SELECT 1 FROM tracegate.probe WHERE ${name}('x') = 1`]) {
        if ((await refusedByCheck(text)) === undefined) passed.push(text);
      }
    }
    expect(passed).toEqual([]);
  }, 60_000);

  it.each(spellings('file'))('the scalar file() spelled %s reads nothing', async (spelling) => {
    await expectRefused(await post(`SELECT ${spelling}('${canary.path}')`), [164, 62]);
  });

  it.each(["SELECT dictGet('tracegate.d', 'a', 1)", "SELECT getSetting('max_memory_usage')", 'SELECT sleepEachRow(3) FROM numbers(10)', "SELECT joinGet('tracegate.probe', 'id', 1)"])(
    'refuses %s',
    async (text) => {
      await expectRefused(await post(text), [164, 62]);
    },
  );
});

describe('tables', () => {
  it.each([
    'SELECT * FROM system.users',
    'SELECT query FROM system.processes',
    'SELECT * FROM system.settings',
    'SELECT * FROM system.dictionaries',
    'SELECT * FROM information_schema.tables',
    'SELECT * FROM INFORMATION_SCHEMA.TABLES',
    'SELECT * FROM default.anything',
    'SELECT 1 WHERE 1 IN system.users',
    'DESCRIBE TABLE system.users',
    'EXISTS TABLE system.users',
    'SHOW TABLES FROM secretdb',
    'SHOW FULL TABLES IN `secretdb`',
    'SHOW TABLES FROM information_schema',
  ])('refuses %s with ACCESS_DENIED', async (text) => {
    await expectRefused(await post(text), [497]);
  });

  it('reads tracegate tables, qualified or not, and the system tables Grafana lists', async () => {
    expect((await post('SELECT count() FROM probe')).body).toBe('2\n');
    expect((await post('SELECT count() FROM tracegate.probe')).body).toBe('2\n');
    expect((await post("SELECT name FROM system.databases WHERE name = 'tracegate'")).body).toBe('tracegate\n');
    expect((await post("SELECT count() > 0 FROM system.columns WHERE database = 'tracegate' AND table = 'probe'")).body).toBe('1\n');
  });

  it('lists no other database of the engine, its tables or their definitions in the system tables it allows', async () => {
    expect(Number((await store.rows<{ n: string }>("SELECT count() AS n FROM system.tables WHERE database = 'secretdb'"))[0].n)).toBe(1);
    expect((await post("SELECT count() FROM system.tables WHERE database = 'secretdb'")).body).toBe('0\n');
    expect((await post("SELECT create_table_query FROM system.tables WHERE name = 'secret'")).body).toBe('');
    expect((await post("SELECT count() FROM system.columns WHERE table = 'secret' OR name = 'token'")).body).toBe('0\n');
    expect((await post("SELECT count() FROM system.databases WHERE name = 'secretdb'")).body).toBe('0\n');
    expect((await post("SELECT count() FROM (SELECT * FROM system.tables) AS t WHERE t.database NOT IN ('tracegate', 'system')")).body).toBe('0\n');
    expect((await post("SELECT count() > 0 FROM system.tables WHERE database = 'tracegate'")).body).toBe('1\n');
    // the filter is the interface's setting: a client can neither drop nor replace it
    await expectRefused(await post('SELECT count() FROM system.tables', { search: `additional_table_filters=${encodeURIComponent("{'system.tables':'1'}")}` }), [164]);
    await expectRefused(await post("SELECT count() FROM system.tables SETTINGS additional_table_filters = {'system.tables': '1'}"), [164]);
  });

  it("answers the SHOW statements Grafana's query builder sends: SHOW DATABASES, SHOW TABLES [FROM tracegate or system]", async () => {
    const tables = (await post('SHOW TABLES')).body.split('\n');
    expect(tables).toContain('probe');
    expect(tables).toContain('otel_traces');
    expect((await post('SHOW FULL TABLES IN "tracegate" FORMAT JSONEachRow')).body.split('\n')).toContain('{"name":"probe"}');
    expect((await post('show tables from system')).body.split('\n')).toContain('table_functions');
    expect((await post('SHOW DATABASES')).body.split('\n')).toContain('tracegate');
    // the rest of SHOW's forms are refused, with what is served named
    const like = await post("SHOW TABLES FROM tracegate LIKE 'pro%'");
    expect(like.body).toContain('SHOW DATABASES and SHOW TABLES [FROM tracegate] are');
    await expectRefused(like, [164]);
  });
});

describe('limits', () => {
  it('refuses raising a limit in the URL with READONLY; lowering is allowed', async () => {
    await expectRefused(await post('SELECT 1', { search: 'max_execution_time=100000' }), [164]);
    await expectRefused(await post('SELECT 1', { search: 'max_result_rows=0' }), [164]);
    expect((await post('SELECT count() FROM numbers(10)', { search: 'max_execution_time=2' })).body).toBe('10\n');
  });

  it('refuses path-like format settings in the URL', async () => {
    await expectRefused(await post('SELECT 1', { search: `format_template_resultset=${encodeURIComponent(canary.path)}` }), [164]);
    await expectRefused(await post('SELECT 1', { search: `output_format_schema=${encodeURIComponent(`${canary.dir}/s`)}` }), [164]);
  });

  it('stops a result past max_result_rows with the engine error', async () => {
    const answer = await post('SELECT number FROM numbers(100000)');
    expect(answer.code).toBe('396');
    await expectRefused(answer, [396]);
  });

  it('answers 202 TOO_MANY_SIMULTANEOUS_QUERIES past the concurrency limit, then frees the slot when a client goes away', async () => {
    const destroyers: Array<() => void> = [];
    const long = [0, 1].map(() => post('SELECT sum(number) FROM numbers(100000000000)', { onSocket: (d) => destroyers.push(d) }).catch(() => undefined));
    await waitFor(async () => (await running()) === 2, 3000);
    const third = await post('SELECT 1');
    expect(third.status).toBe(503);
    expect(third.code).toBe('202');
    expect(third.body).toContain('TOO_MANY_SIMULTANEOUS_QUERIES');
    for (const destroy of destroyers) destroy();
    // The issue's bound: the engine stops within a second of the client going away.
    await waitFor(async () => (await running()) === 0, 1000);
    await Promise.all(long);
    expect((await post('SELECT 1')).body).toBe('1\n');
  });
});

describe('ingest while the heaviest query runs', () => {
  it('a heavy scalar subquery (work done while the engine analyses) does not stall the process', async () => {
    let done = false;
    const heavy = post('SELECT (SELECT sum(number) FROM numbers(100000000000)) AS s', { search: 'max_execution_time=3' }).finally(() => {
      done = true;
    });
    await waitFor(async () => (await running()) === 1, 3000);
    expect((await post('SELECT 1')).body).toBe('1\n');
    expect(done).toBe(false);
    expect((await heavy).code).toBe('159');
  });

  it('spans sent over OTLP during a limit-length query are stored while it still runs', async () => {
    const collector = buildCollector(parseCollectorConfig({ grpc: { enabled: false }, http: { host: '127.0.0.1', port: 0 }, spool: { dir: `${canary.dir}/spool` } }), { store, logLevel: false });
    const { http } = await collector.start();
    try {
      let done = false;
      const heavy = post('SELECT sum(number) FROM numbers(100000000000)', { search: 'max_execution_time=5' }).finally(() => {
        done = true;
      });
      await waitFor(async () => (await running()) === 1, 3000);
      const traceId = 'ee'.repeat(16);
      const span = { traceId, spanId: 'ab'.repeat(8), name: 'during-query', startTimeUnixNano: String(Date.now() * 1e6), endTimeUnixNano: String(Date.now() * 1e6 + 1e6) };
      const res = await fetch(`http://${http!.host}:${http!.port}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
      });
      expect(res.status).toBe(200);
      const stored = async () => Number((await store.rows<{ n: string }>('SELECT count() AS n FROM tracegate.otel_traces WHERE TraceId = {t:String}', { t: traceId }))[0].n) === 1;
      await waitFor(stored, 10_000);
      expect(done).toBe(false);
      expect((await heavy).code).toBe('159');
    } finally {
      await collector.shutdown();
    }
  }, 20_000);
});

describe('authentication', () => {
  it("requires the password on every query route, by any of ClickHouse's three ways; health stays open", async () => {
    const guarded = buildSqlInterface({ store, port: 0, password: 's3cret' });
    const at = await guarded.listen();
    const saved = port;
    port = at.port;
    try {
      const refused = await post('SELECT 1');
      expect(refused.code).toBe('516');
      expect((await post('SELECT 1', { headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': 'nope' } })).code).toBe('516');
      expect((await post('SELECT 1', { headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': 's3cret' } })).body).toBe('1\n');
      expect((await post('SELECT 1', { headers: { authorization: `Basic ${Buffer.from('default:s3cret').toString('base64')}` } })).body).toBe('1\n');
      expect((await post('SELECT 1', { search: 'user=default&password=s3cret' })).body).toBe('1\n');
      const ping = await fetch(`${at.url}/ping`);
      expect(await ping.text()).toBe('Ok.\n');
    } finally {
      port = saved;
      await guarded.close();
    }
  });
});

/** Statements of this interface still running in the engine. */
async function running(): Promise<number> {
  const rows = await store.rows<{ n: string }>("SELECT count() AS n FROM system.processes WHERE query LIKE '%tracegate-sql %' AND query NOT LIKE '%system.processes%'");
  return Number(rows[0].n);
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
