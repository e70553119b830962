import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempStore } from '../helpers/store.js';
import { insertSpans, refreshViews, seedSpans, TRACE_ID } from './seed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `tracegate <args>` as a child process, with an environment that points nowhere by itself. */
function tracegate(args: string[]): Promise<Run> {
  const env = { ...process.env };
  for (const k of ['CLICKHOUSE_URL', 'TRACEGATE_SQL_URL', 'TRACEGATE_DATA', 'TRACEGATE_DATABASE', 'CLICKHOUSE_DATABASE']) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/tracegate.ts', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('tracegate usage, trace and sql as child processes', () => {
  let dataDir: string;

  beforeAll(async () => {
    const store = await tempStore();
    dataDir = store.dataDir;
    await insertSpans(store.client, store.database, seedSpans(Date.now()));
    await refreshViews(store.client, store.database);
    // Release the folder: the commands below open it in their own processes.
    await store.close();
  });
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('usage --format json reads the rollups from the folder', async () => {
    const run = await tracegate(['usage', '--data', dataDir, '--since', '1h', '--by', 'model', '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rows = jsonLines(run.stdout);
    expect(rows.map((r) => [r.model, r.calls])).toEqual([
      ['gpt-4o-mini', 2],
      ['tracegate-sim-1', 2],
    ]);
  });

  it('usage --format csv and table', async () => {
    const csv = await tracegate(['usage', '--data', dataDir, '--by', 'team,key', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('team,key,calls,errors,prompt_tokens,completion_tokens,cache_read_tokens,total_tokens,cost_usd,latency_p50_ms,latency_p95_ms');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['billing,k-billing,2', 'search,k-search,2']);
    const filtered = await tracegate(['usage', '--data', dataDir, '--by', 'team,key,model', '--team', 'search', '--key', 'k-search', '--format', 'json']);
    expect(filtered.code).toBe(0);
    expect(jsonLines(filtered.stdout).map((r) => [r.team, r.key, r.model, r.calls, r.prompt_tokens])).toEqual([['search', 'k-search', 'tracegate-sim-1', 2, 300]]);
    const table = await tracegate(['usage', '--data', dataDir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^usage .* by model \(embedded ClickHouse/);
    expect(table.stdout).toMatch(/model\s+calls\s+errors/);
  });

  it('usage refuses bad parameters with exit code 2 and every problem', async () => {
    const run = await tracegate(['usage', '--data', dataDir, '--since', 'yesterday', '--by', 'colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tracegate: --since: a window like 15m.*; --by\.0: must be among model/);
    expect(run.stdout).toBe('');
  });

  it('trace prints the tree', async () => {
    const run = await tracegate(['trace', TRACE_ID, '--data', dataDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^trace ${TRACE_ID} · 7 spans · 1\\.50 s · 370 tokens · \\$`));
    expect(run.stdout).toMatch(/research-agent\s+AGENT/);
    expect(run.stdout).toMatch(/├─ retrieve\s+RETRIEVER/);
    expect(run.stdout).toMatch(/│ {2}└─ chat tracegate-sim-1 \[gateway\]\s+LLM\s+tracegate-sim-1\s+100→20/);
    expect(run.stdout).toMatch(/ChatCompletion\s+LLM\s+tracegate-sim-1\s+\(100→20\)/);
    expect(run.stdout).toMatch(/get_weather\s+TOOL/);
  });

  it('trace --format json, an unknown trace and a bad id', async () => {
    const json = await tracegate(['trace', TRACE_ID, '--data', dataDir, '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ traceId: TRACE_ID, spanCount: 7, totalTokens: 370 });
    const missing = await tracegate(['trace', 'f'.repeat(32), '--data', dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no trace f{32} in the store/);
    const bad = await tracegate(['trace', 'nope', '--data', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a trace id/);
  });

  describe('while a running stack holds the folder', () => {
    let holder: ChildProcess;

    beforeAll(async () => {
      holder = spawn(process.execPath, ['--import', 'tsx', 'test/cli/fixtures/hold-store.ts', dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        let out = '';
        holder.stdout?.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('READY')) resolve();
        });
        holder.on('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
      });
    });
    afterAll(async () => {
      if (!holder || holder.exitCode !== null) return;
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGTERM');
      await exited;
    });

    it('usage, trace and sql read through the SQL interface it recorded', async () => {
      const usage = await tracegate(['usage', '--data', dataDir, '--format', 'json', '--by', '']);
      expect(usage.code).toBe(0);
      expect(jsonLines(usage.stdout)).toEqual([expect.objectContaining({ calls: 4, total_tokens: 1480 })]);
      const table = await tracegate(['usage', '--data', dataDir]);
      expect(table.stdout).toMatch(/\(the SQL interface at http:\/\/127\.0\.0\.1:\d+/);
      const trace = await tracegate(['trace', TRACE_ID, '--data', dataDir, '--format', 'json']);
      expect(JSON.parse(trace.stdout)).toMatchObject({ spanCount: 7 });
      const sql = await tracegate(['sql', 'SELECT count() AS n FROM tracegate.otel_traces', '--data', dataDir, '--format', 'json']);
      expect(sql.code).toBe(0);
      expect(jsonLines(sql.stdout).map((r) => Number(r.n))).toEqual([9]);
    });
  });
});
