/**
 * Collector insert path, in one run:
 *   end_to_end_spans_per_s  realistic LLM spans (~2 KB of attributes) sent over OTLP/gRPC protobuf
 *                           by a load generator in a child process, until every span is in the
 *                           embedded store's otel_traces
 *   rss_mb                  the collector process's peak resident memory meanwhile
 *   engine_rows_per_s       the engine's own INSERT … SELECT of the same rows (the ceiling)
 *   naive_rows_per_s        a plain @clickhouse/client JSONEachRow insert of the same rows
 * Options: --spans N (default 200000), --concurrency C (8), --batch B spans per request (512),
 * --schema all|core (core: otel_traces alone, without the views that fan each insert out).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { buildCollector } from '../collector/collector.js';
import { parseCollectorConfig } from '../collector/config.js';
import { TRACE_EXPORT_PATH } from '../collector/receivers/grpc.js';
import { openStore, type Store } from '../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate } from '../schemas/migrate.js';

const here = dirname(fileURLToPath(import.meta.url));

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      spans: { type: 'string', default: '200000' },
      concurrency: { type: 'string', default: '8' },
      batch: { type: 'string', default: '512' },
      'load-generator': { type: 'string' },
      schema: { type: 'string', default: 'all' },
    },
  });
  const opts = { spans: Number(values.spans), concurrency: Number(values.concurrency), batch: Number(values.batch) };
  if (values['load-generator']) return loadGenerator(values['load-generator'], opts);
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-'));
  const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' });
  try {
    const migrations = loadMigrations().filter((m) => values.schema !== 'core' || m.version === 1);
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: 'tracegate' }, migrations);
    const e2e = await endToEnd(store, join(dir, 'spool'), opts);
    const engine = await engineRate(store, e2e.spans);
    const naive = await naiveRate(store, Math.min(20_000, e2e.spans));
    const result = {
      end_to_end_spans_per_s: Math.round(e2e.spansPerS),
      engine_rows_per_s: Math.round(engine),
      naive_rows_per_s: Math.round(naive),
      rss_mb: Math.round(e2e.rssMb),
      ratio_to_engine: Number((e2e.spansPerS / engine).toFixed(3)),
      spans: e2e.spans,
      span_attribute_bytes: e2e.attrBytes,
      send_seconds: Number(e2e.sendS.toFixed(2)),
      total_seconds: Number(e2e.totalS.toFixed(2)),
      concurrency: opts.concurrency,
      spans_per_request: opts.batch,
      schema: values.schema,
      node: process.version,
      measured_at: new Date().toISOString(),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(here, 'results', 'collector.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function endToEnd(store: Store, spoolDir: string, opts: { spans: number; concurrency: number; batch: number }) {
  const config = parseCollectorConfig({ grpc: { port: 0 }, http: { port: 0 }, spool: { dir: spoolDir, maxBytes: 8 * 1024 ** 3 }, stats: { intervalMs: 0 } });
  const collector = buildCollector(config, { store, logLevel: 'warn' });
  const at = await collector.start();
  let rss = process.memoryUsage().rss;
  const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 100);
  const t0 = performance.now();
  const child = fork(join(here, 'run.ts'), ['collector', '--load-generator', `127.0.0.1:${at.grpc!.port}`, '--spans', String(opts.spans), '--concurrency', String(opts.concurrency), '--batch', String(opts.batch)], {
    execArgv: ['--import', 'tsx'],
  });
  const report = await new Promise<{ sent: number; attrBytes: number }>((resolve, reject) => {
    child.on('message', (m) => resolve(m as { sent: number; attrBytes: number }));
    child.on('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
  });
  const sendS = (performance.now() - t0) / 1000;
  if (!(await collector.idle(600_000))) throw new Error('the collector did not drain in 10 minutes');
  const totalS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await collector.shutdown();
  const [{ n }] = await (await store.client.query({ query: 'SELECT count() AS n FROM tracegate.otel_traces', format: 'JSONEachRow' })).json<{ n: string }>();
  if (Number(n) !== report.sent) throw new Error(`sent ${report.sent} spans but the table holds ${n}`);
  return { spans: report.sent, spansPerS: report.sent / totalS, rssMb: rss / 2 ** 20, sendS, totalS, attrBytes: report.attrBytes };
}

/** INSERT … SELECT from a copy inside the engine: the store's own ceiling for these rows. */
async function engineRate(store: Store, rows: number): Promise<number> {
  const c = store.client;
  await c.command({ query: 'CREATE TABLE tracegate.bench_copy AS tracegate.otel_traces ENGINE = MergeTree PRIMARY KEY tuple() ORDER BY tuple()' });
  await c.command({ query: 'INSERT INTO tracegate.bench_copy SELECT * FROM tracegate.otel_traces' });
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

/** A realistic LLM span: messages, invocation parameters, token counts, about 2 KB of attributes. */
function llmAttributes(i: number): Record<string, string | number> {
  return {
    'openinference.span.kind': 'LLM',
    'llm.system': 'openai',
    'llm.provider': 'openai',
    'llm.model_name': i % 3 ? 'gpt-4o-mini-2024-07-18' : 'gpt-4o-2024-08-06',
    'llm.invocation_parameters': JSON.stringify({ model: 'gpt-4o-mini', temperature: 0.2, max_tokens: 512, top_p: 1, stream: false }),
    'llm.input_messages.0.message.role': 'system',
    'llm.input_messages.0.message.content': 'You are a support assistant for an online store. Answer briefly, cite the order number, and never invent tracking data.',
    'llm.input_messages.1.message.role': 'user',
    'llm.input_messages.1.message.content': `Where is my order #${100000 + i}? It was supposed to arrive on Tuesday and the tracking page has not changed since Friday. Can you check with the carrier?`,
    'llm.output_messages.0.message.role': 'assistant',
    'llm.output_messages.0.message.content': `Order #${100000 + i} left our warehouse on Friday and is with the carrier. Their last scan was at the regional hub on Monday evening; delivery is now expected on Thursday. I have opened a trace request with the carrier and you will get an email as soon as they reply.`,
    'input.value': JSON.stringify({ messages: [{ role: 'user', content: `Where is my order #${100000 + i}? It was supposed to arrive on Tuesday.` }], model: 'gpt-4o-mini' }),
    'input.mime_type': 'application/json',
    'output.value': JSON.stringify({ id: `chatcmpl-${i}`, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Order left our warehouse on Friday and is with the carrier.' } }] }),
    'output.mime_type': 'application/json',
    'llm.finish_reason': 'stop',
    'llm.token_count.prompt': 180 + (i % 50),
    'llm.token_count.completion': 60 + (i % 30),
    'llm.token_count.total': 240 + (i % 80),
    'llm.token_count.prompt_details.cache_read': 64,
    'session.id': `session-${i % 1000}`,
    'user.id': `user-${i % 97}`,
  };
}

/** Child process: sends the spans over OTLP/gRPC as fast as the collector answers. */
async function loadGenerator(target: string, opts: { spans: number; concurrency: number; batch: number }): Promise<void> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-agent', 'deployment.environment': 'bench' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('@arizeai/openinference-instrumentation-openai', '4.2.7');
  for (let i = 0; i < opts.batch; i++) tracer.startSpan('ChatCompletion', { attributes: llmAttributes(i) }).end();
  const spans = memory.getFinishedSpans();
  const template = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
  const attrBytes = Math.round(spans.reduce((n, s) => n + Object.entries(s.attributes).reduce((m, [k, v]) => m + k.length + String(v).length, 0), 0) / spans.length);
  // Offsets of each trace id in the template: every request gets fresh ids by overwriting them.
  const offsets = spans.map((s) => template.indexOf(Buffer.from(s.spanContext().traceId, 'hex')));
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const id = (b: Buffer) => b;
  let seq = 0;
  let sent = 0;
  const send = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(TRACE_EXPORT_PATH, id, id, body, (err) => (err ? reject(err) : resolve()));
    });
  const requests = Math.ceil(opts.spans / opts.batch);
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      const body = Buffer.from(template);
      for (const off of offsets) body.writeUInt32BE(++seq, off);
      for (;;) {
        try {
          await send(body);
          break;
        } catch (err) {
          // Refused with a retryable status (the spool is full): back off and send again.
          if ((err as grpc.ServiceError).code !== grpc.status.RESOURCE_EXHAUSTED && (err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      sent += opts.batch;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  client.close();
  process.send!({ sent, attrBytes });
}
