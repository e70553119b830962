/**
 * `npm run bench -- mcp [--calls N] [--seconds S]`: the latency a tools/call gains through
 * tracegate's /mcp against calling the MCP server directly, with the official SDK client on
 * both paths and an SDK server (an echo tool) on loopback, over Streamable HTTP.
 *   - p50 / p95 at one connection (N sequential calls after a warm-up);
 *   - throughput with 16 clients calling for S seconds.
 * The gateway records its spans (encoded, then dropped by a discarding exporter), with
 * authentication off and no tool-call limit. Saves bench/results/mcp.json.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseConfig } from '../gateway/config/load.js';
import { buildGateway } from '../gateway/server.js';

const HEADER = 'apiVersion: tracegate.dev/v1alpha1';

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

async function echoServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer((req, res) => {
    void (async () => {
      const sid = req.headers['mcp-session-id'];
      let t = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (!t) {
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, created) });
        const s = new McpServer({ name: 'echo', version: '1' });
        s.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text' as const, text }] }));
        await s.connect(created);
        t = created;
      }
      await t.handleRequest(req, res);
    })();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: async () => {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    },
  };
}

async function client(url: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function latency(url: string, n: number): Promise<{ p50: number; p95: number }> {
  const c = await client(url);
  for (let i = 0; i < 50; i++) await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.callTool({ name: 'echo', arguments: { text: `hello ${i}` } });
    times.push(performance.now() - t0);
  }
  await c.close();
  return { p50: pct(times, 0.5), p95: pct(times, 0.95) };
}

async function throughput(url: string, clients: number, seconds: number): Promise<number> {
  const cs = await Promise.all(Array.from({ length: clients }, () => client(url)));
  let done = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    cs.map(async (c) => {
      while (performance.now() < until) {
        await c.callTool({ name: 'echo', arguments: { text: 'x' } });
        done++;
      }
    }),
  );
  await Promise.all(cs.map((c) => c.close()));
  return done / seconds;
}

const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

export async function main(args: string[]): Promise<void> {
  const calls = arg(args, '--calls', 500);
  const seconds = arg(args, '--seconds', 5);
  const server = await echoServer();
  const text = [`${HEADER}\nkind: McpServer\nmetadata: { name: echo }\nspec:\n  url: "${server.url}"\n`].join('---\n');
  const parsed = parseConfig(text, { env: {} });
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join('; '));
  const gw = buildGateway(parsed.config, { spanExporter: discard, logLevel: 'silent' });
  const base = await gw.listen({ host: '127.0.0.1', port: 0 });
  try {
    const direct = await latency(server.url, calls);
    const via = await latency(`${base}/mcp`, calls);
    const rpsDirect = await throughput(server.url, 16, seconds);
    const rpsVia = await throughput(`${base}/mcp`, 16, seconds);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, load: loadavg().map((l) => Math.round(l * 10) / 10) },
      calls,
      seconds,
      p50Ms: { direct: +direct.p50.toFixed(3), tracegate: +via.p50.toFixed(3), added: +(via.p50 - direct.p50).toFixed(3) },
      p95Ms: { direct: +direct.p95.toFixed(3), tracegate: +via.p95.toFixed(3) },
      rpsAt16: { direct: Math.round(rpsDirect), tracegate: Math.round(rpsVia), ratio: +(rpsVia / rpsDirect).toFixed(2) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'mcp.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await gw.close();
    await server.close();
  }
}
