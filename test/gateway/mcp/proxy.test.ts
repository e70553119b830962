/**
 * The MCP gateway with the official SDK on both sides: two real MCP servers on loopback, an SDK
 * client through tracegate over Streamable HTTP and over the HTTP+SSE transport. Lists merged
 * (clashing names prefixed), pages exact, calls, resources, prompts and completions routed,
 * progress passed through, cancellation reaching the server.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, docs } from '../helpers.js';
import { mcpServerDoc, useMcpGateway } from './servers.js';

const fx = useMcpGateway((weather, docsUrl) => config(docs('kind: Gateway\nmetadata: { name: gw }\nspec:\n  mcp: { pageSize: 4 }', mcpServerDoc('weather', weather), mcpServerDoc('docs', docsUrl))));

type Transport = 'streamable' | 'sse';

async function connect(kind: Transport): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  const transport = kind === 'streamable' ? new StreamableHTTPClientTransport(new URL(`${fx.gw.url}/mcp`)) : new SSEClientTransport(new URL(`${fx.gw.url}/mcp/sse`));
  await client.connect(transport);
  return client;
}

/** Every page of tools/list, as the client pages them. */
async function allTools(client: Client): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    pages++;
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  return { names, pages };
}

describe.each<Transport>(['streamable', 'sse'])('through tracegate over %s', (kind) => {
  let client: Client;
  beforeAll(async () => {
    client = await connect(kind);
  });
  afterAll(async () => {
    await client?.close();
  });

  it('initializes as one server with the union of capabilities', () => {
    expect(client.getServerVersion()?.name).toBe('tracegate');
    const caps = client.getServerCapabilities();
    expect(caps?.tools).toBeDefined();
    expect(caps?.resources).toBeDefined();
    expect(caps?.prompts).toBeDefined();
    expect(client.getInstructions()).toContain('weather: Weather by city.');
  });

  it('merges tools/list of both servers, prefixing the clashing name, and pages it exactly', async () => {
    const { names, pages } = await allTools(client);
    // weather: 7 tools; docs: 7 tools over 4 pages of its own; "search" is on both.
    expect(names).toEqual(['get_weather', 'weather__search', 'slow', 'fail', 'huge', 'hang', 'docs__search', 'lookup', 't1', 't2', 't3', 't4', 't5']);
    expect(pages).toBe(4); // 13 tools at pageSize 4
    expect(new Set(names).size).toBe(names.length);
  });

  it('routes tools/call to the server that owns the tool, by its own name', async () => {
    expect(await client.callTool({ name: 'get_weather', arguments: { city: 'Lyon' } })).toEqual({ content: [{ type: 'text', text: 'Lyon: 21°C, sunny' }] });
    expect(await client.callTool({ name: 'weather__search', arguments: { q: 'rain' } })).toEqual({ content: [{ type: 'text', text: 'weather results for rain' }] });
    expect(await client.callTool({ name: 'docs__search', arguments: { q: 'api' } })).toEqual({ content: [{ type: 'text', text: 'docs search: {"q":"api"}' }] });
    expect(await client.callTool({ name: 't5', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'docs t5: {}' }] });
  });

  it('passes a tool error (isError) through as the tool answered it', async () => {
    const r = await client.callTool({ name: 'fail', arguments: {} });
    expect(r).toEqual({ isError: true, content: [{ type: 'text', text: 'the tool failed on purpose' }] });
  });

  it('answers an unknown tool with -32602, and an unknown cursor with -32602', async () => {
    const unknown = await client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(McpError);
    expect((unknown as McpError).code).toBe(-32602);
    expect((unknown as McpError).message).toContain('Unknown tool: no_such_tool');
    const bad = await client.listTools({ cursor: 'not-a-cursor' }).catch((e: unknown) => e);
    expect((bad as McpError).code).toBe(-32602);
    expect((bad as McpError).message).toContain('Invalid cursor');
  });

  it('merges resources and templates and routes reads by URI (listed or by template)', async () => {
    const res = await client.listResources();
    expect(res.resources.map((r) => r.uri)).toEqual(['weather://forecast', 'docs://readme']);
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual(['docs://pages/{id}']);
    expect((await client.readResource({ uri: 'weather://forecast' })).contents).toEqual([{ uri: 'weather://forecast', text: 'rain tomorrow' }]);
    expect((await client.readResource({ uri: 'docs://pages/42' })).contents).toEqual([{ uri: 'docs://pages/42', text: 'content of docs://pages/42' }]);
    const missing = await client.readResource({ uri: 'nowhere://x' }).catch((e: unknown) => e);
    expect((missing as McpError).code).toBe(-32002);
  });

  it('merges prompts and routes prompts/get', async () => {
    const prompts = await client.listPrompts();
    expect(prompts.prompts.map((p) => p.name)).toEqual(['brief', 'summarize']);
    const got = await client.getPrompt({ name: 'brief', arguments: { city: 'Oslo' } });
    expect(got.messages[0].content).toEqual({ type: 'text', text: 'Brief me on Oslo' });
    const sum = await client.getPrompt({ name: 'summarize', arguments: { page: '3' } });
    expect(sum.messages[0].content).toEqual({ type: 'text', text: 'summarize {"page":"3"}' });
  });

  it('passes progress notifications through while the tool runs', async () => {
    const progress: number[] = [];
    const r = await client.callTool({ name: 'slow', arguments: { steps: 3, ms: 20 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(r).toEqual({ content: [{ type: 'text', text: 'counted to 3' }] });
    expect(progress).toEqual([1, 2, 3]);
  });

  it('carries a cancellation to the server running the call', async () => {
    const before = fx.weather.seen.cancelled.length;
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: { steps: 50, ms: 100 } }, undefined, { signal: abort.signal, onprogress: () => abort.abort('enough') });
    await expect(call).rejects.toThrow();
    const until = Date.now() + 5000;
    while (fx.weather.seen.cancelled.length === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(fx.weather.seen.cancelled.length).toBe(before + 1);
    // The session goes on serving after a cancellation.
    expect(await client.callTool({ name: 'get_weather', arguments: { city: 'Rome' } })).toEqual({ content: [{ type: 'text', text: 'Rome: 21°C, sunny' }] });
  });

  it('answers ping', async () => {
    expect(await client.ping()).toEqual({});
  });
});

describe('sessions', () => {
  it("ends the servers' sessions when the client ends its own (DELETE /mcp)", async () => {
    await new Promise((r) => setTimeout(r, 300)); // the SSE clients' sessions end as their streams close
    const before = fx.weather.seen.deleted + fx.docs.seen.deleted;
    const client = await connect('streamable');
    await client.listTools();
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    expect(fx.weather.seen.deleted + fx.docs.seen.deleted).toBe(before + 2);
    await client.close();
  });
});
