/**
 * One run of the collector benchmark, in this process with its own embedded store: warm-up,
 * end to end, the engine's own rate, the naive client path, and (optionally) sustained overload.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildCollector, type Collector } from '../../collector/collector.js';
import { parseCollectorConfig, type CollectorConfigInput } from '../../collector/config.js';
import { openStore, type Store } from '../../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../../schemas/migrate.js';
import type { LoadCommand, LoadReport } from './loadgen.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface RunOptions {
  spans: number;
  concurrency: number;
  batch: number;
  schema: 'core' | 'all';
  workers?: number;
  /** The collector's batch.sendBatchSize and batch.timeoutMs (its defaults when unset). */
  sendBatchSize?: number;
  batchTimeoutMs?: number;
  overloadSeconds: number;
  overloadRate: number;
  overloadSpoolMb: number;
}

export interface OverloadResult {
  seconds: number;
  store_rows_per_s: number;
  spool_limit_mb: number;
  spool_peak_mb: number;
  rss_mb_before: number;
  rss_mb_peak: number;
  rss_mb_last_quarter_peak: number;
  accepted_spans: number;
  refusals: number;
  drained_exactly: boolean;
  samples: Array<{ t: number; rss_mb: number; spool_mb: number }>;
}

export interface RunResult {
  end_to_end_spans_per_s: number;
  engine_rows_per_s: number;
  naive_rows_per_s: number;
  rss_mb: number;
  ratio_to_engine: number;
  schema: 'core' | 'all';
  views: boolean;
  spans: number;
  warmup_spans: number;
  span_attribute_bytes: number;
  request_bytes: number;
  seconds: number;
  /** CPU time in the end-to-end phase: the collector's process (its threads and the engine's) and the load generator. */
  cpu_seconds: { collector_process: number; load_generator: number };
  /** The collector process's CPU time by thread name (Linux). */
  cpu_seconds_by_thread: Record<string, number>;
  /** INSERT statements the exporter ran in the end-to-end phase (spans / inserts = mean batch). */
  inserts: number;
  concurrency: number;
  spans_per_request: number;
  workers: number;
  send_batch_size: number;
  batch_timeout_ms: number;
  overload?: OverloadResult;
}

const MiB = 2 ** 20;
const mb = (n: number) => Math.round(n / MiB);

/** The store's client with INSERTs slowed to `rate` rows/s while `rate` > 0 (a ClickHouse that is behind). */
function throttled(store: Store): Store & { rate: number } {
  const out = Object.create(store) as Store & { rate: number };
  out.rate = 0;
  const client = new Proxy(store.client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== 'command') return v;
      return async (params: Parameters<ClickHouseClient['command']>[0]) => {
        const rows = /\.(\d+)\.rb'/.exec(params.query);
        if (out.rate > 0 && rows) await new Promise((r) => setTimeout(r, (Number(rows[1]) / out.rate) * 1000));
        return (v as ClickHouseClient['command']).call(target, params);
      };
    },
  });
  Object.defineProperty(out, 'client', { value: client });
  return out;
}

class LoadGenerator {
  private constructor(
    private readonly proc: ChildProcess,
    readonly info: { attrBytes: number; requestBytes: number },
  ) {}

  static async start(port: number, batch: number, concurrency: number): Promise<LoadGenerator> {
    const proc = fork(join(here, 'loadgen.ts'), [`127.0.0.1:${port}`, String(batch), String(concurrency)], { execArgv: ['--import', 'tsx'] });
    const ready = await next(proc);
    if (!('ready' in ready)) throw new Error('load generator did not start');
    return new LoadGenerator(proc, ready);
  }

  async run(cmd: LoadCommand): Promise<{ sent: number; refusals: number; cpuSeconds: number }> {
    const done = next(this.proc);
    this.proc.send(cmd);
    const r = await done;
    if (!('done' in r)) throw new Error('unexpected load generator report');
    return r;
  }

  stop(): void {
    this.proc.send({ cmd: 'exit' } satisfies LoadCommand);
  }
}

function next(proc: ChildProcess): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
    proc.once('exit', onExit);
    proc.once('message', (m) => {
      proc.off('exit', onExit);
      resolve(m as LoadReport);
    });
  });
}

/**
 * CPU seconds per thread name of this process (Linux /proc; empty elsewhere): shows where the
 * time goes, the Node main thread, the ingest worker, the engine's query and merge threads.
 */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  const tick = 100; // USER_HZ on Linux
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const secs = (Number(fields[11]) + Number(fields[12])) / tick;
      const group = tid === String(process.pid) ? 'node main' : name.replace(/[\d/:]+$/, '');
      out.set(group, (out.get(group) ?? 0) + secs);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

function cpuDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const rows = [...after].map(([k, v]) => [k, Number((v - (before.get(k) ?? 0)).toFixed(2))] as const).filter(([, v]) => v >= 0.05);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]));
}

async function count(store: Store): Promise<number> {
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${store.database}.otel_traces`, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0].n);
}

function collectorConfig(spool: string, opts: RunOptions, extra: CollectorConfigInput = {}) {
  return parseCollectorConfig({
    grpc: { port: 0 },
    http: { port: 0 },
    spool: { dir: spool, maxBytes: 8 * 1024 * MiB },
    stats: { intervalMs: 0 },
    ...(opts.workers === undefined ? {} : { pipeline: { workers: opts.workers } }),
    ...extra,
    batch: {
      ...(opts.sendBatchSize === undefined ? {} : { sendBatchSize: opts.sendBatchSize }),
      ...(opts.batchTimeoutMs === undefined ? {} : { timeoutMs: opts.batchTimeoutMs }),
      ...extra.batch,
    },
  });
}

export async function runOne(opts: RunOptions): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-'));
  const store = throttled(await openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' }));
  try {
    const migrations = loadMigrations().filter((m) => opts.schema === 'all' || m.version === 1);
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: 'tracegate' }, migrations);
    const config = collectorConfig(join(dir, 'spool'), opts);
    const e2e = await endToEnd(store, config, opts);
    // Before the engine and naive phases, whose memory (20,000 rows as JS objects) would show in its RSS.
    const overload = opts.overloadSeconds > 0 ? await overloadPhase(store, join(dir, 'spool-overload'), opts) : undefined;
    await mergesDone(store);
    const engine = await engineRate(store, e2e.spans);
    const naive = await naiveRate(store, Math.min(20_000, e2e.spans));
    return {
      end_to_end_spans_per_s: Math.round(e2e.spansPerS),
      engine_rows_per_s: Math.round(engine),
      naive_rows_per_s: Math.round(naive),
      rss_mb: mb(e2e.rss),
      ratio_to_engine: Number((e2e.spansPerS / engine).toFixed(3)),
      schema: opts.schema,
      views: opts.schema === 'all',
      spans: e2e.spans,
      warmup_spans: e2e.warmup,
      span_attribute_bytes: e2e.attrBytes,
      request_bytes: e2e.requestBytes,
      seconds: Number(e2e.seconds.toFixed(2)),
      cpu_seconds: { collector_process: Number(e2e.cpuSeconds.collector_process.toFixed(2)), load_generator: Number(e2e.cpuSeconds.load_generator.toFixed(2)) },
      cpu_seconds_by_thread: e2e.byThread,
      inserts: e2e.inserts,
      concurrency: opts.concurrency,
      spans_per_request: opts.batch,
      workers: config.pipeline.workers,
      send_batch_size: config.batch.sendBatchSize,
      batch_timeout_ms: config.batch.timeoutMs,
      overload,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function endToEnd(store: Store, config: ReturnType<typeof collectorConfig>, opts: RunOptions) {
  const collector = buildCollector(config, { store, logLevel: 'warn' });
  const at = await collector.start();
  const load = await LoadGenerator.start(at.grpc!.port, opts.batch, opts.concurrency);
  try {
    // Warm-up: the JIT, the worker, the engine's first parts; then the measured phase.
    const warm = await load.run({ cmd: 'send', spans: Math.max(opts.batch * opts.concurrency * 2, Math.round(opts.spans / 20)) });
    await drain(collector);
    const before = await count(store);
    let rss = process.memoryUsage().rss;
    const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 100);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpu();
    const inserts0 = collector.metrics.exportLatency.count;
    const { sent, cpuSeconds: loadCpu } = await load.run({ cmd: 'send', spans: opts.spans });
    await drain(collector);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const byThread = cpuDelta(threads0, threadCpu());
    const inserts = collector.metrics.exportLatency.count - inserts0;
    clearInterval(sampler);
    const stored = (await count(store)) - before;
    if (stored !== sent) throw new Error(`sent ${sent} spans but the table gained ${stored}`);
    const cpuSeconds = { collector_process: (cpu.user + cpu.system) / 1e6, load_generator: loadCpu };
    return { spans: sent, warmup: warm.sent, spansPerS: sent / seconds, rss, seconds, cpuSeconds, byThread, inserts, ...load.info };
  } finally {
    load.stop();
    await collector.shutdown();
  }
}

async function drain(collector: Collector): Promise<void> {
  if (!(await collector.idle(600_000))) throw new Error('the collector did not drain in 10 minutes');
}

/** Waits (up to a minute) for background merges of earlier phases, so they do not slow the next one. */
async function mergesDone(store: Store): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const rs = await store.client.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' });
    if (Number((await rs.json<{ n: string }>())[0].n) === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** INSERT … SELECT from a copy inside the engine: the store's own ceiling for these rows. */
async function engineRate(store: Store, rows: number): Promise<number> {
  const c = store.client;
  await c.command({ query: 'CREATE TABLE tracegate.bench_copy AS tracegate.otel_traces ENGINE = MergeTree PRIMARY KEY tuple() ORDER BY tuple()' });
  await c.command({ query: `INSERT INTO tracegate.bench_copy SELECT * FROM tracegate.otel_traces LIMIT ${rows}` });
  const t0 = performance.now();
  await c.command({ query: 'INSERT INTO tracegate.otel_traces SELECT * FROM tracegate.bench_copy' });
  return rows / ((performance.now() - t0) / 1000);
}

/** The naive path: rows as objects through client.insert JSONEachRow. */
async function naiveRate(store: Store, rows: number): Promise<number> {
  const rs = await store.client.query({ query: `SELECT * FROM tracegate.bench_copy LIMIT ${rows}`, format: 'JSONEachRow' });
  const values = await rs.json<Record<string, unknown>>();
  const t0 = performance.now();
  await store.client.insert({ table: 'tracegate.otel_traces', values, format: 'JSONEachRow' });
  return values.length / ((performance.now() - t0) / 1000);
}

/**
 * Sustained overload: the store takes `overloadRate` rows/s while the load generator sends as
 * fast as it is answered, for `overloadSeconds`. The spool grows to its limit, then the
 * collector refuses (the generator retries, as SDKs do); memory must stay flat meanwhile. Then
 * the store is fast again and every accepted span must land exactly once.
 */
async function overloadPhase(store: Store & { rate: number }, spool: string, opts: RunOptions): Promise<OverloadResult> {
  const config = collectorConfig(spool, opts, {
    spool: { dir: spool, maxBytes: opts.overloadSpoolMb * MiB },
    batch: { maxBatchBytes: Math.min(64, opts.overloadSpoolMb / 4) * MiB },
    retryAfterSeconds: 1,
  });
  const collector = buildCollector(config, { store, logLevel: 'warn' });
  const at = await collector.start();
  const load = await LoadGenerator.start(at.grpc!.port, opts.batch, opts.concurrency * 2);
  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${at.http!.port}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  try {
    const before = await count(store);
    const rssBefore = process.memoryUsage().rss;
    const samples: OverloadResult['samples'] = [];
    const t0 = performance.now();
    const sampler = setInterval(() => {
      void metric('tracegate_collector_spool_bytes').then((spoolBytes) => {
        samples.push({ t: Number(((performance.now() - t0) / 1000).toFixed(2)), rss_mb: mb(process.memoryUsage().rss), spool_mb: mb(spoolBytes) });
      });
    }, 250);
    store.rate = opts.overloadRate;
    const running = load.run({ cmd: 'run', seconds: opts.overloadSeconds });
    await new Promise((r) => setTimeout(r, opts.overloadSeconds * 1000));
    clearInterval(sampler);
    store.rate = 0;
    const { sent, refusals } = await running;
    await drain(collector);
    const stored = (await count(store)) - before;
    const lastQuarter = samples.filter((s) => s.t >= opts.overloadSeconds * 0.75);
    return {
      seconds: opts.overloadSeconds,
      store_rows_per_s: opts.overloadRate,
      spool_limit_mb: opts.overloadSpoolMb,
      spool_peak_mb: Math.max(0, ...samples.map((s) => s.spool_mb)),
      rss_mb_before: mb(rssBefore),
      rss_mb_peak: Math.max(mb(rssBefore), ...samples.map((s) => s.rss_mb)),
      rss_mb_last_quarter_peak: Math.max(0, ...lastQuarter.map((s) => s.rss_mb)),
      accepted_spans: sent,
      refusals,
      drained_exactly: stored === sent,
      samples: samples.filter((_, i) => i % 4 === 0),
    };
  } finally {
    store.rate = 0;
    load.stop();
    await collector.shutdown();
  }
}
