/**
 * Real MCP servers for the MCP gateway's tests, made with the official TypeScript SDK and served
 * over Streamable HTTP on 127.0.0.1 (free ports), one SDK transport per session. They record what
 * reached them (trace context in params._meta and in HTTP headers, credentials, cancellations).
 *
 * - weather: get_weather, search (clashes with docs), slow (progress; honours cancellation),
 *   fail (answers isError), huge (a result of `bytes` bytes), hang (never answers), a resource
 *   and a prompt.
 * - docs: a low-level SDK Server whose tools/list pages two tools at a time: search, lookup,
 *   t1..t5; resources by template docs://pages/{id}; prompt summarize.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import type { GatewayConfig } from '../../../gateway/config/model.js';
import type { GatewayDeps } from '../../../gateway/server.js';
import { startGateway, type TestGateway } from '../helpers.js';

export interface Seen {
  /** traceparent of each tools/call's params._meta, in order. */
  metaTraceparents: string[];
  /** HTTP traceparent of each POST. */
  httpTraceparents: string[];
  authorization: (string | undefined)[];
  cancelled: string[];
  deleted: number;
  toolCalls: string[];
}

export interface TestMcpServer {
  name: string;
  url: string;
  seen: Seen;
  close(): Promise<void>;
}

const newSeen = (): Seen => ({ metaTraceparents: [], httpTraceparents: [], authorization: [], cancelled: [], deleted: 0, toolCalls: [] });

/** Serves SDK servers made by `make` over Streamable HTTP, one transport per session. */
async function serve(name: string, make: (seen: Seen) => Server | McpServer): Promise<TestMcpServer> {
  const seen = newSeen();
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      seen.authorization.push(req.headers.authorization);
      if (req.method === 'POST' && typeof req.headers.traceparent === 'string') seen.httpTraceparents.push(req.headers.traceparent);
      const sid = req.headers['mcp-session-id'];
      if (req.method === 'DELETE') seen.deleted++;
      let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (!transport) {
        if (typeof sid === 'string') {
          res.writeHead(404).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
          return;
        }
        const t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, t) });
        t.onclose = () => {
          if (t.sessionId) transports.delete(t.sessionId);
        };
        await make(seen).connect(t);
        transport = t;
      }
      // The transport reads the body itself (a body read here first cannot be handed to it with this @hono/node-server).
      await transport.handleRequest(req, res);
    })().catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    name,
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    close: async () => {
      for (const t of transports.values()) await t.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

export function startWeather(opts: { hugeBytes?: number } = {}): Promise<TestMcpServer> {
  return serve('weather', (seen) => {
    const s = new McpServer({ name: 'weather', version: '1.0.0' }, { capabilities: { logging: {} }, instructions: 'Weather by city.' });
    const meta = (extra: { _meta?: Record<string, unknown> }, tool: string) => {
      seen.toolCalls.push(tool);
      const tp = extra._meta?.traceparent;
      if (typeof tp === 'string') seen.metaTraceparents.push(tp);
    };
    s.registerTool('get_weather', { description: 'Current weather of a city', inputSchema: { city: z.string() } }, async ({ city }, extra) => {
      meta(extra, 'get_weather');
      return text(`${city}: 21°C, sunny`);
    });
    s.registerTool('search', { description: 'Search weather reports', inputSchema: { q: z.string() } }, async ({ q }, extra) => {
      meta(extra, 'search');
      return text(`weather results for ${q}`);
    });
    s.registerTool('slow', { description: 'Counts to `steps`, reporting progress; cancellable', inputSchema: { steps: z.number(), ms: z.number() } }, async ({ steps, ms }, extra) => {
      meta(extra, 'slow');
      for (let i = 1; i <= steps; i++) {
        if (extra.signal.aborted) {
          seen.cancelled.push(String(extra.requestId));
          return text('cancelled');
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, ms);
          const stop = () => {
            clearTimeout(t);
            r();
          };
          extra.signal.addEventListener('abort', stop, { once: true });
        });
        const token = extra._meta?.progressToken;
        if (token !== undefined && !extra.signal.aborted)
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `step ${i}` } });
      }
      if (extra.signal.aborted) seen.cancelled.push(String(extra.requestId));
      // The result a moment after the last progress: the MCP SDK's client handles a notification
      // a microtask after a response read in the same chunk, and by then has forgotten the
      // request's progress token, so a last progress sent right before the result can be dropped
      // by the client (it was in one clean-clone CI run, through the gateway's SSE transport).
      else await new Promise((r) => setTimeout(r, ms));
      return text(`counted to ${steps}`);
    });
    s.registerTool('fail', { description: 'Always fails', inputSchema: {} }, async (_args, extra) => {
      meta(extra, 'fail');
      return { isError: true, content: [{ type: 'text' as const, text: 'the tool failed on purpose' }] };
    });
    s.registerTool('huge', { description: 'A very large result', inputSchema: {} }, async (_args, extra) => {
      meta(extra, 'huge');
      return text('x'.repeat(opts.hugeBytes ?? 1024));
    });
    s.registerTool('hang', { description: 'Never answers', inputSchema: {} }, async (_args, extra) => {
      meta(extra, 'hang');
      return new Promise(() => {});
    });
    s.registerResource('forecast', 'weather://forecast', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'rain tomorrow' }] }));
    s.registerPrompt('brief', { description: 'A weather brief', argsSchema: { city: z.string() } }, ({ city }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Brief me on ${city}` } }],
    }));
    return s;
  });
}

const DOC_TOOLS: Tool[] = ['search', 'lookup', 't1', 't2', 't3', 't4', 't5'].map((n) => ({
  name: n,
  description: `docs ${n}`,
  inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
}));
const DOC_PAGE = 2;

export function startDocs(): Promise<TestMcpServer> {
  return serve('docs', (seen) => {
    const s = new Server({ name: 'docs', version: '1.0.0' }, { capabilities: { tools: {}, resources: {}, prompts: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async (req) => {
      const at = req.params?.cursor ? Number(Buffer.from(req.params.cursor, 'base64url').toString()) : 0;
      if (!Number.isInteger(at)) throw new Error('bad cursor');
      const next = at + DOC_PAGE;
      return { tools: DOC_TOOLS.slice(at, next), ...(next < DOC_TOOLS.length ? { nextCursor: Buffer.from(String(next)).toString('base64url') } : {}) };
    });
    s.setRequestHandler(CallToolRequestSchema, async (req) => {
      seen.toolCalls.push(req.params.name);
      const tp = req.params._meta?.traceparent;
      if (typeof tp === 'string') seen.metaTraceparents.push(tp);
      if (!DOC_TOOLS.some((t) => t.name === req.params.name)) throw new Error(`no tool ${req.params.name}`);
      return text(`docs ${req.params.name}: ${JSON.stringify(req.params.arguments ?? {})}`);
    });
    s.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: [{ uri: 'docs://readme', name: 'readme' }] }));
    s.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: [{ uriTemplate: 'docs://pages/{id}', name: 'page' }] }));
    s.setRequestHandler(ReadResourceRequestSchema, async (req) => ({ contents: [{ uri: req.params.uri, text: `content of ${req.params.uri}` }] }));
    s.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [{ name: 'summarize', description: 'Summarize a page' }] }));
    s.setRequestHandler(GetPromptRequestSchema, async (req) => ({ messages: [{ role: 'user', content: { type: 'text', text: `summarize ${JSON.stringify(req.params.arguments ?? {})}` } }] }));
    return s;
  });
}

/** McpServer documents for servers started here. */
export function mcpServerDoc(name: string, url: string, extra = ''): string {
  return `kind: McpServer\nmetadata: { name: ${name} }\nspec:\n  url: "${url}"\n${extra}`;
}

export interface McpFixture {
  weather: TestMcpServer;
  docs: TestMcpServer;
  gw: TestGateway;
}

/**
 * Both servers and a gateway in front of them for a file's tests (started in beforeAll, closed in
 * afterAll); `configFor` gets the servers' URLs.
 */
export function useMcpGateway(configFor: (weatherUrl: string, docsUrl: string) => GatewayConfig, deps: GatewayDeps = {}): McpFixture {
  const fx = {} as McpFixture;
  beforeAll(async () => {
    fx.weather = await startWeather();
    fx.docs = await startDocs();
    fx.gw = await startGateway(configFor(fx.weather.url, fx.docs.url), deps);
  });
  afterAll(async () => {
    await fx.gw?.close();
    await fx.weather?.close();
    await fx.docs?.close();
  });
  return fx;
}
