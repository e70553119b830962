/**
 * `npm run bench -- evaluators [--spans 20000] [--scored 2000] [--concurrency 8]`: what the
 * online evaluator worker costs the process it shares with ingest, on the embedded engine.
 *
 * The store holds `--spans` application LLM spans of the last hour (messages included), of which
 * `--scored` match the evaluator (an llm-judge on one model, sampling 1). The judge is a loopback
 * OpenAI stand-in answering at once (the judge's own latency is not what is measured); results
 * go to an in-memory exporter. Measured, each for the same ingest load (inserts of 2,000 spans
 * back to back for the duration of the evaluator run, or 10 s without one):
 *   - ingest: ms per insert of 2,000 spans (median, p95) without and with the worker running;
 *   - the event loop's delay (p50, p99, max) without and with;
 *   - the worker: evaluations per second and ms per pass (selection of 100 spans, attributes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { exporterResultSink } from '../collector/evaluators/emit.js';
import { buildEvaluatorWorker } from '../collector/evaluators/worker.js';
import { openStore } from '../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../schemas/migrate.js';
import { evaluatorSpec, evaluatorVersion } from '../schemas/evaluator.js';
import { insertSpans, llmSpan, newTraceId, ns } from '../test/helpers/spans.js';
import { startOpenAIStub } from '../test/helpers/providers/index.js';

function flag(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10 : 0;
};

function spans(n: number, model: (i: number) => string, baseMs: number) {
  return Array.from({ length: n }, (_, i) =>
    llmSpan({
      traceId: newTraceId(),
      start: ns(baseMs + (i % 3_000_000)),
      model: model(i),
      usage: { prompt: 120, completion: 40 },
      attributes: {
        'llm.input_messages.0.message.role': 'user',
        'llm.input_messages.0.message.content': `Question ${i}: where is my order? ${'context '.repeat(40)}`,
        'llm.output_messages.0.message.role': 'assistant',
        'llm.output_messages.0.message.content': `Answer ${i}: it ships tomorrow. ${'detail '.repeat(40)}`,
      },
    }),
  );
}

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'spans', 20_000);
  const scored = flag(args, 'scored', 2000);
  const concurrency = flag(args, 'concurrency', 8);
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-eval-'));
  const store = await openStore({ kind: 'embedded', dataDir: dir, database: 'bench' });
  const judge = await startOpenAIStub({ reply: () => ({ text: '{"label":"relevant","explanation":"ok"}' }) });
  try {
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: 'bench' });
    const base = Date.now() - 3_000_000;
    for (let k = 0; k < total; k += 5000) {
      await insertSpans(
        store,
        spans(Math.min(5000, total - k), (i) => (k + i < scored ? 'judged-model' : 'other-model'), base),
      );
    }
    // Stored and settled before the measured part.
    await new Promise((r) => setTimeout(r, 1500));

    const ingest = async (until: () => boolean) => {
      const ms: number[] = [];
      while (!until()) {
        const batch = spans(2000, () => 'ingest-model', Date.now() - 60_000);
        const t = performance.now();
        await insertSpans(store, batch);
        ms.push(performance.now() - t);
      }
      return ms;
    };
    const measure = async (work: () => Promise<void>) => {
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      let done = false;
      const t = performance.now();
      const [insertMs] = await Promise.all([ingest(() => done), work().finally(() => (done = true))]);
      h.disable();
      return {
        seconds: Math.round(performance.now() - t) / 1000,
        inserts: insertMs.length,
        insert_ms_p50: pct(insertMs, 50),
        insert_ms_p95: pct(insertMs, 95),
        loop_delay_ms_p50: Math.round(h.percentile(50) / 1e4) / 100,
        loop_delay_ms_p99: Math.round(h.percentile(99) / 1e4) / 100,
        loop_delay_ms_max: Math.round(h.max / 1e4) / 100,
      };
    };

    const without = await measure(() => new Promise((r) => setTimeout(r, 10_000)));
    const spec = evaluatorSpec.parse({ type: 'llm-judge', template: 'relevance', target: { kind: 'LLM', models: ['judged-model'] }, concurrency, retries: 0, judge: { model: 'gpt-4o-mini' } });
    const worker = buildEvaluatorWorker({ client: store.client, database: 'bench', sink: exporterResultSink(new InMemorySpanExporter()), gatewayUrl: judge.url, settleMs: 0, batch: 100 });
    worker.update(new Map([['bench', { name: 'bench', version: evaluatorVersion(spec), spec }]]), new Map());
    let passes = 0;
    let evaluations = 0;
    const evalStart = performance.now();
    const withWorker = await measure(async () => {
      for (;;) {
        const p = await worker.pass({ since: base - 60_000, storedBefore: Date.now() + 1000 });
        passes++;
        evaluations += p.byEvaluator.get('bench')?.ok ?? 0;
        if (p.selected === 0) break;
      }
    });
    const evalSeconds = (performance.now() - evalStart) / 1000;
    await worker.stop();
    const out = {
      bench: 'evaluators',
      date: new Date().toISOString(),
      cpus: cpus().length,
      spans_in_store: total,
      spans_scored: scored,
      concurrency,
      without_worker: without,
      with_worker: withWorker,
      worker: { evaluations, passes, evaluations_per_second: Math.round(evaluations / evalSeconds), ms_per_pass: Math.round((evalSeconds * 1000) / passes) },
    };
    process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
    const results = join(import.meta.dirname, 'results');
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, 'evaluators.json'), `${JSON.stringify(out, null, 1)}\n`);
    process.stdout.write('saved bench/results/evaluators.json\n');
  } finally {
    await judge.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
