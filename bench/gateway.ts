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
 *
 * Every target is started once and warmed up (--warmup S, 5, at the highest connection count,
 * before each mode); then each case (mode, connections) is measured in --rounds R (5) rounds that
 * take the targets in turn, --duration S (5) seconds each. This machine's speed drifts by a fifth
 * and more within a minute, so a figure is the median over the rounds and a ratio between two
 * targets the median of the ratios within each round (both measured minutes apart it would say
 * more about the drift than about them). Latency percentiles come from every response's own time.
 *   tracegate-policy · tracegate with authentication and every limit and budget on, counters in memory
 *   tracegate-redis  · the same with counters in a redis-server of the benchmark's own
 *   tracegate-attempts · tracegate with `telemetry.attemptSpans: always` (a second span a call)
 * (bench/gateway/policy.ts; the CPU each target's process spends per call is printed, and for the
 * policy cases what the policy adds to tracegate's).
 * Options: --duration, --warmup, --rounds, --connections 1,16,64, --targets
 * direct,forwarder,tracegate,tracegate-policy,tracegate-redis,tracegate-attempts,portkey, --no-collector (export to
 * a minimal OTLP gRPC sink instead), --save NAME (bench/results/NAME.json, default gateway).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BODY, load, median, round, ttfb, type Slice } from './gateway/load.js';
import { cpuMs } from './gateway/policy.js';
import { canPin, caughtUp, exportCounts, roleCmd, rss, start, startSink, startTarget, stop, type Running, type Sink, type Target } from './gateway/processes.js';
import { runForwarder, runSink, runUpstream } from './gateway/roles.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface Run {
  target: Target;
  connections: number;
  stream: boolean;
  /** Medians over the rounds. */
  rps: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number | null;
  rss_peak_mb: number | null;
  added_p50_ms?: number;
  ttfb_p50_ms?: number;
  added_ttfb_p50_ms?: number;
  errors: number;
  /** CPU time of the target's process per answered call (median over the rounds), where it has one. */
  cpu_us_per_call?: number;
  /** tracegate-redis: CPU time of its redis-server per answered call (median over the rounds). */
  redis_cpu_us_per_call?: number;
  /** tracegate-policy / tracegate-redis: cpu_us_per_call minus tracegate's (the policy's own cost). */
  policy_added_cpu_us_per_call?: number;
  /** tracegate-attempts: cpu_us_per_call minus tracegate's (what the attempt's own span costs). */
  attempt_span_added_cpu_us_per_call?: number;
  rounds: { rps: number; p50_ms: number; p99_ms: number }[];
  /** tracegate: spans its exporter reported during the case's slices. */
  spans?: { exported: number; dropped: number; failed: number };
}

type Counts = NonNullable<Run['spans']>;

const delta = (a?: Counts, b?: Counts): Counts | undefined => (a && b ? { exported: b.exported - a.exported, dropped: b.dropped - a.dropped, failed: b.failed - a.failed } : undefined);

/** One case (mode, connections): `rounds` rounds over every target in turn. */
async function measureCase(started: Running[], c: number, stream: boolean, rounds: number, seconds: number, sink: Sink | undefined): Promise<Run[]> {
  const slices = new Map<Target, Slice[]>(started.map((t) => [t.target, []]));
  const cpu = new Map<Target, number[]>(started.map((t) => [t.target, []]));
  const besideCpu = new Map<Target, number[]>(started.map((t) => [t.target, []]));
  const spans = new Map<Target, Counts>();
  for (let r = 0; r < rounds; r++) {
    for (const t of started) {
      const before = await exportCounts(t);
      const cpu0 = cpuMs(t.child?.pid);
      const beside0 = cpuMs(t.beside?.pid);
      const s = await load(t.url, t.headers, c, stream, seconds);
      const cpu1 = cpuMs(t.child?.pid);
      const beside1 = cpuMs(t.beside?.pid);
      if (cpu0 !== null && cpu1 !== null && s.ok > 0) cpu.get(t.target)!.push(((cpu1 - cpu0) * 1000) / s.ok);
      if (beside0 !== null && beside1 !== null && s.ok > 0) besideCpu.get(t.target)!.push(((beside1 - beside0) * 1000) / s.ok);
      // The next slice starts once tracegate's export and the collector have caught up: the spans
      // of this one are all counted, and taking them in runs in no other target's slice.
      if (t.target.startsWith('tracegate') && sink) await caughtUp(t, sink);
      const d = delta(before, await exportCounts(t));
      if (d) {
        const sum = spans.get(t.target) ?? { exported: 0, dropped: 0, failed: 0 };
        spans.set(t.target, { exported: sum.exported + d.exported, dropped: sum.dropped + d.dropped, failed: sum.failed + d.failed });
      }
      slices.get(t.target)!.push(s);
    }
  }
  return started.map((t) => {
    const ss = slices.get(t.target)!;
    const mem = rss(t.child?.pid);
    const run: Run = {
      target: t.target,
      connections: c,
      stream,
      rps: round(median(ss.map((s) => s.rps)), 1),
      p50_ms: median(ss.map((s) => s.p50)),
      p99_ms: median(ss.map((s) => s.p99)),
      rss_mb: mem.now,
      rss_peak_mb: mem.peak,
      errors: ss.reduce((n, s) => n + s.errors, 0),
      rounds: ss.map((s) => ({ rps: s.rps, p50_ms: s.p50, p99_ms: s.p99 })),
    };
    const us = cpu.get(t.target)!;
    if (us.length) run.cpu_us_per_call = round(median(us), 1);
    const redisUs = besideCpu.get(t.target)!;
    if (redisUs.length) run.redis_cpu_us_per_call = round(median(redisUs), 1);
    const sp = spans.get(t.target);
    if (sp) run.spans = sp;
    const note = sp ? `  spans exported ${sp.exported} dropped ${sp.dropped}${sp.failed ? ` failed ${sp.failed}` : ''}` : '';
    process.stdout.write(
      `${t.target.padEnd(10)} c=${String(c).padEnd(3)} stream=${String(stream).padEnd(5)} ${String(run.rps).padStart(8)} rps  p50 ${run.p50_ms} ms  p99 ${run.p99_ms} ms  rss ${mem.now ?? '-'} MB${run.cpu_us_per_call !== undefined ? `  cpu ${run.cpu_us_per_call} us/call` : ''}${run.redis_cpu_us_per_call !== undefined ? ` (redis-server ${run.redis_cpu_us_per_call})` : ''}  rounds ${ss.map((s) => s.rps).join('/')}${run.errors ? `  errors ${run.errors}` : ''}${note}\n`,
    );
    return run;
  });
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string' },
      upstream: { type: 'string' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '1,16,64' },
      targets: { type: 'string', default: 'direct,forwarder,tracegate,tracegate-policy,tracegate-redis,portkey' },
      'no-collector': { type: 'boolean' },
      /** Results file under bench/results/ (default gateway.json). */
      save: { type: 'string', default: 'gateway' },
    },
  });
  if (values.role === 'upstream') return runUpstream();
  if (values.role === 'forwarder') return runForwarder(values.upstream as string);
  if (values.role === 'sink') return runSink();

  const seconds = Number(values.duration);
  const warmup = Number(values.warmup);
  const rounds = Math.max(1, Number(values.rounds));
  const conns = values.connections.split(',').map(Number);
  const targets = values.targets.split(',') as Target[];
  const pin = canPin();
  // -a: every thread of this process (V8's GC workers too), not only the main thread.
  if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
  const [gwCpu, loadCpu] = pin ? [0, 1] : [null, null];
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-gw-'));
  const children = [];
  const started: Running[] = [];
  const runs: Run[] = [];
  try {
    const up = await start(roleCmd('upstream'), loadCpu);
    children.push(up.child);
    const upstream = `http://127.0.0.1:${up.port}`;
    let otlp: string | null = null;
    let exportTo = 'none';
    let sink: Sink | undefined;
    if (targets.includes('tracegate')) {
      sink = await startSink(dir, loadCpu, !values['no-collector']);
      children.push(sink.child);
      otlp = sink.url;
      exportTo = sink.what;
    }
    for (const target of targets) started.push(await startTarget(target, upstream, otlp, gwCpu, dir));
    for (const stream of [false, true]) {
      // A cold process runs at a fraction of its speed for its first seconds (JIT tiers, pools,
      // the export channel; tracegate: ~600 rps in the first): every target is warmed up first.
      for (const t of started) await load(t.url, t.headers, Math.max(...conns), stream, warmup);
      for (const c of conns) runs.push(...(await measureCase(started, c, stream, rounds, seconds, sink)));
      if (!stream) continue;
      for (const t of started) {
        const tt = await ttfb(t.url, t.headers, 300);
        for (const run of runs) if (run.target === t.target && run.stream) run.ttfb_p50_ms = tt;
      }
    }
    for (const r of runs) {
      const bare = runs.find((x) => x.target === 'tracegate' && x.connections === r.connections && x.stream === r.stream);
      if (r.target.startsWith('tracegate-') && bare?.cpu_us_per_call !== undefined && r.cpu_us_per_call !== undefined) {
        // what the variant adds over tracegate alone: a span per attempt, or policy
        const added = round(r.cpu_us_per_call - bare.cpu_us_per_call, 1);
        const attempts = r.target === 'tracegate-attempts';
        if (attempts) r.attempt_span_added_cpu_us_per_call = added;
        else r.policy_added_cpu_us_per_call = added;
        process.stdout.write(
          `${r.target.padEnd(16)} c=${String(r.connections).padEnd(3)} stream=${String(r.stream).padEnd(5)} ${attempts ? 'an attempt span' : 'policy'} adds ${added} us CPU/call (${r.cpu_us_per_call} vs tracegate${attempts ? '' : ' without policy'} ${bare.cpu_us_per_call})\n`,
        );
      }
      const d = runs.find((x) => x.target === 'direct' && x.connections === r.connections && x.stream === r.stream);
      if (!d || r.target === 'direct') continue;
      r.added_p50_ms = round(r.p50_ms - d.p50_ms);
      if (r.ttfb_p50_ms !== undefined && d.ttfb_p50_ms !== undefined) r.added_ttfb_p50_ms = round(r.ttfb_p50_ms - d.ttfb_p50_ms);
    }
    const summary = verdicts(runs);
    const out = { date: new Date().toISOString(), duration_s: seconds, warmup_s: warmup, rounds, pinned: pin, tracing_export: exportTo, body_bytes: BODY(false).length, runs, summary };
    mkdirSync(join(here, 'results'), { recursive: true });
    const saved = `${values.save.replace(/[^\w.-]/g, '')}.json`;
    writeFileSync(join(here, 'results', saved), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\nsaved bench/results/${saved}\n`);
  } finally {
    for (const t of started.reverse()) {
      await stop(t.child);
      await t.beside?.stop();
    }
    for (const c of children.reverse()) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median over the rounds of a/b within each round. */
function pairedRatio(a: Run | undefined, b: Run | undefined): number | null {
  if (!a || !b || a.rounds.length !== b.rounds.length) return null;
  return round(median(a.rounds.map((r, i) => r.rps / b.rounds[i].rps)), 2);
}

/** The issue's targets, checked on this run's figures (tracing on). */
function verdicts(runs: Run[]) {
  const get = (t: Target, c: number, s = false) => runs.find((r) => r.target === t && r.connections === c && r.stream === s);
  const tg16 = get('tracegate', 16);
  const tg1 = get('tracegate', 1);
  return {
    tracegate_vs_portkey_rps_16: pairedRatio(tg16, get('portkey', 16)),
    tracegate_vs_forwarder_rps_16: pairedRatio(tg16, get('forwarder', 16)),
    tracegate_vs_forwarder_rps_16_stream: pairedRatio(get('tracegate', 16, true), get('forwarder', 16, true)),
    tracegate_added_p50_ms_1: tg1?.added_p50_ms ?? null,
    tracegate_added_ttfb_p50_ms_1: get('tracegate', 1, true)?.added_ttfb_p50_ms ?? null,
    tracegate_spans_16: tg16?.spans ?? null,
    policy_memory_vs_forwarder_rps_16: pairedRatio(get('tracegate-policy', 16), get('forwarder', 16)),
    policy_redis_vs_forwarder_rps_16: pairedRatio(get('tracegate-redis', 16), get('forwarder', 16)),
    policy_memory_added_cpu_us_per_call_16: get('tracegate-policy', 16)?.policy_added_cpu_us_per_call ?? null,
    policy_redis_added_cpu_us_per_call_16: get('tracegate-redis', 16)?.policy_added_cpu_us_per_call ?? null,
    attempt_span_added_cpu_us_per_call_16: get('tracegate-attempts', 16)?.attempt_span_added_cpu_us_per_call ?? null,
    attempts_vs_forwarder_rps_16: pairedRatio(get('tracegate-attempts', 16), get('forwarder', 16)),
    targets: { vs_portkey: '>= 5', vs_forwarder: '>= 0.6', added_p50_ms: '<= 0.5', policy_vs_forwarder: '>= 0.55' },
  };
}
