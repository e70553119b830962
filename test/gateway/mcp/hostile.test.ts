/**
 * Bad input at /mcp, from clients and from MCP servers: every case is answered with a JSON-RPC
 * error that says what was wrong, the gateway keeps serving, and the session keeps working.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, docs, startGateway, type TestGateway } from '../helpers.js';
import { mcpServerDoc, startWeather, type TestMcpServer } from './servers.js';

let weather: TestMcpServer;
let garbage: Server;
let gw: TestGateway;
let session: string;

/** A server that initializes, then answers tools/list with what `mode` says. */
function startGarbage(): Promise<Server> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = JSON.parse(body || '{}');
      if (m.method === 'initialize') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'g1' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'g', version: '1' } } }));
      } else if (m.method === 'tools/list') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: {
              tools: [
                { name: 'junk', inputSchema: { type: 'object' } },
                { name: 'dies', inputSchema: { type: 'object' } },
                { name: 'deep', inputSchema: { type: 'object' } },
                { name: 'proto', inputSchema: { type: 'object' } },
              ],
            },
          }),
        );
      } else if (m.method === 'tools/call' && m.params?.name === 'dies') {
        // An SSE answer that stops mid-stream.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n');
        setTimeout(() => res.destroy(), 20);
      } else if (m.method === 'tools/call' && m.params?.name === 'deep') {
        const result = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":${result}}`);
      } else if (m.method === 'tools/call' && m.params?.name === 'proto') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":{"content":[],"__proto__":{"isAdmin":true}}}`);
      } else if (m.method === 'tools/call') res.writeHead(200, { 'content-type': 'application/json' }).end('{"this is": not json');
      else res.writeHead(202).end();
    });
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}

beforeAll(async () => {
  weather = await startWeather({ hugeBytes: 3 * 1024 * 1024 });
  garbage = await startGarbage();
  const g = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}/mcp`;
  gw = await startGateway(
    config(
      docs(
        'kind: Gateway\nmetadata: { name: gw }\nspec:\n  mcp: { maxMessageBytes: 64kb, maxBatch: 4, maxResponseBytes: 1mb }',
        mcpServerDoc('weather', weather.url, '  timeout: 500ms'),
        mcpServerDoc('garbage', g),
      ),
    ),
  );
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  expect(init.status).toBe(200);
  session = init.session as string;
});

afterAll(async () => {
  await gw?.close();
  await weather?.close();
  garbage?.closeAllConnections();
  await new Promise((r) => garbage?.close(r));
});

async function post(body: unknown, headers: Record<string, string> = {}, raw?: string) {
  const res = await request(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(session ? { 'mcp-session-id': session } : {}), ...headers },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, session: res.headers['mcp-session-id'], headers: res.headers };
}

const call = (name: string, args: Record<string, unknown> = {}, id: number | string = 9) => post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('client input', () => {
  it('refuses a body that is not JSON with -32700 (HTTP 400)', async () => {
    const r = await post(undefined, {}, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect(r.body.error.message).toMatch(/^Parse error/);
  });

  it('refuses JSON nested past the limit with -32700', async () => {
    const r = await post(undefined, {}, `${'['.repeat(500)}${']'.repeat(500)}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(-32700);
  });

  it('answers malformed JSON-RPC messages with -32600, echoing a usable id', async () => {
    expect((await post({ jsonrpc: '1.0', id: 3, method: 'ping' })).body).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32600, message: '"jsonrpc" must be "2.0"' } });
    expect((await post({ jsonrpc: '2.0', id: 4, method: 42 })).body.error.code).toBe(-32600);
    expect((await post({ jsonrpc: '2.0', id: null, method: 'tools/list' })).body).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: [1, 2] })).body).toMatchObject({ id: 5, error: { code: -32600, message: '"params" must be an object in MCP' } });
    expect((await post('just a string')).body.error.code).toBe(-32600);
  });

  it('answers an unknown method with -32601 and an unknown tool with -32602', async () => {
    expect((await post({ jsonrpc: '2.0', id: 6, method: 'tools/explode' })).body).toEqual({ jsonrpc: '2.0', id: 6, error: { code: -32601, message: 'Method not found: tools/explode' } });
    expect((await call('no_such_tool')).body).toEqual({ jsonrpc: '2.0', id: 9, error: { code: -32602, message: 'Unknown tool: no_such_tool' } });
    expect((await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get_weather', arguments: 'Paris' } })).body.error.code).toBe(-32602);
  });

  it('refuses a message over gateway.mcp.maxMessageBytes with 413 and -32040', async () => {
    const r = await call('get_weather', { city: 'x'.repeat(100 * 1024) });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe(-32040);
    expect(r.body.error.message).toContain('gateway.mcp.maxMessageBytes');
  });

  it('refuses a body past the route limit (64 MiB headroom is not a way around it)', async () => {
    const r = await post(undefined, {}, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'y'.repeat(2 * 1024 * 1024) } }));
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe(-32040);
  });

  it('bounds batches: empty is -32600, more than maxBatch is one 413, initialize inside is refused, the rest answered in order', async () => {
    expect((await post([])).body).toMatchObject({ id: null, error: { code: -32600 } });
    const many = await post(Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));
    expect(many.status).toBe(413);
    expect(many.body.error.message).toContain('at most 4');
    const mixed = await post([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', id: 'b', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'get_weather', arguments: { city: 'Bern' } } },
    ]);
    expect(mixed.status).toBe(200);
    expect(mixed.body).toEqual([
      { jsonrpc: '2.0', id: 'a', result: {} },
      { jsonrpc: '2.0', id: 'b', error: { code: -32600, message: 'initialize must be sent alone, not in a batch' } },
      { jsonrpc: '2.0', id: 'c', result: { content: [{ type: 'text', text: 'Bern: 21°C, sunny' }] } },
    ]);
  });

  it('answers without a session 400, with a forged or unknown one 404 (initialize again)', async () => {
    const none = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': '' });
    expect(none.status).toBe(400);
    const forged = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': `${session.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(404);
    expect(forged.body.error.code).toBe(-32020);
  });
});

describe('MCP server answers', () => {
  it('cuts a huge tool result at maxResponseBytes with -32011', async () => {
    const r = await call('huge');
    expect(r.body.error.code).toBe(-32011);
    expect(r.body.error.message).toBe('MCP server "weather" sent an event larger than 1048576 bytes (gateway.mcp.maxResponseBytes)');
  });

  it('times out a server that never answers (-32001) within the McpServer timeout', async () => {
    const t0 = Date.now();
    const r = await call('hang');
    expect(r.body.error).toEqual({ code: -32001, message: 'MCP server "weather" did not answer within 500 ms', data: { server: 'weather' } });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('refuses garbage and a stream that dies before its answer (-32010)', async () => {
    expect((await call('junk')).body.error).toEqual({ code: -32010, message: 'MCP server "garbage" answered with something that is not JSON', data: { server: 'garbage' } });
    const died = await call('dies');
    expect(died.body.error.code).toBe(-32010);
  });

  it('says that an answer nested too deep or with a prototype key is refused, and where (-32010), not that it is not JSON', async () => {
    const deep = (await call('deep')).body.error;
    expect(deep.code).toBe(-32010);
    expect(deep.message).toBe(
      `MCP server "garbage" answered with JSON the gateway refuses: the upstream answer nests deeper than 128 levels at $.result${'.a'.repeat(7)}… (character ${33 + 5 * 127}), deeper than the gateway passes on`,
    );
    const proto = (await call('proto')).body.error;
    expect(proto).toEqual({
      code: -32010,
      message:
        'MCP server "garbage" answered with JSON the gateway refuses: the upstream answer has a forbidden key "__proto__" at $.result.__proto__; keys that reach an object prototype are refused',
      data: { server: 'garbage' },
    });
  });

  it('keeps serving the session and the gateway after all of it', async () => {
    expect((await call('get_weather', { city: 'Kyiv' })).body.result).toEqual({ content: [{ type: 'text', text: 'Kyiv: 21°C, sunny' }] });
    const health = await request(`${gw.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });
});

describe('closing', () => {
  it('ends open HTTP+SSE streams instead of waiting for them', async () => {
    const other = await startGateway(config(docs(mcpServerDoc('weather', weather.url))));
    const res = await request(`${other.url}/mcp/sse`, { headers: { accept: 'text/event-stream' } });
    expect(res.statusCode).toBe(200);
    const ended = res.body.text();
    const t0 = Date.now();
    await other.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await ended).toContain('event: endpoint');
  });
});
