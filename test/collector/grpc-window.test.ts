/**
 * The OTLP/gRPC receiver's HTTP/2 flow control: every connection is offered 16 MiB stream windows
 * and 1 MiB frames, and its connection window is widened as well, so an exporter's large request
 * is not paced by 32 KiB window updates; a request of several MiB sent that way arrives whole.
 */
import { connect, type ClientHttp2Session, type Settings } from 'node:http2';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { ExportResultCode } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { HTTP2_MAX_FRAME_BYTES, HTTP2_WINDOW_BYTES } from '../../collector/receivers/grpc.js';
import { useCollector } from './helpers.js';

const fx = useCollector();

describe('OTLP/gRPC HTTP/2 windows', () => {
  it('offers large stream windows and frames, and a large connection window', async () => {
    const session: ClientHttp2Session = connect(fx.run.grpcUrl);
    try {
      const settings = await new Promise<Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.initialWindowSize).toBe(HTTP2_WINDOW_BYTES);
      expect(settings.maxFrameSize).toBe(HTTP2_MAX_FRAME_BYTES);
      // The connection window arrives as a WINDOW_UPDATE right after the SETTINGS.
      const until = Date.now() + 5000;
      while ((session.state.remoteWindowSize ?? 0) < HTTP2_WINDOW_BYTES && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(session.state.remoteWindowSize).toBeGreaterThanOrEqual(HTTP2_WINDOW_BYTES);
    } finally {
      session.close();
    }
  });

  it('takes a 4 MiB export in large frames whole', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    const tracer = provider.getTracer('window-test');
    const text = 'é'.repeat(2000); // 4 KB of two-byte UTF-8 a span
    for (let i = 0; i < 1000; i++) tracer.startSpan(`big-${i}`, { attributes: { text, i } }).end();
    const spans = memory.getFinishedSpans();
    const exporter = new OTLPTraceExporter({ url: fx.run.grpcUrl });
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
    await exporter.shutdown();
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(await fx.run.collector.idle(20_000)).toBe(true);
    const [row] = await fx.store.rows<{ n: string; bytes: string }>(
      `SELECT count() AS n, sum(length(SpanAttributes['text'])) AS bytes FROM ${fx.store.database}.otel_traces WHERE ScopeName = 'window-test'`,
    );
    expect(Number(row.n)).toBe(1000);
    expect(Number(row.bytes)).toBe(1000 * Buffer.byteLength(text));
  });
});
