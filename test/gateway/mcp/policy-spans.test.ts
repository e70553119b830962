/**
 * Keys at /mcp and the spans of MCP requests, with the SDK client: 401 without a key, allowed
 * servers and tools (globs) as 403, tool calls per minute as 429, a session useless to another
 * key; each request a span in OpenInference TOOL and OpenTelemetry MCP terms, continuing the
 * caller's trace from params._meta.traceparent or the HTTP traceparent, and passing the gateway's
 * own context on to the MCP server in both places.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { generateKey, hashKey } from '../../../gateway/policy/keys.js';
import { config, docs, eventually } from '../helpers.js';
import { mcpServerDoc, useMcpGateway } from './servers.js';

const PEPPER = 'pepper-for-mcp-tests-0123456789abcdef';
const KEYS = { all: generateKey(), weatherOnly: generateKey(), getOnly: generateKey(), limited: generateKey() };
const apiKey = (name: string, key: string, extra = '') => `kind: ApiKey\nmetadata: { name: ${name} }\nspec:\n  hash: ${hashKey(key, PEPPER)}\n${extra}`;

const fx = useMcpGateway(
  (weatherUrl, docsUrl) =>
    config(
      docs(
        'kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { agentSessions: { enabled: false } }',
        mcpServerDoc('weather', weatherUrl, '  apiKey: { env: WEATHER_TOKEN }'),
        mcpServerDoc('docs', docsUrl, '  allowedTools: ["t*", "search"]'),
        apiKey('all', KEYS.all),
        apiKey('weather-only', KEYS.weatherOnly, '  allowedMcpServers: [weather]'),
        apiKey('get-only', KEYS.getOnly, '  allowedTools: ["get_*", "docs/t1"]'),
        apiKey('limited', KEYS.limited, '  limits: { toolCallsPerMinute: 2 }'),
      ),
      { WEATHER_TOKEN: 'wt-secret' },
    ),
  { keyPepper: PEPPER },
);

async function connect(key: string, headers: Record<string, string> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'policy-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${fx.gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}`, ...headers } } });
  await client.connect(transport);
  return { client, transport };
}

const post = async (body: unknown, headers: Record<string, string>) => {
  const res = await request(`${fx.gw.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(await res.body.text()) };
};

describe('keys', () => {
  it('answers 401 in JSON-RPC form without a valid key', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const none = await post(init, {});
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32030 } });
    const bad = await post(init, { authorization: `Bearer ${generateKey()}` });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toBe('the API key sent is not valid for this gateway');
  });

  it('lists and serves only the servers a key may use; a prefixed tool of another server is a 403', async () => {
    const { client } = await connect(KEYS.weatherOnly);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['get_weather', 'search', 'slow', 'fail', 'huge', 'hang']); // docs is not in its session: no clash, no prefix
    await expect(client.callTool({ name: 'docs__search', arguments: {} })).rejects.toThrow('MCP error -32031: the API key "weather-only" may not use the MCP server "docs"');
    await client.close();
  });

  it("applies allowed-tool globs (by listed name or server/tool) and the McpServer's own allowedTools", async () => {
    const { client } = await connect(KEYS.getOnly);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['get_weather', 't1']);
    expect(await client.callTool({ name: 't1', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'docs t1: {}' }] });
    await expect(client.callTool({ name: 't2', arguments: {} })).rejects.toThrow('MCP error -32031: the API key "get-only" may not use the tool "t2"');
    await client.close();
    const all = await connect(KEYS.all);
    // docs' allowedTools (t*, search) hides lookup from every key.
    expect((await all.client.listTools()).tools.map((t) => t.name)).not.toContain('lookup');
    await all.client.close();
  });

  it('limits tool calls per minute per key with a 429 and Retry-After', async () => {
    const { client, transport } = await connect(KEYS.limited);
    await client.callTool({ name: 'get_weather', arguments: { city: 'A' } });
    await client.callTool({ name: 'get_weather', arguments: { city: 'B' } });
    const third = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get_weather', arguments: { city: 'C' } } },
      { authorization: `Bearer ${KEYS.limited}`, 'mcp-session-id': transport.sessionId as string, 'mcp-protocol-version': '2025-06-18' },
    );
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(third.body).toMatchObject({ id: 3, error: { code: -32029, data: { limit: 'toolCallsPerMinute', scope: 'key' } } });
    expect(third.body.error.message).toContain('limit 2');
    // Listing is not a tool call.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });

  it('keeps a session to the key that opened it', async () => {
    const { client, transport } = await connect(KEYS.all);
    const stolen = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${KEYS.weatherOnly}`, 'mcp-session-id': transport.sessionId as string });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.message).toContain('belongs to another API key');
    await client.close();
  });

  it("over HTTP+SSE too: the key on the stream and on each POST, another key's POST refused", async () => {
    const client = new Client({ name: 'sse', version: '1' });
    const transport = new SSEClientTransport(new URL(`${fx.gw.url}/mcp/sse`), {
      requestInit: { headers: { authorization: `Bearer ${KEYS.getOnly}` } },
      eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${KEYS.getOnly}` } }) },
    });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['get_weather', 't1']);
    const endpoint = (transport as unknown as { _endpoint: URL })._endpoint;
    const stolen = await request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.all}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(stolen.statusCode).toBe(404);
    await stolen.body.dump();
    const none = await request(`${fx.gw.url}/mcp/sse`, { headers: { accept: 'text/event-stream' } });
    expect(none.statusCode).toBe(401);
    await none.body.dump();
    await client.close();
  });

  it("sends the McpServer's credential from its secret, never the client's key", () => {
    expect(fx.weather.seen.authorization.length).toBeGreaterThan(0);
    expect(new Set(fx.weather.seen.authorization)).toEqual(new Set(['Bearer wt-secret']));
    expect(fx.docs.seen.authorization.every((a) => a === undefined)).toBe(true);
  });
});

describe('spans', () => {
  const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const CALLER_SPAN = '00f067aa0ba902b7';

  it('a tools/call span in both conventions, continuing params._meta.traceparent, its context passed on to the server', async () => {
    const { client, transport } = await connect(KEYS.all);
    await client.callTool({ name: 'get_weather', arguments: { city: 'Oslo' }, _meta: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    const span = await eventually(async () => (await fx.gw.spans()).find((s) => s.name === 'tools/call get_weather' && s.spanContext().traceId === CALLER_TRACE));
    const a = span.attributes;
    expect(span.spanContext().traceId).toBe(CALLER_TRACE);
    expect(span.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(a).toMatchObject({
      'openinference.span.kind': 'TOOL',
      'tool.name': 'get_weather',
      'tool.description': 'Current weather of a city',
      'input.value': '{"city":"Oslo"}',
      'input.mime_type': 'application/json',
      'output.value': '{"content":[{"type":"text","text":"Oslo: 21°C, sunny"}]}',
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': '2025-11-25', // the SDK client's version, which both servers speak
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'get_weather',
      'tracegate.mcp.server': 'weather',
      'tracegate.backend': 'weather',
      'tracegate.key': 'all',
      'tracegate.origin': 'gateway',
    });
    expect(JSON.parse(a['tool.parameters'] as string)).toMatchObject({ type: 'object', properties: { city: { type: 'string' } } });
    expect(typeof a['jsonrpc.request.id']).toBe('string');
    expect(a['mcp.session.id']).toMatch(/^[0-9a-f]{32}$/);
    expect(a['mcp.session.id']).not.toBe(transport.sessionId); // the public id, never the sealed token
    const own = `00-${CALLER_TRACE}-${span.spanContext().spanId}-01`;
    expect(fx.weather.seen.metaTraceparents.at(-1)).toBe(own);
    expect(fx.weather.seen.httpTraceparents.at(-1)).toBe(own);
    await client.close();
  });

  it('continues the HTTP traceparent when params._meta has none; a tool error is error.type=tool_error', async () => {
    const trace = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
    const { client } = await connect(KEYS.all, { traceparent: `00-${trace}-bbbbbbbbbbbbbbb1-01` });
    await client.callTool({ name: 'fail', arguments: {} });
    const span = await eventually(async () => (await fx.gw.spans()).find((s) => s.name === 'tools/call fail' && s.spanContext().traceId === trace));
    expect(span.parentSpanContext?.spanId).toBe('bbbbbbbbbbbbbbb1');
    expect(span.attributes['error.type']).toBe('tool_error');
    expect(span.status.code).toBe(2);
    const list = (await fx.gw.spans()).find((s) => s.name === 'tools/list' && s.spanContext().traceId === trace);
    expect(list?.attributes['openinference.span.kind']).toBeUndefined(); // only tool calls are TOOL steps
    await client.close();
  });

  it('a JSON-RPC error is rpc.response.status_code and error.type', async () => {
    const { client } = await connect(KEYS.all);
    await client.callTool({ name: 'nope', arguments: {} }).catch(() => undefined);
    const span = await eventually(async () => (await fx.gw.spans()).find((s) => s.name === 'tools/call nope'));
    expect(span.attributes['rpc.response.status_code']).toBe('-32602');
    expect(span.attributes['error.type']).toBe('-32602');
    await client.close();
  });

  it('counts requests and their duration by server, method and tool on /metrics', async () => {
    const res = await request(`${fx.gw.url}/metrics`);
    const text = await res.body.text();
    expect(text).toMatch(/tracegate_gateway_mcp_requests_total\{server="weather",mcp_method_name="tools\/call",gen_ai_tool_name="weather\/get_weather",outcome="ok"\} \d+/);
    expect(text).toMatch(/tracegate_gateway_mcp_requests_total\{server="weather",mcp_method_name="tools\/call",gen_ai_tool_name="weather\/fail",outcome="tool_error"\} 1/);
    expect(text).toMatch(/mcp_server_operation_duration_count\{server="weather",mcp_method_name="tools\/call",gen_ai_tool_name="weather\/get_weather"\} \d+/);
    expect(text).toMatch(/tracegate_gateway_mcp_requests_total\{outcome="unauthenticated"\} 3/);
  });
});
