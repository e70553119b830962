/**
 * How the gateway's AGENT span of an uninstrumented agent ends: after `idle` without a call
 * (at its last call's end, not when found idle), so the next call of the session is a new run
 * in a new trace; a call that carries trace context opens no run.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { config, docs, eventually } from '../helpers.js';
import { mcpServerDoc, useMcpGateway } from './servers.js';

const fx = useMcpGateway((weather) => config(docs('kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { agentSessions: { idle: 300ms } }', mcpServerDoc('weather', weather))));

const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;

async function agent(headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'idle-agent', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${fx.gw.url}/mcp`), { requestInit: { headers } }));
  return client;
}

describe('agent runs the gateway opens', () => {
  it("end after the idle time, at the last call's end; the session's next call is a new run", async () => {
    const client = await agent({ 'x-session-id': 'idle-1' });
    await client.callTool({ name: 'get_weather', arguments: { city: 'Graz' } });
    const agentSpan = await eventually(async () => (await fx.gw.spans()).find((s) => s.attributes['openinference.span.kind'] === 'AGENT' && s.attributes['session.id'] === 'idle-1'), 5000);
    expect(agentSpan.attributes['tracegate.agent.ended_by']).toBe('idle');
    const trace = agentSpan.spanContext().traceId;
    const children = (await fx.gw.spans()).filter((s) => s.parentSpanContext?.spanId === agentSpan.spanContext().spanId);
    expect(children.map((s) => s.name).sort()).toEqual(['initialize', 'tools/call get_weather']);
    const lastEnd = Math.max(...children.map((s) => ms(s.endTime)));
    expect(ms(agentSpan.endTime)).toBeGreaterThanOrEqual(lastEnd);
    expect(ms(agentSpan.endTime) - lastEnd).toBeLessThan(100); // not the moment the sweep found it idle (300 ms later)
    expect(agentSpan.attributes['tracegate.agent.steps']).toBe(children.length);

    await client.callTool({ name: 'get_weather', arguments: { city: 'Linz' } });
    const next = await eventually(
      async () => (await fx.gw.spans()).find((s) => s.name === 'tools/call get_weather' && s.attributes['session.id'] === 'idle-1' && s.spanContext().traceId !== trace),
      5000,
    );
    expect(next.parentSpanContext).toBeDefined();
    await client.close();
  });

  it('without a session header, the MCP session is the run: initialize included', async () => {
    const client = await agent({});
    await client.callTool({ name: 'get_weather', arguments: { city: 'Ulm' } });
    const tool = await eventually(async () =>
      (await fx.gw.spans()).find((s) => s.name === 'tools/call get_weather' && s.attributes['tracegate.key'] === undefined && (s.attributes['input.value'] as string)?.includes('Ulm')),
    );
    const session = tool.attributes['mcp.session.id'];
    const init = (await fx.gw.spans()).find((s) => s.name === 'initialize' && s.attributes['mcp.session.id'] === session);
    expect(init?.spanContext().traceId).toBe(tool.spanContext().traceId);
    expect(init?.parentSpanContext?.spanId).toBe(tool.parentSpanContext?.spanId);
    expect(tool.attributes['session.id']).toBe(session);
    await client.close();
  });

  it('a call with trace context opens no run', async () => {
    const client = await agent({ 'x-session-id': 'traced-1', traceparent: '00-cccccccccccccccccccccccccccccccc-dddddddddddddddd-01' });
    await client.callTool({ name: 'get_weather', arguments: { city: 'Wels' } });
    await new Promise((r) => setTimeout(r, 500));
    const spans: ReadableSpan[] = await fx.gw.spans();
    expect(spans.find((s) => s.attributes['openinference.span.kind'] === 'AGENT' && s.attributes['session.id'] === 'traced-1')).toBeUndefined();
    const tool = spans.find((s) => s.name === 'tools/call get_weather' && s.spanContext().traceId === 'cccccccccccccccccccccccccccccccc');
    expect(tool?.parentSpanContext?.spanId).toBe('dddddddddddddddd');
    await client.close();
  });
});
