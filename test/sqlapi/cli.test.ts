import { spawn } from 'node:child_process';
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
