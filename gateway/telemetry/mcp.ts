/**
 * The span of one MCP request through /mcp, in both conventions: OpenTelemetry MCP
 * (`{mcp.method.name} {target}`, mcp.*, jsonrpc.request.id, rpc.response.status_code,
 * gen_ai.operation.name=execute_tool and gen_ai.tool.name for tool calls, error.type=tool_error
 * when the tool answered isError) and, for tools/call, OpenInference TOOL (tool.name,
 * tool.description, tool.parameters, input.value, output.value). Arguments and results are
 * content: written as the gateway's content capture says.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { GENAI, MCP, OI, TG, TG_ORIGIN_GATEWAY } from '../../common/semconv.js';
import { formatTraceparent, type TraceHeaders } from '../../common/trace-context.js';
import type { Identity } from '../policy/identity.js';
import { contain } from './contain.js';
import type { GatewayMetrics } from './metrics.js';
import { AttrKey, KEYS } from './spans/keys.js';
import { cutChars, MAX_VALUE_CHARS, type AttrSink, type Capture } from './spans/sink.js';
import type { GatewaySpan } from './spans/span.js';
import type { GatewayTracer } from './spans/tracer.js';

const k = (name: string) => new AttrKey(name);
const K = {
  method: k(MCP.METHOD_NAME),
  session: k(MCP.SESSION_ID),
  protocol: k(MCP.PROTOCOL_VERSION),
  resourceUri: k(MCP.RESOURCE_URI),
  requestId: k(MCP.JSONRPC_REQUEST_ID),
  rpcStatus: k(MCP.RPC_RESPONSE_STATUS_CODE),
  promptName: k(MCP.GEN_AI_PROMPT_NAME),
  transport: k(MCP.NETWORK_TRANSPORT),
  protocolName: k(MCP.NETWORK_PROTOCOL_NAME),
  toolName: k(OI.TOOL_NAME),
  toolDescription: k(OI.TOOL_DESCRIPTION),
  toolParameters: k(OI.TOOL_PARAMETERS),
  genaiToolName: k(GENAI.TOOL_NAME),
  genaiToolArguments: k(GENAI.TOOL_CALL_ARGUMENTS),
  genaiToolResult: k(GENAI.TOOL_CALL_RESULT),
  server: k(TG.MCP_SERVER),
  mcpTransport: k(TG.MCP_TRANSPORT),
};

/** What the span of one MCP request says; filled in as the request is handled. */
export interface McpFacts {
  method: string;
  transport: 'streamable-http' | 'sse';
  requestId?: string | number;
  sessionId?: string;
  protocol?: string;
  identity?: Identity;
  /** session.id of the agent run (session header or MCP session). */
  agentSession?: string;
  /** Tool or prompt name as the client sent it, or a resource URI. */
  target?: string;
  server?: string;
  serverAddress?: string;
  tool?: { name: string; description?: string; parameters?: unknown };
  arguments?: unknown;
  /** JSON text of the result (cut to MAX_VALUE_CHARS), written only with content capture on. */
  result?: string;
  rpcError?: { code: number; message: string };
  toolError?: boolean;
}

const json = (v: unknown): string | undefined => {
  if (v === undefined) return undefined;
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
};

/** `{mcp.method.name} {target}`, as the MCP conventions name spans. */
export function mcpSpanName(method: string, target: string | undefined): string {
  return target ? `${method} ${target.length > 128 ? target.slice(0, 128) : target}` : method;
}

export class McpTelemetry {
  readonly span: GatewaySpan | undefined;

  constructor(
    private readonly env: { tracer: GatewayTracer | undefined; metrics: GatewayMetrics; capture: Capture },
    readonly facts: McpFacts,
    parent: Parameters<GatewayTracer['start']>[2],
    startedAt = performance.now(),
  ) {
    const tracer = env.tracer;
    if (tracer) this.span = contain(env.metrics, 'telemetry', () => tracer.start(mcpSpanName(facts.method, facts.target), SpanKind.SERVER, parent, startedAt, this, env.capture), undefined);
  }

  /** `traceparent` of this span, for the MCP server (undefined when not recorded). */
  traceparent(): TraceHeaders | undefined {
    const c = this.span?.spanContext();
    return c && formatTraceparent(c);
  }

  /** The result as JSON text for the span, kept only when content is captured. */
  setResult(result: unknown): void {
    if (this.env.capture.mode === 'off') return;
    const text = json(result);
    if (text !== undefined) this.facts.result = cutChars(text, MAX_VALUE_CHARS + 1);
  }

  end(): void {
    const span = this.span;
    if (!span) return;
    const f = this.facts;
    contain(
      this.env.metrics,
      'telemetry',
      () => {
        if (f.rpcError) span.setStatus({ code: SpanStatusCode.ERROR, message: f.rpcError.message });
        else if (f.toolError) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool answered isError' });
        span.endPerf(performance.now());
      },
      undefined,
    );
  }

  writeAttributes(s: AttrSink): void {
    contain(this.env.metrics, 'telemetry', () => this.write(s), undefined);
  }

  private write(s: AttrSink): void {
    const f = this.facts;
    s.tok(K.method, f.method);
    s.tok(KEYS.origin, TG_ORIGIN_GATEWAY);
    s.tok(K.mcpTransport, f.transport);
    s.tok(K.transport, 'tcp');
    s.tok(K.protocolName, 'http');
    if (f.requestId !== undefined) s.str(K.requestId, String(f.requestId));
    if (f.sessionId) s.str(K.session, f.sessionId);
    if (f.protocol) s.tok(K.protocol, f.protocol);
    if (f.agentSession) {
      s.str(KEYS.sessionId, f.agentSession);
      s.str(KEYS.genaiConversationId, f.agentSession);
    }
    if (f.server) {
      s.tok(K.server, f.server);
      // The McpServer is the call's backend: llm_spans' backend column (the dashboards' server).
      s.tok(KEYS.backend, f.server);
    }
    if (f.serverAddress) s.tok(KEYS.serverAddress, f.serverAddress);
    if (f.identity) {
      s.tok(KEYS.key, f.identity.key);
      if (f.identity.team !== undefined) s.tok(KEYS.team, f.identity.team);
    }
    if (f.method === 'tools/call') this.writeTool(s);
    else if (f.method === 'prompts/get' && f.target) s.str(K.promptName, f.target);
    else if (f.method.startsWith('resources/') && f.target) s.str(K.resourceUri, f.target);
    if (f.rpcError) {
      s.tok(K.rpcStatus, String(f.rpcError.code));
      s.tok(KEYS.errorType, String(f.rpcError.code));
    } else if (f.toolError) s.tok(KEYS.errorType, MCP.TOOL_ERROR);
    if (s.truncated) s.str(KEYS.truncated, s.truncated.join(','));
  }

  private writeTool(s: AttrSink): void {
    const f = this.facts;
    s.tok(KEYS.spanKind, 'TOOL');
    s.tok(KEYS.genaiOperation, 'execute_tool');
    const name = f.tool?.name ?? f.target;
    if (name) {
      s.str(K.toolName, name);
      s.str(K.genaiToolName, name);
    }
    if (f.tool?.description) s.long(K.toolDescription, f.tool.description);
    const params = json(f.tool?.parameters);
    if (params) s.long(K.toolParameters, params);
    const args = json(f.arguments ?? {});
    s.content(KEYS.inputValue, args);
    if (args !== undefined && s.contentOn) {
      s.tok(KEYS.inputMime, 'application/json');
      s.content(K.genaiToolArguments, args);
    }
    if (f.result !== undefined) {
      s.content(KEYS.outputValue, f.result);
      s.tok(KEYS.outputMime, 'application/json');
      s.content(K.genaiToolResult, f.result);
    }
  }
}
