/**
 * An MCP server that speaks only the old HTTP+SSE transport (the SDK's SSEServerTransport on a
 * loopback node:http server) behind tracegate, reached by the SDK client over Streamable HTTP at
 * /mcp: listed, called, progress passed on, traced as TOOL spans. A line with no newline, an
 * oversized message, garbage, a lost stream or a stall fails that request only, with a clear JSON-RPC
 * error; the stream is opened again (and initialized again) at the next call. An endpoint event
 * that points at another origin is refused.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { z } from 'zod';
import type { McpServerConfig } from '../../../gateway/config/model.js';
import { McpUpstreams } from '../../../gateway/mcp/upstream.js';
import { config, docs, eventually, startGateway, type TestGateway } from '../helpers.js';

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const BIG = 2 * 1024 * 1024;

interface OldServer {
  http: Server;
  url: string;
  /** SSE streams opened (GETs). */
  streams: number;
}

/** An SDK McpServer per SSE stream, served over HTTP+SSE at /sse and /messages. */
async function startOld(): Promise<OldServer> {
  const transports = new Map<string, SSEServerTransport>();
  const out = { streams: 0 } as OldServer;
  const make = (res: ServerResponse) => {
    const s = new McpServer({ name: 'old', version: '1.0.0' });
    s.registerTool('echo', { description: 'Echoes its text', inputSchema: { text: z.string() } }, async ({ text: t }) => text(`echo: ${t}`));
    s.registerTool('slow', { description: 'Progress, then an answer', inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
      const token = extra._meta?.progressToken;
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
      await new Promise((r) => setTimeout(r, ms));
      return text(`slept ${ms}`);
    });
    s.registerTool('hang', { description: 'Never answers', inputSchema: {} }, async () => new Promise(() => {}));
    s.registerTool('huge', { description: 'A message over the bound', inputSchema: {} }, async () => text('x'.repeat(BIG)));
    s.registerTool('nonewline', { description: 'A line that never ends', inputSchema: {} }, async () => {
      res.write(`data: ${'y'.repeat(BIG)}`);
      return new Promise(() => {});
    });
    s.registerTool('garbage', { description: 'An event that is not JSON', inputSchema: {} }, async () => {
      res.write('event: message\ndata: {"this is": not json\n\n');
      return new Promise(() => {});
    });
    s.registerTool('drop', { description: 'Drops the stream', inputSchema: {} }, async () => {
      setTimeout(() => res.destroy(), 10);
      return new Promise(() => {});
    });
    return s;
  };
  out.http = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/sse') {
        out.streams++;
        const t = new SSEServerTransport('/messages', res);
        transports.set(t.sessionId, t);
        t.onclose = () => transports.delete(t.sessionId);
        await make(res).connect(t);
        return;
      }
      const t = transports.get(url.searchParams.get('sessionId') ?? '');
      if (req.method === 'POST' && url.pathname === '/messages' && t) return t.handlePostMessage(req, res);
      res.writeHead(404).end('no such session');
    })().catch((err) => res.headersSent || res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((r) => out.http.listen(0, '127.0.0.1', r));
  out.url = `http://127.0.0.1:${(out.http.address() as AddressInfo).port}/sse`;
  return out;
}

/** A server whose endpoint event sends messages to another origin. */
async function startElsewhere(): Promise<Server> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: endpoint\ndata: http://203.0.113.7/messages?sessionId=1\n\n');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

let old: OldServer;
let elsewhere: Server;
let gw: TestGateway;
/** A second replica with the same session key. */
let replica: TestGateway;
let client: Client;

beforeAll(async () => {
  old = await startOld();
  elsewhere = await startElsewhere();
  const server = ['kind: McpServer', 'metadata: { name: old }', 'spec:', '  transport: sse', `  url: "${old.url}"`, '  timeout: 1s'].join('\n');
  const cfg = () => config(docs('kind: Gateway\nmetadata: { name: gw }\nspec:\n  mcp: { toolNames: alwaysPrefix, maxResponseBytes: 1mb }', server), { TRACEGATE_MCP_SESSION_KEY: 'k'.repeat(40) });
  gw = await startGateway(cfg());
  replica = await startGateway(cfg());
  client = new Client({ name: 'sse-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
});

afterAll(async () => {
  await client?.close();
  await gw?.close();
  await replica?.close();
  old?.http.closeAllConnections();
  await new Promise((r) => old?.http.close(r));
  elsewhere?.closeAllConnections();
  await new Promise((r) => elsewhere?.close(r));
});

const callError = (name: string) =>
  client.callTool({ name, arguments: {} }).then(
    () => undefined,
    (e: unknown) => e as McpError,
  );
const echo = async (t: string) => expect(await client.callTool({ name: 'old__echo', arguments: { text: t } })).toEqual({ content: [{ type: 'text', text: `echo: ${t}` }] });

describe('an HTTP+SSE MCP server through tracegate', () => {
  it('lists its tools under its prefix and calls them over one stream', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['old__echo', 'old__slow', 'old__hang', 'old__huge', 'old__nonewline', 'old__garbage', 'old__drop']);
    await echo('hi');
    await Promise.all(['a', 'b', 'c'].map(echo));
    expect(old.streams).toBe(1);
  });

  it('passes progress through under the client own token', async () => {
    const progress: number[] = [];
    const r = await client.callTool({ name: 'old__slow', arguments: { ms: 20 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(r).toEqual({ content: [{ type: 'text', text: 'slept 20' }] });
    expect(progress).toEqual([1]);
  });

  it('writes a TOOL span for each call, as for Streamable HTTP servers', async () => {
    const span = await eventually(async () => (await gw.spans()).find((s) => s.name === 'tools/call old__echo'));
    expect(span.attributes['openinference.span.kind']).toBe('TOOL');
    expect(span.attributes['tracegate.mcp.server']).toBe('old');
  });

  it('a stall: -32001 for that request, the stream keeps serving', async () => {
    const [stalled] = await Promise.all([callError('old__hang'), echo('meanwhile')]);
    expect(stalled?.code).toBe(-32001);
    expect(stalled?.message).toMatch(/MCP server "old" did not answer within 1000 ms/);
    await echo('after');
  });

  it.each([
    ['old__huge', -32011, /larger than 1048576 bytes/],
    ['old__nonewline', -32011, /larger than 1048576 bytes/],
    ['old__garbage', -32010, /answered with something that is not JSON/],
    ['old__drop', -32010, /SSE stream/],
  ])('%s: a clear error for that request, the stream opened and initialized again', async (tool, code, message) => {
    const streams = old.streams;
    const err = await callError(tool);
    expect(err).toBeInstanceOf(McpError);
    expect(err?.code).toBe(code);
    expect(err?.message).toMatch(message);
    await echo('again');
    expect(old.streams).toBe(streams + 1);
  });

  it('another replica does not hold the session stream: -32020, initialize again', async () => {
    const post = async (url: string, body: unknown, session?: string) => {
      const res = await request(`${url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(session ? { 'mcp-session-id': session } : {}) },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, session: res.headers['mcp-session-id'] as string | undefined, body: (await res.body.text()) as string };
    };
    const init = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    expect(init.status).toBe(200);
    const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'old__echo', arguments: { text: 'x' } } };
    expect((await post(gw.url, call, init.session)).body).toContain('echo: x');
    const elsewhere = await post(replica.url, call, init.session);
    expect(elsewhere.body).toContain('"code":-32020');
    expect(elsewhere.body).toContain('this gateway replica does not hold the session');
  });

  it('refuses an endpoint event on another origin', async () => {
    const url = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/sse`;
    const server = { name: 'elsewhere', transport: 'sse', url, headers: {}, authHeader: 'authorization', timeoutMs: 2000, allowedTools: [], prefix: 'elsewhere' } satisfies McpServerConfig;
    const upstreams = new McpUpstreams();
    const init = { jsonrpc: '2.0' as const, id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    await expect(upstreams.send({ server, message: init, maxBytes: 1024 })).rejects.toThrow(/endpoint on another origin \(http:\/\/203\.0\.113\.7\); refused/);
    await upstreams.close();
  });
});
