/**
 * An agent loop through tracegate, stored in the real embedded ClickHouse: the openai SDK asks a
 * model (an OpenAI stand-in) through /v1/chat/completions, the model chooses a tool, the MCP SDK
 * calls it through /mcp, the model answers. The agent carries no instrumentation and no trace
 * context, only the session header on both clients: the gateway opens the session's AGENT span,
 * puts both model calls and the tool call under it, and ends it when the MCP session is closed;
 * agent_runs shows one run with 2 LLM calls and 1 tool call.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { refreshRollups } from '../../../schemas/rollups.js';
import { useAgentStack } from './agent-stack.js';

const fx = useAgentStack(', agentSessions: { idle: 60s }');

/** The agent: model, tool, model; session header on every request, no traceparent anywhere. */
async function runAgent(session: string): Promise<string> {
  const headers = { 'x-session-id': session, 'x-agent-name': 'weather-bot' };
  const openai = new OpenAI({ baseURL: `${fx.url}/v1`, apiKey: 'unused', defaultHeaders: headers, maxRetries: 0 });
  const mcp = new Client({ name: 'weather-bot', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${fx.url}/mcp`), { requestInit: { headers } });
  await mcp.connect(transport);
  const tools = (await mcp.listTools()).tools.map((t) => ({ type: 'function' as const, function: { name: t.name, description: t.description, parameters: t.inputSchema } }));
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Lyon?' }];
  const first = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools });
  const call = first.choices[0].message.tool_calls?.[0];
  if (call?.type !== 'function') throw new Error('the model chose no tool');
  const result = await mcp.callTool({ name: call.function.name, arguments: JSON.parse(call.function.arguments) });
  messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result.content) });
  const second = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
  await transport.terminateSession(); // the run ends with the MCP session
  await mcp.close();
  return second.choices[0].message.content ?? '';
}

describe('an uninstrumented agent through tracegate', () => {
  it("lands as one trace under the gateway's AGENT span: 2 LLM calls and 1 tool call in agent_runs", async () => {
    expect(await runAgent('run-1')).toBe('It is sunny in Lyon.');
    await fx.gw.flush();
    let run: Record<string, string | number> | undefined;
    for (let i = 0; i < 100 && !run; i++) {
      await fx.collector.collector.idle(10_000);
      await refreshRollups(fx.store.client, fx.store.database);
      [run] = await fx.store.rows<Record<string, string | number>>(`SELECT * FROM ${fx.store.database}.agent_runs WHERE session_id = 'run-1' AND tool_calls = 1 AND llm_calls = 2 AND agent_spans = 1`);
      if (!run) await new Promise((r) => setTimeout(r, 100));
    }
    expect(run).toMatchObject({ root_span_kind: 'AGENT', root_span_name: 'invoke_agent weather-bot', agent_name: 'weather-bot', llm_calls: 2, tool_calls: 1, agent_spans: 1, status: 'Ok' });
    const spans = await fx.store.rows<{ SpanName: string; SpanId: string; ParentSpanId: string; kind: string; ended: string }>(
      `SELECT SpanName, SpanId, ParentSpanId, SpanAttributes['openinference.span.kind'] AS kind, SpanAttributes['tracegate.agent.ended_by'] AS ended
       FROM ${fx.store.database}.otel_traces WHERE TraceId = {t:String} ORDER BY Timestamp`,
      { t: run?.trace_id },
    );
    const agent = spans.find((s) => s.kind === 'AGENT');
    expect(agent).toMatchObject({ SpanName: 'invoke_agent weather-bot', ParentSpanId: '', ended: 'session_closed' });
    const children = (kind: string) => spans.filter((s) => s.kind === kind && s.ParentSpanId === agent?.SpanId).map((s) => s.SpanName);
    expect(children('LLM')).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
    expect(children('TOOL')).toEqual(['tools/call get_weather']);
    // The MCP requests that are not tool calls are in the trace too, not counted as steps.
    expect(spans.filter((s) => s.SpanName === 'tools/list' && s.ParentSpanId === agent?.SpanId)).toHaveLength(1);
  });

  it('a second session is another run, in another trace', async () => {
    await runAgent('run-2');
    await fx.gw.flush();
    let rows: { trace_id: string; session_id: string }[] = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      await fx.collector.collector.idle(10_000);
      await refreshRollups(fx.store.client, fx.store.database);
      rows = await fx.store.rows(`SELECT trace_id, session_id FROM ${fx.store.database}.agent_runs WHERE session_id IN ('run-1', 'run-2') AND tool_calls = 1 AND llm_calls = 2`);
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(2);
    expect(rows[0].trace_id).not.toBe(rows[1].trace_id);
    // The tool-call rollup (0070) counts the gateway's tool calls once each, by server and tool.
    const tools = await fx.store.rows<{ server: string; tool: string; calls: number; errors: number; tool_errors: number; p95_ms: number }>(
      `SELECT server, tool, sum(calls) AS calls, sum(errors) AS errors, sum(tool_errors) AS tool_errors, max(p95_ms) AS p95_ms FROM ${fx.store.database}.tool_calls_minutely GROUP BY server, tool`,
    );
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({ server: 'weather', tool: 'get_weather', calls: 2, errors: 0, tool_errors: 0 });
    expect(tools[0].p95_ms).toBeGreaterThan(0);
  });
});

// The config is built in beforeAll (useGatewayToCollector); the server must be up before it.
