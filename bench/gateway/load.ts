/**
 * Load for the gateway benchmark: one autocannon slice against a target (~1 KB chat bodies),
 * latency percentiles from every response's own time (autocannon's histogram rounds to ms), and
 * the time to the first streamed byte, one request at a time.
 */
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => AutocannonInstance;

interface AutocannonInstance extends PromiseLike<{ requests: { average: number }; non2xx: number; errors: number; timeouts: number }> {
  on(ev: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

export const BODY = (stream: boolean) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    max_tokens: 64,
    temperature: 0.2,
    messages: [
      { role: 'system', content: 'You are a concise assistant that answers questions about infrastructure.' },
      { role: 'user', content: `Explain what an AI gateway does for a platform team. ${'Consider routing, retries, fallbacks, observability and cost. '.repeat(13)}` },
    ],
  });

export const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const median = (xs: readonly number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

export interface Slice {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Answers with status 200. */
  ok: number;
}

/** `connections` clients for `seconds` against `url`/v1/chat/completions. */
export async function load(url: string, headers: Record<string, string>, connections: number, stream: boolean, seconds: number): Promise<Slice> {
  const times: number[] = [];
  const inst = autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY(stream),
    connections,
    duration: seconds,
    pipelining: 1,
  });
  inst.on('response', (_c, status, _b, ms) => {
    if (status === 200) times.push(ms);
  });
  const r = await inst;
  const sorted = Float64Array.from(times).sort();
  return { rps: round(r.requests.average, 1), p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), errors: r.non2xx + r.errors + r.timeouts, ok: times.length };
}

/** p50 time to the first body byte of a streamed answer, one request at a time. */
export async function ttfb(url: string, headers: Record<string, string>, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = BODY(true);
  const target = new URL(`${url}/v1/chat/completions`);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let first = true;
        res.on('data', () => {
          if (first) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
          first = false;
        });
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  agent.destroy();
  return round(percentile(Float64Array.from(times).sort(), 50));
}
