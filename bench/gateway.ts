/**
 * Gateway overhead, in one run (`npm run bench -- gateway`): autocannon on loopback against a
 * fast OpenAI-compatible upstream, reached
 *   direct     · straight to the upstream
 *   forwarder  · through ~30 lines of node:http with keep-alive (the ceiling for any Node hop)
 *   tracegate  · through `tracegate gateway` (compiled, as `npm start` runs it) with tracing on,
 *                exporting over OTLP gRPC to a running `tracegate collector` (embedded ClickHouse)
 *   portkey    · through Portkey's open-source gateway (custom host pointing at the upstream)
 * at 1, 16 and 64 connections, non-streaming and streaming, ~1 KB request bodies. The gateway under
 * test runs on CPU 0, the load generator, upstream and collector on CPU 1 (taskset), so runs compare.
 * Latency percentiles come from every response's own time (autocannon's histogram rounds to ms).
 * Each target is warmed up for --warmup S (5) at the highest connection count before each mode.
 * Options: --duration S (10), --warmup S (5), --connections 1,16,64, --targets direct,forwarder,tracegate,portkey,
 * --no-collector (tracegate exports to a minimal OTLP gRPC sink instead of a collector).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runForwarder, runSink, runUpstream, tracegateConfig } from './gateway/roles.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => AutocannonInstance;

interface AutocannonInstance extends PromiseLike<{ requests: { average: number }; non2xx: number; errors: number; timeouts: number }> {
  on(ev: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Target = 'direct' | 'forwarder' | 'tracegate' | 'portkey';

export interface Run {
  target: Target;
  connections: number;
  stream: boolean;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number | null;
  rss_peak_mb: number | null;
  added_p50_ms?: number;
  ttfb_p50_ms?: number;
  added_ttfb_p50_ms?: number;
  errors: number;
}

const BODY = (stream: boolean) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    max_tokens: 64,
    temperature: 0.2,
    messages: [
      { role: 'system', content: 'You are a concise assistant that answers questions about infrastructure.' },
      { role: 'user', content: `Explain what an AI gateway does for a platform team. ${'Consider routing, retries, fallbacks, observability and cost. '.repeat(13)}` },
    ],
  });

const canPin = () => spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Starts `bench/run.ts gateway --role …` (or any command) pinned to a CPU; resolves with its port. */
function start(cmd: string[], cpu: number | null, env: NodeJS.ProcessEnv = {}, readyPattern = /READY (\d+)/): Promise<{ child: ChildProcess; port: number }> {
  const argv = cpu === null ? cmd : ['taskset', '-c', String(cpu), ...cmd];
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const m = readyPattern.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited with ${code}: ${out.slice(-500)}`)));
  });
}

const root = join(here, '..');
let built = false;

/** `node dist/cli/tracegate.js` after a build (as `npm start` runs it), else the sources through tsx. */
function tracegateCli(): string[] {
  if (!built) {
    built = true;
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'ignore' });
    if (r.status !== 0) process.stderr.write('bench: the TypeScript build reported errors; using what it emitted\n');
  }
  const dist = join(root, 'dist', 'cli', 'tracegate.js');
  return existsSync(dist) ? [process.execPath, dist] : [process.execPath, '--import', 'tsx', join(root, 'cli', 'tracegate.ts')];
}

const roleCmd = (role: string, ...extra: string[]) => [process.execPath, '--import', 'tsx', join(here, 'run.ts'), 'gateway', '--role', role, ...extra];

function rss(pid: number | undefined): { now: number | null; peak: number | null } {
  if (!pid) return { now: null, peak: null };
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
    return { now: Math.round(kb('VmRSS') * 10) / 10, peak: Math.round(kb('VmHWM') * 10) / 10 };
  } catch {
    return { now: null, peak: null };
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function load(url: string, headers: Record<string, string>, connections: number, stream: boolean, seconds: number) {
  const times: number[] = [];
  const inst = autocannon({ url: `${url}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY(stream), connections, duration: seconds, pipelining: 1 });
  inst.on('response', (_c, status, _b, ms) => {
    if (status === 200) times.push(ms);
  });
  const r = await inst;
  const sorted = Float64Array.from(times).sort();
  return { rps: round(r.requests.average, 1), p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), errors: r.non2xx + r.errors + r.timeouts };
}

/** p50 time to the first body byte of a streamed answer, one request at a time. */
async function ttfb(url: string, headers: Record<string, string>, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = BODY(true);
  const target = new URL(`${url}/v1/chat/completions`);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let first = true;
        res.on('data', () => {
          if (first) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
          first = false;
        });
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  agent.destroy();
  return round(percentile(Float64Array.from(times).sort(), 50));
}

const portkeyHeaders = (upstream: string) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream}/v1`, authorization: 'Bearer sk-bench' });

async function startTarget(target: Target, upstream: string, otlp: string | null, cpu: number | null, dir: string): Promise<{ url: string; child?: ChildProcess; headers: Record<string, string> }> {
  switch (target) {
    case 'direct':
      return { url: upstream, headers: {} };
    case 'forwarder': {
      const { child, port } = await start(roleCmd('forwarder', '--upstream', upstream), cpu);
      return { url: `http://127.0.0.1:${port}`, child, headers: {} };
    }
    case 'tracegate': {
      // The real command, compiled as `npm start` runs it.
      const file = join(dir, 'gateway.yaml');
      writeFileSync(file, tracegateConfig(upstream, otlp));
      const cmd = [...tracegateCli(), 'gateway', '--config', file, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];
      const { child, port } = await start(cmd, cpu, {}, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      return { url: `http://127.0.0.1:${port}`, child, headers: { authorization: 'Bearer sk-bench' } };
    }
    case 'portkey': {
      const port = 18787 + Math.floor(Math.random() * 1000);
      const script = join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
      const { child } = await start([process.execPath, script, `--port=${port}`, '--headless'], cpu, { NODE_ENV: 'production' }, /(running at)/);
      return { url: `http://127.0.0.1:${port}`, child, headers: portkeyHeaders(upstream) };
    }
    default: {
      const never: never = target;
      throw new Error(`unknown target ${String(never)}`);
    }
  }
}

async function stop(child?: ChildProcess): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

const canIdle = () => spawnSync('chrt', ['-i', '0', 'true']).status === 0;

/**
 * A collector on CPU 1 with a temporary embedded store. It runs at SCHED_IDLE: it shares CPU 1
 * with the load generator and the upstream, and at full speed its ClickHouse inserts and merges
 * would slow those (measured: tracegate at one connection fell from ~0.4 ms to over 1 ms added),
 * so the run would measure the collector, not the gateway. At idle priority it takes what CPU 1
 * leaves; the gateway pays for encoding and sending every span either way.
 */
async function startCollector(dir: string, cpu: number | null): Promise<{ child: ChildProcess; url: string }> {
  const base = [...tracegateCli(), 'collector', '--grpc-port', '0', '--http-port', '0', '--data', join(dir, 'data'), '--spool', join(dir, 'spool')];
  const cmd = canIdle() ? ['chrt', '-i', '0', ...base] : base;
  const { child, port } = await start(cmd, cpu, { TRACEGATE_LOG_LEVEL: 'warn' }, /OTLP\/gRPC\s+[\d.]+:(\d+)/);
  return { child, url: `http://127.0.0.1:${port}` };
}

/** The collector when it starts, else a minimal OTLP sink (said so in the results). */
async function startSink(dir: string, cpu: number | null, collector: boolean): Promise<{ child: ChildProcess; url: string; what: string }> {
  if (collector) {
    try {
      const c = await startCollector(dir, cpu);
      return { ...c, what: `tracegate collector (OTLP gRPC, embedded ClickHouse${canIdle() ? ', SCHED_IDLE on the load CPU' : ''})` };
    } catch (err) {
      process.stderr.write(`bench: the collector did not start (${(err as Error).message.slice(0, 300)}); exporting to a minimal OTLP sink\n`);
    }
  }
  const { child, port } = await start(roleCmd('sink'), cpu);
  return { child, url: `http://127.0.0.1:${port}`, what: 'minimal OTLP gRPC sink' };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string' },
      upstream: { type: 'string' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '1,16,64' },
      targets: { type: 'string', default: 'direct,forwarder,tracegate,portkey' },
      'no-collector': { type: 'boolean' },
    },
  });
  if (values.role === 'upstream') return runUpstream();
  if (values.role === 'forwarder') return runForwarder(values.upstream as string);
  if (values.role === 'sink') return runSink();

  const seconds = Number(values.duration);
  const warmup = Number(values.warmup);
  const conns = values.connections.split(',').map(Number);
  const targets = values.targets.split(',') as Target[];
  const pin = canPin();
  if (pin) spawnSync('taskset', ['-p', '-c', '1', String(process.pid)]);
  const [gwCpu, loadCpu] = pin ? [0, 1] : [null, null];
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-gw-'));
  const children: ChildProcess[] = [];
  const runs: Run[] = [];
  try {
    const up = await start(roleCmd('upstream'), loadCpu);
    children.push(up.child);
    const upstream = `http://127.0.0.1:${up.port}`;
    let otlp: string | null = null;
    let exportTo = 'none';
    if (targets.includes('tracegate')) {
      const sink = await startSink(dir, loadCpu, !values['no-collector']);
      children.push(sink.child);
      otlp = sink.url;
      exportTo = sink.what;
    }
    for (const target of targets) {
      const t = await startTarget(target, upstream, otlp, gwCpu, dir);
      try {
        for (const stream of [false, true]) {
          // Warm-up before each mode: JIT tiers, pools, the export channel. A cold process runs
          // at a fraction of its speed for its first seconds (tracegate: ~600 rps in the first).
          await load(t.url, t.headers, Math.max(...conns), stream, warmup);
          for (const c of conns) {
            const r = await load(t.url, t.headers, c, stream, seconds);
            const mem = rss(t.child?.pid);
            runs.push({ target, connections: c, stream, rps: r.rps, p50_ms: r.p50, p99_ms: r.p99, rss_mb: mem.now, rss_peak_mb: mem.peak, errors: r.errors });
            process.stdout.write(`${target.padEnd(10)} c=${String(c).padEnd(3)} stream=${String(stream).padEnd(5)} ${String(r.rps).padStart(8)} rps  p50 ${r.p50} ms  p99 ${r.p99} ms  rss ${mem.now ?? '-'} MB${r.errors ? `  errors ${r.errors}` : ''}\n`);
          }
          if (stream) {
            const tt = await ttfb(t.url, t.headers, 300);
            for (const run of runs) if (run.target === target && run.stream) run.ttfb_p50_ms = tt;
          }
        }
      } finally {
        await stop(t.child);
      }
    }
    for (const r of runs) {
      const d = runs.find((x) => x.target === 'direct' && x.connections === r.connections && x.stream === r.stream);
      if (!d || r.target === 'direct') continue;
      r.added_p50_ms = round(r.p50_ms - d.p50_ms);
      if (r.ttfb_p50_ms !== undefined && d.ttfb_p50_ms !== undefined) r.added_ttfb_p50_ms = round(r.ttfb_p50_ms - d.ttfb_p50_ms);
    }
    const summary = verdicts(runs);
    const out = { date: new Date().toISOString(), duration_s: seconds, warmup_s: warmup, pinned: pin, tracing_export: exportTo, body_bytes: BODY(false).length, runs, summary };
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'gateway.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\nsaved bench/results/gateway.json\n`);
  } finally {
    for (const c of children.reverse()) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The issue's targets, checked on this run's figures (tracing on). */
function verdicts(runs: Run[]) {
  const get = (t: Target, c: number, s = false) => runs.find((r) => r.target === t && r.connections === c && r.stream === s);
  const tg16 = get('tracegate', 16);
  const pk16 = get('portkey', 16);
  const fw16 = get('forwarder', 16);
  const tg1 = get('tracegate', 1);
  return {
    tracegate_vs_portkey_rps_16: tg16 && pk16 ? round(tg16.rps / pk16.rps, 2) : null,
    tracegate_vs_forwarder_rps_16: tg16 && fw16 ? round(tg16.rps / fw16.rps, 2) : null,
    tracegate_added_p50_ms_1: tg1?.added_p50_ms ?? null,
    tracegate_added_ttfb_p50_ms_1: get('tracegate', 1, true)?.added_ttfb_p50_ms ?? null,
    targets: { vs_portkey: '>= 5', vs_forwarder: '>= 0.6', added_p50_ms: '<= 0.5' },
  };
}
