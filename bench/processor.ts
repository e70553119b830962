/**
 * Micro-benchmark of the processor stages on realistic ~2 KB LLM spans (OpenInference as the
 * OpenAI instrumentation writes them, GenAI new names, AI SDK doGenerate). Not part of npm test.
 *   node --import tsx bench/processor.ts [rounds of 1000 spans per kind = 20] [openinference|gateway|genai|vercel]
 */
import type { SpanRecord } from '../collector/model.js';
import { ProcessorConfigSchema, STAGES, resolveProcessorConfig } from '../collector/processors/index.js';
import { newCounters, type StageContext } from '../collector/processors/context.js';
import { indexPrices, loadPriceTable } from '../schemas/prices.js';

const text = (n: number) => 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(n / 45)).slice(0, n);

function base(i: number, attributes: Record<string, string>): SpanRecord {
  return {
    traceId: i.toString(16).padStart(32, '0'),
    spanId: i.toString(16).padStart(16, '0'),
    parentSpanId: '',
    traceState: '',
    name: 'ChatCompletion',
    kind: 'Internal',
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_001_000_000_000n,
    serviceName: 'bench',
    resourceAttributes: { 'service.name': 'bench', 'telemetry.sdk.language': 'nodejs' },
    scopeName: 'bench',
    scopeVersion: '1',
    // As the OTLP decoders build them: a fresh null-prototype map per span.
    attributes: Object.assign(Object.create(null) as Record<string, string>, attributes),
    statusCode: 'Unset',
    statusMessage: '',
    events: [],
    links: [],
  };
}

const openinference = (i: number) =>
  base(i, {
    'openinference.span.kind': 'LLM',
    'llm.system': 'openai',
    'llm.model_name': 'gpt-4o-mini-2024-07-18',
    'llm.invocation_parameters': '{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":256}',
    'input.value': JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: text(200) },
        { role: 'user', content: text(300) },
      ],
    }),
    'input.mime_type': 'application/json',
    'output.value': JSON.stringify({ id: 'chatcmpl-x', choices: [{ message: { role: 'assistant', content: text(300) }, finish_reason: 'stop' }] }),
    'output.mime_type': 'application/json',
    'llm.input_messages.0.message.role': 'system',
    'llm.input_messages.0.message.content': text(200),
    'llm.input_messages.1.message.role': 'user',
    'llm.input_messages.1.message.content': text(300),
    'llm.output_messages.0.message.role': 'assistant',
    'llm.output_messages.0.message.content': text(300),
    'llm.token_count.prompt': '120',
    'llm.token_count.completion': '80',
    'llm.token_count.total': '200',
    'llm.token_count.prompt_details.cache_read': '0',
    'session.id': 'sess-1',
    'user.id': 'user-1',
  });

const genai = (i: number) =>
  base(i, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
    'gen_ai.request.temperature': '0.2',
    'gen_ai.request.max_tokens': '256',
    'gen_ai.usage.input_tokens': '120',
    'gen_ai.usage.output_tokens': '80',
    'gen_ai.response.finish_reasons': '["stop"]',
    'gen_ai.conversation.id': 'sess-1',
    'gen_ai.input.messages': JSON.stringify([
      { role: 'system', parts: [{ type: 'text', content: text(300) }] },
      { role: 'user', parts: [{ type: 'text', content: text(600) }] },
    ]),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: text(600) }], finish_reason: 'stop' }]),
  });

const vercel = (i: number) =>
  base(i, {
    'ai.operationId': 'ai.generateText.doGenerate',
    'ai.model.id': 'claude-sonnet-4-20250514',
    'ai.model.provider': 'anthropic.messages',
    'ai.usage.inputTokens': '120',
    'ai.usage.outputTokens': '80',
    'ai.usage.cachedInputTokens': '40',
    'ai.prompt.messages': JSON.stringify([{ role: 'user', content: [{ type: 'text', text: text(800) }] }]),
    'ai.response.text': text(700),
    'ai.response.finishReason': 'stop',
    'ai.telemetry.metadata.sessionId': 'sess-1',
    'gen_ai.system': 'anthropic.messages',
    'gen_ai.request.model': 'claude-sonnet-4-20250514',
  });

/** The gateway's own spans: OpenInference and GenAI keys side by side. */
const gateway = (i: number) => {
  const s = openinference(i);
  Object.assign(s.attributes, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.usage.input_tokens': '120',
    'gen_ai.usage.output_tokens': '80',
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text(300) }] }]),
    'tracegate.origin': 'gateway',
  });
  return s;
};

const rounds = Number(process.argv[2] ?? 20);
const only = process.argv[3];
const kinds = { openinference, gateway, genai, vercel } as const;
// The stages are run one by one, as buildProcessor runs them, to time each.
const ctx: StageContext = {
  config: resolveProcessorConfig(ProcessorConfigSchema.parse({}), {}),
  prices: indexPrices(loadPriceTable()),
  counters: newCounters(),
};
const results: Record<string, Record<string, number>> = {};
for (const [name, make] of Object.entries(kinds)) {
  if (only && name !== only) continue;
  const bytes = Object.entries(make(0).attributes).reduce((n, [k, v]) => n + k.length + v.length, 0);
  // CPU time, not wall time: the figures stay meaningful on a shared machine. Fresh spans for
  // every pass (a processed span would take the already-normalized fast paths).
  const us: Record<string, number> = {};
  for (let r = 0; r < rounds + 3; r++) {
    let batch = Array.from({ length: 1000 }, (_, i) => make(i));
    for (const [stage, run] of STAGES) {
      const start = process.cpuUsage();
      batch = run(batch, ctx);
      const d = process.cpuUsage(start);
      if (r >= 3) us[stage] = (us[stage] ?? 0) + d.user + d.system; // first rounds warm up
    }
  }
  const perSpan = Object.fromEntries(Object.entries(us).map(([k, v]) => [k, v / (rounds * 1000)]));
  const total = Object.values(perSpan).reduce((a, b) => a + b, 0);
  results[name] = { bytes, spans_per_cpu_s: Math.round(1e6 / total), ...perSpan };
  const parts = Object.entries(perSpan)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
  console.log(
    `${name.padEnd(14)} ${String(bytes).padStart(5)} B/span  ${Math.round(1e6 / total)
      .toLocaleString('en')
      .padStart(8)} spans per CPU-second  (µs/span: ${parts})`,
  );
}
