/**
 * The processes of the gateway benchmark, each started as `bench/run.ts gateway --role NAME`:
 * a fast OpenAI-compatible upstream, a bare Node forwarder (the ceiling for any Node hop), and
 * tracegate itself. Each prints `READY <port>` once it listens.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const ready = (port: number) => process.stdout.write(`READY ${port}\n`);

function listen(server: ReturnType<typeof createServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const WORDS = ['An', ' AI', ' gateway', ' routes', ' every', ' call', '.'];

function completion(model: string): string {
  return JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join('') }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 230, completion_tokens: 7, total_tokens: 237 },
  });
}

function chunks(model: string, usage: boolean): string {
  const base = `"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"${model}"`;
  const frames = [`data: {${base},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n`];
  for (const w of WORDS) frames.push(`data: {${base},"choices":[{"index":0,"delta":{"content":${JSON.stringify(w)}},"finish_reason":null}]}\n\n`);
  frames.push(`data: {${base},"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n`);
  if (usage) frames.push(`data: {${base},"choices":[],"usage":{"prompt_tokens":230,"completion_tokens":7,"total_tokens":237}}\n\n`);
  frames.push('data: [DONE]\n\n');
  return frames.join('');
}

/** Answers chat completions at once, JSON or SSE, like a provider with zero think time. */
export async function runUpstream(): Promise<void> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let body: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } } = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const model = body.model ?? 'unknown';
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(chunks(model, body.stream_options?.include_usage === true));
      } else {
        const text = completion(model);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  ready(await listen(server));
}

/** About thirty lines of node:http with keep-alive that check nothing. */
export async function runForwarder(upstream: string): Promise<void> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  ready(await listen(server));
}

/** tracegate's config for the run: every model to the upstream, tracing exported to `otlp`. */
export function tracegateConfig(upstream: string, otlp: string | null, attemptSpans?: 'always'): string {
  return `apiVersion: tracegate.dev/v1alpha1
kind: Gateway
metadata: { name: bench }
spec:
  telemetry: { serviceName: tracegate-bench, otlpEndpoint: ${otlp ? `"${otlp}"` : 'null'}${attemptSpans ? `, attemptSpans: ${attemptSpans}` : ''} }
---
apiVersion: tracegate.dev/v1alpha1
kind: Backend
metadata: { name: upstream }
spec: { provider: openai, url: "${upstream}/v1" }
---
apiVersion: tracegate.dev/v1alpha1
kind: Route
metadata: { name: all }
spec:
  rules:
    - matches: [{ model: "*" }]
      targets: [{ backend: upstream }]
`;
}

/**
 * A minimal OTLP/gRPC trace sink: accepts every export and answers success, decoding nothing.
 * Used when the collector cannot be started, so the gateway still pays for its whole export path.
 */
export async function runSink(): Promise<void> {
  const grpc = await import('@grpc/grpc-js');
  const { tuneSettings, tuneSessions } = await import('../../collector/receivers/grpc.js');
  const server = new grpc.Server();
  // The collector's HTTP/2 windows, so the sink reads as fast as the collector's receiver does.
  tuneSettings(server);
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    { Export: (_call: unknown, cb: (err: null, res: Buffer) => void) => cb(null, Buffer.alloc(0)) },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  tuneSessions(server);
  ready(port);
}
