/**
 * The simulated provider as a standalone loopback HTTP server speaking OpenAI's wire format,
 * for the gateway benchmark and for tests that want a real socket between gateway and provider.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { answerHttp, openaiError, type SimulatedConfigInput } from '../simulated.js';

export interface SimulatedServer {
  /** `http://127.0.0.1:PORT/v1`: the base URL an OpenAI client takes. */
  readonly baseUrl: string;
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function serve(req: IncomingMessage, res: ServerResponse, config: SimulatedConfigInput): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const text = req.method === 'POST' ? await readBody(req) : undefined;
  if (req.method === 'POST' && text === undefined) {
    res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify(openaiError(413, `the request body is larger than ${MAX_BODY} bytes`)));
    return;
  }
  const answer = await answerHttp(req.method ?? 'GET', req.url ?? '/', text, { signal: abort.signal, config });
  res.writeHead(answer.status, answer.headers);
  if (Buffer.isBuffer(answer.body)) {
    res.end(answer.body);
    return;
  }
  for await (const chunk of answer.body) {
    if (!res.write(chunk)) await once(res, 'drain');
  }
  res.end();
}

/** Starts the server on 127.0.0.1 (`port` 0 picks a free one). */
export async function startSimulatedServer(opts: { port?: number; host?: string; config?: SimulatedConfigInput } = {}): Promise<SimulatedServer> {
  const config = opts.config ?? {};
  const server = createServer((req, res) => {
    serve(req, res, config).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(openaiError(500, 'the simulated provider failed')));
      else res.destroy();
    });
  });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port, address } = server.address() as AddressInfo;
  return {
    baseUrl: `http://${address}:${port}/v1`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
