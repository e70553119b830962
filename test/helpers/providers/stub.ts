/**
 * The machinery every provider stand-in shares: a node:http server on 127.0.0.1 (port 0) that
 * records each request, and per-test controls (fail the next N, hang the next N, delays,
 * abort detection). Provider files (openai.ts, anthropic.ts) supply the routes and wire formats.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** As received, lower-case names (auth headers included: tests assert they arrive). */
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The body parsed as JSON, or undefined when it was not JSON. */
  body: any;
  /** The client went away before the answer was complete. */
  aborted: boolean;
  /** The answer was written in full. */
  completed: boolean;
}

export interface FailSpec {
  status: number;
  /** `Retry-After` header value (seconds, or an HTTP date). */
  retryAfter?: string | number;
  message?: string;
  /** Replaces the provider's error envelope entirely. */
  body?: unknown;
}

export interface Delays {
  /** Wait this long before writing the status line. */
  beforeHeadersMs?: number;
  /** Wait this long between streamed events. */
  betweenChunksMs?: number;
}

/** What a route handler gets: the recorded request and helpers that honour the controls. */
export interface Exchange {
  rec: RecordedRequest;
  res: ServerResponse;
  /** Sleeps; resolves false when the client left meanwhile (stop writing then). */
  sleep(ms: number | undefined): Promise<boolean>;
  json(status: number, body: unknown, headers?: Record<string, string>): Promise<void>;
  /** Writes an SSE answer frame by frame with the between-chunk delay. */
  sse(frames: string[]): Promise<void>;
}

export type Route = (ex: Exchange) => Promise<void> | void;
export type ErrorBody = (spec: FailSpec) => unknown;

export interface StubServer {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  requests: RecordedRequest[];
  /** Answer the next `n` requests with `status` in the provider's error envelope. */
  failNext(n: number, status: number, opts?: Omit<FailSpec, 'status'>): void;
  /** Accept the next `n` requests and never answer (until the client leaves or close()). */
  hangNext(n: number): void;
  setDelays(d: Delays): void;
  /** Resolves with the first request whose client disconnected before the answer was complete. */
  waitForAbort(): Promise<RecordedRequest>;
  /** Resolves once `n` requests have arrived in total. */
  waitForRequests(n: number): Promise<void>;
  /** Forget requests, pending failures, hangs and delays. */
  reset(): void;
  close(): Promise<void>;
}

function parseQuery(search: URLSearchParams): Record<string, string> {
  const q: Record<string, string> = {};
  for (const [k, v] of search) q[k] = v;
  return q;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startStubServer(route: Route, errorBody: ErrorBody): Promise<StubServer> {
  const requests: RecordedRequest[] = [];
  const failures: FailSpec[] = [];
  let hangs = 0;
  let delays: Delays = {};
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const sleep = (res: ServerResponse) => (ms: number | undefined) =>
    new Promise<boolean>((resolve) => {
      if (!ms) return resolve(!res.destroyed);
      const t = setTimeout(() => {
        timers.delete(t);
        resolve(!res.destroyed);
      }, ms);
      timers.add(t);
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    const rawBody = await readBody(req);
    let body: any;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: parseQuery(url.searchParams),
      headers: req.headers,
      rawBody,
      body,
      aborted: false,
      completed: false,
    };
    requests.push(rec);
    res.on('close', () => {
      if (res.writableFinished) rec.completed = true;
      else rec.aborted = true;
      notify();
    });
    notify();
    if (hangs > 0) {
      hangs--;
      return;
    }
    const nap = sleep(res);
    const ex: Exchange = {
      rec,
      res,
      sleep: nap,
      async json(status, payload, headers = {}) {
        if (!(await nap(delays.beforeHeadersMs))) return;
        const text = JSON.stringify(payload);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
        res.end(text);
      },
      async sse(frames) {
        if (!(await nap(delays.beforeHeadersMs))) return;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
        res.flushHeaders();
        for (const [i, f] of frames.entries()) {
          if (i > 0 && !(await nap(delays.betweenChunksMs))) return;
          if (res.destroyed) return;
          res.write(f);
        }
        res.end();
      },
    };
    const fail = failures.shift();
    if (fail) {
      const headers: Record<string, string> = fail.retryAfter === undefined ? {} : { 'retry-after': String(fail.retryAfter) };
      await ex.json(fail.status, fail.body ?? errorBody(fail), headers);
      return;
    }
    await route(ex);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`stub failure: ${String(err)}`);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const until = (ok: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!ok()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });

  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, status, opts = {}) {
      for (let i = 0; i < n; i++) failures.push({ ...opts, status });
    },
    hangNext(n) {
      hangs += n;
    },
    setDelays(d) {
      delays = { ...d };
    },
    async waitForAbort() {
      await until(() => requests.some((r) => r.aborted));
      return requests.find((r) => r.aborted) as RecordedRequest;
    },
    waitForRequests: (n) => until(() => requests.length >= n),
    reset() {
      requests.length = 0;
      failures.length = 0;
      hangs = 0;
      delays = {};
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Text split the way models stream it: a word and its trailing space per piece. */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** JSON text split into short fragments, as providers stream tool arguments. */
export function fragments(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A rough deterministic token count for the stand-ins' usage: a token per 4 characters. */
export function roughTokens(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return Math.max(1, Math.ceil(text.length / 4));
}
