/**
 * `tracegate start` as a deployment configures its SQL interface: limits set by the --sql-max-*
 * flags are the ones enforced (and an invalid one is refused before anything starts), the login
 * comes from --sql-user/--sql-password-file or TRACEGATE_SQL_USER/TRACEGATE_SQL_PASSWORD, and a
 * statement that names a file to write writes none, in the process's folder or anywhere else.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../cli/tracegate.ts', import.meta.url));
/** tsx by path: the process runs in a folder of its own, where `--import tsx` would not resolve. */
const TSX = createRequire(import.meta.url).resolve('tsx');
const PASSWORD = 'flag-s3cret-password';

interface Answer {
  status: number;
  code: string | null;
  body: string;
}

/** A folder per test file: the process's cwd, its store, its runtime folder. */
const root = mkdtempSync(join(tmpdir(), 'tracegate-sql-limits-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, TRACEGATE_RUNTIME_DIR: folder('runtime'), ...env };
  for (const k of ['CLICKHOUSE_URL', 'TRACEGATE_DATA', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'TRACEGATE_SQL_USER', 'TRACEGATE_SQL_PASSWORD']) if (!(k in env)) delete out[k];
  return out;
}

/** `tracegate start --data <data>` on free ports in `cwd`, with `flags`. */
function spawnStart(data: string, cwd: string, flags: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  const args = ['--import', TSX, CLI, 'start', '--data', data, '--port', '0', '--grpc-port', '0', '--http-port', '0', '--sql-port', '0', ...flags];
  return spawn(process.execPath, args, { cwd, env: childEnv(env) });
}

interface Running {
  sqlUrl: string;
  stop(): Promise<void>;
}

/** Resolves once the stack printed its SQL URL. */
function start(data: string, cwd: string, flags: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawnStart(data, cwd, flags, env);
  let out = '';
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const read = (d: Buffer) => {
      out += d;
      const m = /ClickHouse HTTP \(read\)\s+(http:\/\/\S+)/.exec(out);
      if (m) resolve({ sqlUrl: m[1], stop });
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', () => reject(new Error(`tracegate start ended: ${out}`)));
  });
}

/** Runs `tracegate start` expected to refuse its flags; its exit code and stderr. */
function refusedStart(data: string, flags: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawnStart(data, folder('cwd-refused'), flags, {});
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdout.resume();
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

async function ask(url: string, query: string, opts: { login?: [string, string]; search?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = opts.login ? { 'X-ClickHouse-User': opts.login[0], 'X-ClickHouse-Key': opts.login[1] } : {};
  const res = await fetch(`${url}/?${opts.search ?? ''}`, { method: 'POST', body: query, headers });
  return { status: res.status, code: res.headers.get('x-clickhouse-exception-code'), body: await res.text() };
}

/** Without a login, or with a wrong one, ClickHouse's 516; with `login`, the query is answered. */
async function expectLoginRequired(url: string, login: [string, string]): Promise<void> {
  for (const wrong of [undefined, [login[0], 'wrong-password'], ['default', login[1]]] as const) {
    const refused = await ask(url, 'SELECT 1', { login: wrong && [wrong[0], wrong[1]] });
    expect(refused).toMatchObject({ status: 403, code: '516' });
    expect(refused.body).toMatch(/^Code: 516\. DB::Exception: .*\(AUTHENTICATION_FAILED\)/);
  }
  expect(await ask(url, 'SELECT 1', { login })).toMatchObject({ status: 200, body: '1\n' });
}

describe('tracegate start refuses an invalid --sql-max-* value', () => {
  it.each([
    ['--sql-max-result-rows', 'abc', '--sql-max-result-rows must be a positive whole number, got "abc"'],
    ['--sql-max-execution-time', '0', '--sql-max-execution-time must be a positive whole number, got "0"'],
    ['--sql-max-memory-usage', '1000', '--sql-max-memory-usage is out of range (too small: expected number to be >=16777216), got "1000"'],
    ['--sql-max-concurrent-queries', '65', '--sql-max-concurrent-queries is out of range (too big: expected number to be <=64), got "65"'],
  ])('%s %s: exit code 2, one line naming the flag, no store made', async (flag, value, message) => {
    const data = join(root, `refused-${flag.slice(2)}`);
    const run = await refusedStart(data, [flag, value]);
    expect(run.stderr).toBe(`tracegate: ${message}\n`);
    expect(run.code).toBe(2);
    expect(existsSync(data)).toBe(false);
  });
});

describe('tracegate start --sql-max-result-rows 5 --sql-max-execution-time 2 --sql-max-concurrent-queries 1 --sql-user --sql-password-file', () => {
  const login: [string, string] = ['reader', PASSWORD];
  let stack: Running;

  beforeAll(async () => {
    const secrets = folder('secrets');
    writeFileSync(join(secrets, 'sql-password'), `${PASSWORD}\n`, { mode: 0o600 });
    const flags = ['--sql-max-result-rows', '5', '--sql-max-execution-time', '2', '--sql-max-concurrent-queries', '1', '--sql-user', 'reader', '--sql-password-file', join(secrets, 'sql-password')];
    stack = await start(folder('data-flags'), folder('cwd-flags'), flags);
  });
  afterAll(() => stack?.stop());

  it('answers 516 AUTHENTICATION_FAILED without the login the flags set, and the query with it', async () => {
    await expectLoginRequired(stack.sqlUrl, login);
  });

  it('fails a sixth row with TOO_MANY_ROWS_OR_BYTES (396) and refuses a client raising the limit', async () => {
    expect(await ask(stack.sqlUrl, 'SELECT number FROM numbers(5)', { login })).toMatchObject({ status: 200, body: '0\n1\n2\n3\n4\n' });
    const sixth = await ask(stack.sqlUrl, 'SELECT number FROM numbers(6)', { login });
    expect(sixth).toMatchObject({ status: 500, code: '396' });
    expect(sixth.body).toContain('(TOO_MANY_ROWS_OR_BYTES)');
    expect(await ask(stack.sqlUrl, 'SELECT 1', { login, search: 'max_result_rows=6' })).toMatchObject({ code: '164' });
  });

  it('refuses a second query at once with 202 TOO_MANY_SIMULTANEOUS_QUERIES, stops the first after 2 s with TIMEOUT_EXCEEDED (159), then serves', async () => {
    const started = Date.now();
    const long = ask(stack.sqlUrl, 'SELECT sum(number) FROM numbers(100000000000)', { login });
    let second: Answer | undefined;
    // The first holds the one slot from the moment its body is read until it fails.
    while (Date.now() - started < 10_000) {
      second = await ask(stack.sqlUrl, 'SELECT 1', { login });
      if (second.code === '202') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(second).toMatchObject({ status: 503, code: '202' });
    expect(second?.body).toContain('Maximum: 1');
    const first = await long;
    expect(first).toMatchObject({ status: 408, code: '159' });
    expect(first.body).toContain('(TIMEOUT_EXCEEDED)');
    // The default is 30 s: the query stopped at the flag's 2 s (plus a start on a shared box).
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await ask(stack.sqlUrl, 'SELECT 1', { login })).toMatchObject({ status: 200, body: '1\n' });
  });
});

describe('tracegate start --sql-max-memory-usage 16777216 --sql-max-result-bytes 4096, login from TRACEGATE_SQL_USER / TRACEGATE_SQL_PASSWORD', () => {
  const login: [string, string] = ['env-reader', PASSWORD];
  const token = `tgwritten${Date.now()}`;
  let stack: Running;
  let cwd: string;
  let data: string;
  let elsewhere: string;

  beforeAll(async () => {
    cwd = folder('cwd-env');
    data = folder('data-env');
    elsewhere = folder('elsewhere');
    const flags = ['--sql-max-memory-usage', String(16 * 1024 * 1024), '--sql-max-result-bytes', '4096'];
    stack = await start(data, cwd, flags, { TRACEGATE_SQL_USER: login[0], TRACEGATE_SQL_PASSWORD: login[1] });
  });
  afterAll(() => stack?.stop());

  it('answers 516 AUTHENTICATION_FAILED without the login the environment set, and the query with it', async () => {
    await expectLoginRequired(stack.sqlUrl, login);
  });

  it('fails a GROUP BY past 16 MiB with MEMORY_LIMIT_EXCEEDED (241) and a result past 4096 bytes with TOO_MANY_ROWS_OR_BYTES (396), then serves', async () => {
    const memory = await ask(stack.sqlUrl, 'SELECT count() FROM (SELECT number AS k FROM numbers(4000000) GROUP BY k)', { login });
    expect(memory).toMatchObject({ status: 500, code: '241' });
    expect(memory.body).toMatch(/maximum: 16\.00 MiB[\s\S]*\(MEMORY_LIMIT_EXCEEDED\)/);
    const bytes = await ask(stack.sqlUrl, 'SELECT number FROM numbers(10000)', { login });
    expect(bytes).toMatchObject({ status: 500, code: '396' });
    expect(bytes.body).toContain('(TOO_MANY_ROWS_OR_BYTES)');
    expect((await ask(stack.sqlUrl, 'SELECT number FROM numbers(100)', { login })).status).toBe(200);
  });

  it('writes no file for a statement that names one: not the path named, not in its folder, store or anywhere under them', async () => {
    const before = { cwd: readdirSync(cwd), elsewhere: readdirSync(elsewhere) };
    const statements = [
      `SELECT 1 INTO OUTFILE '${elsewhere}/${token}.txt'`,
      `SELECT 1 INTO OUTFILE '${token}.txt'`,
      `SELECT 1 INTO OUTFILE '${elsewhere}/${token}.tsv' TRUNCATE`,
      `SELECT 1 INTO OUTFILE '${elsewhere}/${token}.gz' COMPRESSION 'gzip'`,
      `SELECT 1 INTO OUTFILE '${elsewhere}/${token}.out' AND STDOUT`,
      `INSERT INTO FUNCTION file('${elsewhere}/${token}.csv', 'CSV') SELECT 1`,
      `INSERT INTO FUNCTION file('${token}.csv', 'CSV') SELECT 1`,
      `CREATE TABLE tracegate.${token} ENGINE = File(CSV) AS SELECT 1 AS a`,
      `CREATE TABLE tracegate.${token} AS file('${elsewhere}/${token}.csv', 'CSV', 'a UInt8')`,
      `BACKUP TABLE tracegate.otel_traces TO Disk('default', '${token}.zip')`,
      `BACKUP TABLE tracegate.otel_traces TO File('${elsewhere}/${token}.zip')`,
    ];
    for (const text of statements) {
      const answer = await ask(stack.sqlUrl, text, { login });
      expect(answer.status, text).toBeGreaterThanOrEqual(400);
      expect(answer.body, text).toMatch(/^Code: \d+\. DB::Exception: .+\(version [\d.]+\)\n$/);
    }
    expect(await ask(stack.sqlUrl, 'SELECT 1', { login })).toMatchObject({ status: 200, body: '1\n' });
    expect({ cwd: readdirSync(cwd), elsewhere: readdirSync(elsewhere) }).toEqual(before);
    for (const name of ['txt', 'tsv', 'gz', 'out', 'csv', 'zip']) {
      expect(existsSync(join(elsewhere, `${token}.${name}`))).toBe(false);
      expect(existsSync(join(cwd, `${token}.${name}`))).toBe(false);
    }
    expect(namesUnder(root).filter((n) => n.includes(token))).toEqual([]);
  });
});

/** Every file and folder path below `dir`. */
function namesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}
