/**
 * The collector benchmark's load generator, a child process (so its CPU is not the collector's
 * thread): builds one OTLP/gRPC protobuf request of realistic LLM spans with the OpenTelemetry
 * SDK's own serializer, then sends copies of it with fresh trace ids, `concurrency` requests in
 * flight, as fast as the collector answers. A refused request (RESOURCE_EXHAUSTED, UNAVAILABLE)
 * is sent again after a pause, as an OTLP SDK does, so every span counted as sent was accepted.
 *
 * Parent → child: { cmd: 'send', spans } | { cmd: 'run', seconds } | { cmd: 'exit' }
 * Child → parent: { ready, attrBytes, requestBytes } once connected, then { done, sent, refusals }.
 */
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TRACE_EXPORT_PATH } from '../../collector/receivers/grpc.js';

export type LoadCommand = { cmd: 'send'; spans: number } | { cmd: 'run'; seconds: number } | { cmd: 'exit' };
export type LoadReport = { ready: true; attrBytes: number; requestBytes: number } | { done: true; sent: number; refusals: number; cpuSeconds: number };

/** A realistic LLM span: messages, invocation parameters, token counts, about 2 KB of attributes. */
export function llmAttributes(i: number): Record<string, string | number> {
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
    'output.value': JSON.stringify({
      id: `chatcmpl-${i}`,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Order left our warehouse on Friday and is with the carrier.' } }],
    }),
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

/** One request of `batch` spans, and where each span's trace id sits in it. */
function template(batch: number): { body: Buffer; offsets: number[]; attrBytes: number } {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-agent', 'deployment.environment': 'bench' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('@arizeai/openinference-instrumentation-openai', '4.2.7');
  for (let i = 0; i < batch; i++) tracer.startSpan('ChatCompletion', { attributes: llmAttributes(i) }).end();
  const spans = memory.getFinishedSpans();
  const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
  const attrBytes = Math.round(spans.reduce((n, s) => n + Object.entries(s.attributes).reduce((m, [k, v]) => m + k.length + String(v).length, 0), 0) / spans.length);
  return { body, offsets: spans.map((s) => body.indexOf(Buffer.from(s.spanContext().traceId, 'hex'))), attrBytes };
}

const RETRYABLE = new Set([grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE]);

async function main(target: string, batch: number, concurrency: number): Promise<void> {
  const t = template(batch);
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())));
  const id = (b: Buffer) => b;
  const send = (body: Buffer) => new Promise<void>((resolve, reject) => client.makeUnaryRequest(TRACE_EXPORT_PATH, id, id, body, (err) => (err ? reject(err) : resolve())));
  let seq = (process.pid % 1000) * 1_000_000;

  async function phase(more: () => boolean): Promise<{ sent: number; refusals: number; cpuSeconds: number }> {
    const cpu0 = process.cpuUsage();
    let sent = 0;
    let refusals = 0;
    const worker = async () => {
      while (more()) {
        const body = Buffer.from(t.body);
        for (const off of t.offsets) body.writeUInt32BE(++seq >>> 0, off);
        for (;;) {
          try {
            await send(body);
            break;
          } catch (err) {
            if (!RETRYABLE.has((err as grpc.ServiceError).code)) throw err;
            refusals++;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        sent += batch;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const cpu = process.cpuUsage(cpu0);
    return { sent, refusals, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  }

  process.on('message', (m: LoadCommand) => {
    if (m.cmd === 'exit') {
      client.close();
      process.disconnect();
      return;
    }
    let more: () => boolean;
    if (m.cmd === 'send') {
      let requests = Math.ceil(m.spans / batch);
      more = () => requests-- > 0;
    } else {
      const until = performance.now() + m.seconds * 1000;
      more = () => performance.now() < until;
    }
    phase(more).then(
      (r) => process.send!({ done: true, ...r } satisfies LoadReport),
      (err: unknown) => {
        process.stderr.write(`load generator: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
  process.send!({ ready: true, attrBytes: t.attrBytes, requestBytes: t.body.length } satisfies LoadReport);
}

// Run as a child: `loadgen.ts <host:port> <spans per request> <concurrency>`.
if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2], Number(process.argv[3]), Number(process.argv[4])).catch((err: unknown) => {
    process.stderr.write(`load generator: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
