import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSqlInterface, readAnnouncement, type SqlInterface } from '../../sqlapi/index.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/** `tracegate sql` as a user meets it: errors once and without a stack, `| head`, a running stack found. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tracegate(args: string[], env: Record<string, string>, opts: { closeStdoutAfterFirstChunk?: boolean } = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['CLICKHOUSE_URL', 'TRACEGATE_SQL_URL', 'TRACEGATE_DATA', 'TRACEGATE_DATABASE', 'CLICKHOUSE_DATABASE']) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/tracegate.ts', ...args], { cwd: ROOT, env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      // What `head -1` does: read a little, then close the pipe.
      if (opts.closeStdoutAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let store: TempStore;
let dataDir: string;
let runtime: string;

beforeAll(async () => {
  store = await tempStore();
  await store.client.command({ query: 'CREATE TABLE tracegate.probe (id UInt32) ENGINE = MergeTree ORDER BY id' });
  await store.client.insert({ table: 'tracegate.probe', values: [{ id: 1 }, { id: 2 }], format: 'JSONEachRow' });
  dataDir = store.dataDir;
  await store.close();
  runtime = mkdtempSync(join(tmpdir(), 'tracegate-runtime-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

describe('tracegate sql on a store folder', () => {
  const env = () => ({ TRACEGATE_RUNTIME_DIR: runtime });

  it('reports a syntax error as a syntax error, once, without a stack', async () => {
    const run = await tracegate(['sql', 'SELEC 1', '--data', dataDir], env());
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tracegate: Code: 62 \(SYNTAX_ERROR\): Syntax error/);
  });

  it('ends quietly when the reader closes the pipe (| head)', async () => {
    const run = await tracegate(['sql', 'SELECT number FROM numbers(200000)', '--format', 'csv', '--data', dataDir], env(), { closeStdoutAfterFirstChunk: true });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('a running stack, announced', () => {
  let sql: SqlInterface;
  let holder: TempStore;

  beforeAll(async () => {
    process.env.TRACEGATE_RUNTIME_DIR = runtime;
    holder = await tempStore();
    await holder.client.command({ query: 'CREATE TABLE tracegate.announced (id UInt32) ENGINE = Memory' });
    await holder.client.insert({ table: 'tracegate.announced', values: [{ id: 7 }], format: 'JSONEachRow' });
    sql = buildSqlInterface({ store: holder, port: 0, password: 's3cret', announce: true });
    await sql.listen();
  });
  afterAll(async () => {
    await sql?.close();
    await holder?.destroy();
    delete process.env.TRACEGATE_RUNTIME_DIR;
  });

  it('is found by a read command given no folder, with the password from TRACEGATE_SQL_PASSWORD', async () => {
    const file = join(runtime, 'running.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const run = await tracegate(['sql', 'SELECT id FROM tracegate.announced', '--format', 'json'], { TRACEGATE_RUNTIME_DIR: runtime, TRACEGATE_SQL_PASSWORD: 's3cret' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('{"id":7}');
  });

  it('is ignored once its process is gone', () => {
    const stale = mkdtempSync(join(tmpdir(), 'tracegate-stale-'));
    try {
      writeFileSync(join(stale, 'running.json'), JSON.stringify({ pid: 2 ** 22 + 12345, url: 'http://127.0.0.1:1' }));
      expect(readAnnouncement({ TRACEGATE_RUNTIME_DIR: stale })).toBeUndefined();
      expect(readAnnouncement({ TRACEGATE_RUNTIME_DIR: runtime })).toMatchObject({ pid: process.pid });
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });
});

describe('tracegate start, stopped and started again', () => {
  /** `tracegate start` on `data` with free ports; resolves with its SQL URL once it announced itself. */
  function start(data: string, env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; sqlUrl: string; output: () => string }> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const k of ['CLICKHOUSE_URL', 'TRACEGATE_DATA', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY']) delete childEnv[k];
    const args = ['--import', 'tsx', 'cli/tracegate.ts', 'start', '--data', data, '--port', '0', '--grpc-port', '0', '--http-port', '0', '--sql-port', '0', '--sql-max-result-rows', '1000000'];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    return new Promise((resolve, reject) => {
      child.stdout.on('data', () => {
        const m = /ClickHouse HTTP \(read\)\s+(http:\/\/\S+)/.exec(out);
        if (m) resolve({ child, sqlUrl: m[1], output: () => out });
      });
      child.on('exit', () => reject(new Error(`tracegate start ended: ${out}`)));
    });
  }

  it('streams, reports a late error to tracegate sql, and exits 0 on SIGTERM, twice on one folder', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tracegate-start-'));
    const announced = mkdtempSync(join(tmpdir(), 'tracegate-runtime-'));
    const env = { TRACEGATE_RUNTIME_DIR: announced };
    let running: ChildProcessWithoutNullStreams | undefined;
    try {
      for (let round = 0; round < 2; round++) {
        const { child, sqlUrl, output } = await start(data, env);
        running = child;
        // A result of about 10 MB, streamed; then one that fails after its first MiB.
        const big = await fetch(sqlUrl, { method: 'POST', body: 'SELECT number FROM numbers(1000000)' });
        expect((await big.text()).length).toBeGreaterThan(6_000_000);
        const late = await tracegate(['sql', 'SELECT number FROM numbers(3000000)'], env);
        expect(late.code).toBe(1);
        expect(late.stderr.trim().split('\n')).toHaveLength(1);
        expect(late.stderr).toMatch(/^tracegate: Code: 396 \(TOO_MANY_ROWS_OR_BYTES\): /);
        const counted = await tracegate(['sql', 'SELECT count() AS n FROM numbers(10)', '--format', 'json'], env);
        expect(counted.stdout.trim()).toBe('{"n":10}');
        const code = await new Promise<number | null>((resolve) => {
          child.once('exit', (c) => resolve(c));
          child.kill('SIGTERM');
        });
        expect(output()).toContain('stopped cleanly');
        expect(code).toBe(0);
      }
    } finally {
      if (running && running.exitCode === null && running.signalCode === null) {
        running.kill('SIGKILL');
        await new Promise((r) => running!.once('exit', r));
      }
      rmSync(data, { recursive: true, force: true });
      rmSync(announced, { recursive: true, force: true });
    }
  }, 180_000);
});
