/**
 * The processes of the gateway benchmark: each target (the upstream itself, the bare forwarder,
 * `tracegate gateway` as `npm start` runs it, Portkey's gateway) and the collector tracegate
 * exports to, each pinned to its CPU (`taskset`), started once for the whole run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../../test/helpers/redis.js';
import { KEY, PEPPER, withPolicy } from './policy.js';
import { tracegateConfig } from './roles.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);

export type Target = 'direct' | 'forwarder' | 'tracegate' | 'tracegate-policy' | 'tracegate-redis' | 'tracegate-attempts' | 'portkey';

export interface Running {
  target: Target;
  url: string;
  child?: ChildProcess;
  headers: Record<string, string>;
  /** Stopped after the target (the policy case's redis-server). */
  beside?: { stop(): Promise<void>; readonly pid?: number };
}

export const canPin = () => spawnSync('taskset', ['-c', '0', 'true']).status === 0;
let idleOk: boolean | undefined;
/** Whether `chrt -i 0` works here (asked once). */
export const canIdle = () => (idleOk ??= spawnSync('chrt', ['-i', '0', 'true']).status === 0);
/** `cmd` at SCHED_IDLE when that is possible. */
const atIdle = (cmd: string[]) => (canIdle() ? ['chrt', '-i', '0', ...cmd] : cmd);

/** Starts a command pinned to a CPU; resolves with its port once its output matches `readyPattern`. */
export function start(cmd: string[], cpu: number | null, env: NodeJS.ProcessEnv = {}, readyPattern = /READY (\d+)/): Promise<{ child: ChildProcess; port: number; match: RegExpExecArray }> {
  const argv = cpu === null ? cmd : ['taskset', '-c', String(cpu), ...cmd];
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      if (out.length < 65536) out += String(d);
      const m = readyPattern.exec(out);
      if (m) resolve({ child, port: Number(m[1]), match: m });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${cmd.join(' ')} exited with ${code}: ${out.slice(-500)}`)));
  });
}

let built = false;

/** `node dist/cli/tracegate.js` after a build (as `npm start` runs it), else the sources through tsx. */
function tracegateCli(): string[] {
  if (!built) {
    built = true;
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'ignore' });
    if (r.status !== 0) process.stderr.write('bench: the TypeScript build reported errors; using what it emitted\n');
  }
  const dist = join(root, 'dist', 'cli', 'tracegate.js');
  // BENCH_PROF=<dir>: tracegate's processes write V8 CPU profiles there (--cpu-prof), to see where a target's time goes
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  return existsSync(dist) ? [process.execPath, ...prof, dist] : [process.execPath, '--import', 'tsx', join(root, 'cli', 'tracegate.ts')];
}

export const roleCmd = (role: string, ...extra: string[]) => [process.execPath, '--import', 'tsx', join(root, 'bench', 'run.ts'), 'gateway', '--role', role, ...extra];

export function rss(pid: number | undefined): { now: number | null; peak: number | null } {
  if (!pid) return { now: null, peak: null };
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
    return { now: Math.round(kb('VmRSS') * 10) / 10, peak: Math.round(kb('VmHWM') * 10) / 10 };
  } catch {
    return { now: null, peak: null };
  }
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/**
 * Waits (at most `maxMs`) until tracegate has no spans waiting to be sent and the collector has
 * written every span it received; returns the milliseconds waited. After a tracegate slice the
 * collector is still taking its spans in, and would otherwise do so in the next target's slice.
 * (Its refreshable views keep it busy in the background anyway, at idle priority.)
 */
export async function caughtUp(gateway: Running, sink: Sink, maxMs = 30_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const gw = await (await fetch(`${gateway.url}/metrics`)).text();
    let done = metric(gw, 'tracegate_gateway_span_queue_bytes') === 0;
    if (done && sink.metrics) {
      const c = await (await fetch(sink.metrics)).text();
      done =
        metric(c, 'tracegate_collector_queue_spans') === 0 &&
        metric(c, 'tracegate_collector_exported_spans_total') + metric(c, 'tracegate_collector_spooled_spans_total') >= metric(c, 'tracegate_collector_accepted_spans_total');
    }
    if (done || Date.now() - t0 > maxMs) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const portkeyHeaders = (upstream: string) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream}/v1`, authorization: 'Bearer sk-bench' });

export async function startTarget(target: Target, upstream: string, otlp: string | null, cpu: number | null, dir: string): Promise<Running> {
  switch (target) {
    case 'direct':
      return { target, url: upstream, headers: {} };
    case 'forwarder': {
      const { child, port } = await start(roleCmd('forwarder', '--upstream', upstream), cpu);
      return { target, url: `http://127.0.0.1:${port}`, child, headers: {} };
    }
    case 'tracegate':
    case 'tracegate-attempts': {
      // The real command, compiled as `npm start` runs it (tracegate-attempts: a span per upstream attempt of every call as well).
      const file = join(dir, `${target}.yaml`);
      writeFileSync(file, tracegateConfig(upstream, otlp, target === 'tracegate-attempts' ? 'always' : undefined));
      const cmd = [...tracegateCli(), 'gateway', '--config', file, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];
      const { child, port } = await start(cmd, cpu, {}, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      return { target, url: `http://127.0.0.1:${port}`, child, headers: { authorization: 'Bearer sk-bench' } };
    }
    case 'tracegate-policy':
    case 'tracegate-redis': {
      // The same command with authentication and every limit on (bench/gateway/policy.ts).
      const redis = target === 'tracegate-redis' ? await startRedis() : undefined;
      if (redis && cpu !== null) spawnSync('taskset', ['-p', '-c', String(1 - cpu), String(redis.pid)]);
      const file = join(dir, `${target}.yaml`);
      writeFileSync(file, withPolicy(tracegateConfig(upstream, otlp), redis ? 'redis' : 'memory'));
      const cmd = [...tracegateCli(), 'gateway', '--config', file, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];
      const env = { TRACEGATE_KEY_PEPPER: PEPPER, ...(redis ? { TRACEGATE_REDIS_URL: redis.url } : {}) };
      const { child, port } = await start(cmd, cpu, env, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      return { target, url: `http://127.0.0.1:${port}`, child, headers: { authorization: `Bearer ${KEY}` }, beside: redis };
    }
    case 'portkey': {
      const port = 18787 + Math.floor(Math.random() * 1000);
      const script = join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
      const { child } = await start([process.execPath, script, `--port=${port}`, '--headless'], cpu, { NODE_ENV: 'production' }, /(running at)/);
      return { target, url: `http://127.0.0.1:${port}`, child, headers: portkeyHeaders(upstream) };
    }
    default: {
      const never: never = target;
      throw new Error(`unknown target ${String(never)}`);
    }
  }
}

export async function stop(child?: ChildProcess): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/**
 * A collector on CPU 1 with a temporary embedded store. It runs at SCHED_IDLE: it shares CPU 1
 * with the load generator and the upstream, and at full speed its ClickHouse inserts and merges
 * would slow those (measured: tracegate at one connection fell from ~0.4 ms to over 1 ms added),
 * so the run would measure the collector, not the gateway. At idle priority it takes what CPU 1
 * leaves; when that is not enough the gateway's bounded queue drops spans (reported).
 */
async function startCollector(dir: string, cpu: number | null): Promise<Sink> {
  const base = [...tracegateCli(), 'collector', '--grpc-port', '0', '--http-port', '0', '--data', join(dir, 'data'), '--spool', join(dir, 'spool')];
  const { child, port, match } = await start(atIdle(base), cpu, { TRACEGATE_LOG_LEVEL: 'warn' }, /OTLP\/gRPC\s+[\d.]+:(\d+)[\s\S]*OTLP\/HTTP\s+(http:\/\/[\d.]+:\d+)/);
  return { child, url: `http://127.0.0.1:${port}`, metrics: `${match[2]}/metrics`, what: '' };
}

/** The collector when it starts, else a minimal OTLP sink (said so in the results). */
export interface Sink {
  child: ChildProcess;
  /** OTLP/gRPC endpoint. */
  url: string;
  /** The collector's /metrics (none for the minimal sink). */
  metrics?: string;
  what: string;
}

export async function startSink(dir: string, cpu: number | null, collector: boolean): Promise<Sink> {
  if (collector) {
    try {
      const c = await startCollector(dir, cpu);
      return { ...c, what: `tracegate collector (OTLP gRPC, embedded ClickHouse${canIdle() ? ', SCHED_IDLE on the load CPU' : ''})` };
    } catch (err) {
      process.stderr.write(`bench: the collector did not start (${(err as Error).message.slice(0, 300)}); exporting to a minimal OTLP sink\n`);
    }
  }
  // At idle priority too, like the collector: during tracegate's slices only, a receiver at full
  // priority would take CPU 1 from the load generator and the upstream, and slow tracegate's figure.
  const { child, port } = await start(atIdle(roleCmd('sink')), cpu);
  return { child, url: `http://127.0.0.1:${port}`, what: `minimal OTLP gRPC sink${canIdle() ? ' (SCHED_IDLE on the load CPU)' : ''}` };
}

/** tracegate's span export counters from its /metrics (undefined for other targets). */
export async function exportCounts(t: Running): Promise<{ exported: number; dropped: number; failed: number } | undefined> {
  if (!t.target.startsWith('tracegate')) return undefined;
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const read = (name: string) => metric(text, `tracegate_gateway_spans_${name}_total`);
  return { exported: read('exported'), dropped: read('dropped'), failed: read('failed') };
}
