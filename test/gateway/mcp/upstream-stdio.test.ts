/**
 * A stdio MCP server (the SDK's StdioServerTransport, fixtures/stdio-server.ts) behind tracegate,
 * reached by the SDK client over Streamable HTTP at /mcp: listed, called, traced as TOOL spans;
 * its env secrets reach it and the gateway's own environment does not. A process that prints
 * garbage, exits mid-request or floods stdout fails that request with a clear error and is started
 * again; the gateway stops it when it closes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../gateway/config/load.js';
import type { McpServerConfig } from '../../../gateway/config/model.js';
import { McpUpstreams } from '../../../gateway/mcp/upstream.js';
import { config, docs, eventually, startGateway, type TestGateway } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/stdio-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tracegate-stdio-'));
const starts = join(dir, 'starts');
const events = join(dir, 'events');

let gw: TestGateway;
let client: Client;

const startsSoFar = () => {
  try {
    return readFileSync(starts, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ENV = { STDIO_TEST_SECRET: 's3cret' };
const gatewayDoc = (...servers: string[]) => docs('kind: Gateway\nmetadata: { name: gw }\nspec:\n  mcp: { toolNames: alwaysPrefix, maxResponseBytes: 1mb }\n  allowEmpty: true', ...servers);
let serverDoc = '';

beforeAll(async () => {
  process.env.GATEWAY_ONLY = 'provider key of the gateway';
  const server = [
    'kind: McpServer',
    'metadata: { name: local }',
    'spec:',
    '  transport: stdio',
    `  command: ${JSON.stringify(process.execPath)}`,
    `  args: ["--import", "tsx", ${JSON.stringify(FIXTURE)}]`,
    `  cwd: ${JSON.stringify(ROOT)}`,
    `  env: { STDIO_STARTS: ${JSON.stringify(starts)}, STDIO_EVENTS: ${JSON.stringify(events)}, STDIO_SECRET: { env: STDIO_TEST_SECRET } }`,
    '  timeout: 10s',
  ].join('\n');
  serverDoc = server;
  gw = await startGateway(config(gatewayDoc(server), ENV));
  client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
}, 60_000);

afterAll(async () => {
  delete process.env.GATEWAY_ONLY;
  await client?.close();
  await gw?.close();
});

const callError = (name: string) =>
  client.callTool({ name, arguments: {} }).then(
    () => undefined,
    (e: unknown) => e as McpError,
  );

describe('a stdio MCP server through tracegate', () => {
  it('lists its tools under its prefix and calls them; one process, started at first use', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['local__echo', 'local__env', 'local__slow', 'local__wait', 'local__garbage', 'local__exit', 'local__flood']);
    expect(await client.callTool({ name: 'local__echo', arguments: { text: 'hi' } })).toEqual({ content: [{ type: 'text', text: 'echo: hi' }] });
    expect(startsSoFar()).toHaveLength(1);
  });

  it('gives it the env of its document (secrets resolved), not the gateway environment', async () => {
    expect(await client.callTool({ name: 'local__env', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'secret set; gateway env absent' }] });
  });

  it('passes progress through under the client own token', async () => {
    const progress: number[] = [];
    const r = await client.callTool({ name: 'local__slow', arguments: { ms: 50 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(r).toEqual({ content: [{ type: 'text', text: 'slept 50' }] });
    expect(progress).toEqual([1]);
  });

  it('writes a TOOL span for each call, as for HTTP servers', async () => {
    const span = await eventually(async () => (await gw.spans()).find((s) => s.name === 'tools/call local__echo'));
    expect(span.attributes['openinference.span.kind']).toBe('TOOL');
    expect(span.attributes['gen_ai.operation.name']).toBe('execute_tool');
    expect(span.attributes['tracegate.mcp.server']).toBe('local');
  });

  it('passes a client cancellation on to the process, under the id the request went out with', async () => {
    const abort = new AbortController();
    const call = client.callTool({ name: 'local__wait', arguments: {} }, undefined, { signal: abort.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    abort.abort('enough');
    await call;
    const line = await eventually(() => {
      try {
        return readFileSync(events, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    }, 5000);
    expect(line).toMatch(/^cancelled tg-\w+$/);
  });

  it('answers a command that cannot be started with a clear error', async () => {
    const server = {
      name: 'missing',
      transport: 'stdio',
      url: 'stdio:/nonexistent/mcp',
      stdio: { command: '/nonexistent/mcp', args: [] },
      headers: {},
      authHeader: 'authorization',
      timeoutMs: 2000,
      allowedTools: [],
      prefix: 'missing',
    } satisfies McpServerConfig;
    const upstreams = new McpUpstreams();
    const init = { jsonrpc: '2.0' as const, id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    await expect(upstreams.send({ server, message: init, maxBytes: 1024 })).rejects.toThrow('MCP server "missing" could not be started (ENOENT)');
    await upstreams.close();
  });

  it.each([
    ['local__garbage', -32010, /not JSON/],
    ['local__exit', -32010, /exited/],
    ['local__flood', -32011, /maxResponseBytes/],
  ])(
    '%s: a clear error for that request, the process started again, the gateway fine',
    async (tool, code, message) => {
      const before = startsSoFar().length;
      const err = await callError(tool);
      expect(err).toBeInstanceOf(McpError);
      expect(err?.code).toBe(code);
      expect(err?.message).toMatch(message);
      expect(err?.message).toContain('MCP server "local"');
      expect(await client.callTool({ name: 'local__echo', arguments: { text: 'again' } })).toEqual({ content: [{ type: 'text', text: 'echo: again' }] });
      expect(startsSoFar().length).toBe(before + 1);
      expect(
        startsSoFar()
          .slice(0, -1)
          .every((pid) => !alive(pid)),
      ).toBe(true);
    },
    30_000,
  );

  it('stops the process when a reload removes its McpServer, and starts it again when one adds it back', async () => {
    const pid = startsSoFar().at(-1) as number;
    expect(alive(pid)).toBe(true);
    expect(gw.gw.reload(parseConfig(gatewayDoc(), { env: ENV }))).toBe(true);
    await eventually(() => !alive(pid) || undefined, 5000);
    expect(gw.gw.reload(parseConfig(gatewayDoc(serverDoc), { env: ENV }))).toBe(true);
    await client.close();
    client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
    await client.callTool({ name: 'local__echo', arguments: { text: 'back' } });
    expect(startsSoFar().at(-1)).not.toBe(pid);
  }, 30_000);

  it('stops the process when the gateway closes', async () => {
    const pid = startsSoFar().at(-1) as number;
    expect(alive(pid)).toBe(true);
    await client.close();
    await gw.close();
    await eventually(() => !alive(pid) || undefined, 5000);
  });
});
