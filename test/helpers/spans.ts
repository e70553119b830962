import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Attributes, SpanEvent, SpanKindStr, SpanLink, SpanRecord, StatusCodeStr } from '../../collector/model.js';
import { GENAI, OI, TG, TG_ORIGIN_GATEWAY, type OiSpanKind } from '../../common/semconv.js';

/**
 * Builders of SpanRecords for fixtures, and the insert of spans into `otel_traces` as the
 * OpenTelemetry Collector ClickHouse exporter writes them. Each builder takes the same
 * options; `convention` chooses OpenInference attributes (default) or GenAI attributes only.
 */

export const newTraceId = (): string => randomBytes(16).toString('hex');
export const newSpanId = (): string => randomBytes(8).toString('hex');

/** Nanoseconds since the epoch for a Date or milliseconds. */
export const ns = (at: Date | number): bigint => BigInt(typeof at === 'number' ? Math.round(at) : at.getTime()) * 1_000_000n;

export type Convention = 'openinference' | 'genai';

export interface SpanOptions {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  otelKind?: SpanKindStr;
  /** Start, nanoseconds since the epoch (default: now). */
  start?: bigint;
  durationMs?: number;
  serviceName?: string;
  status?: StatusCodeStr;
  statusMessage?: string;
  attributes?: Attributes;
  resourceAttributes?: Attributes;
  events?: SpanEvent[];
  links?: SpanLink[];
}

/** A span with exactly the attributes given. */
export function makeSpan(o: SpanOptions = {}): SpanRecord {
  const start = o.start ?? ns(Date.now());
  const serviceName = o.serviceName ?? 'test-app';
  return {
    traceId: o.traceId ?? newTraceId(),
    spanId: o.spanId ?? newSpanId(),
    parentSpanId: o.parentSpanId ?? '',
    traceState: '',
    name: o.name ?? 'span',
    kind: o.otelKind ?? 'Internal',
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((o.durationMs ?? 10) * 1_000_000)),
    serviceName,
    resourceAttributes: { 'service.name': serviceName, ...o.resourceAttributes },
    scopeName: 'test',
    scopeVersion: '0.0.0',
    attributes: { ...o.attributes },
    statusCode: o.status ?? 'Unset',
    statusMessage: o.statusMessage ?? '',
    events: o.events ?? [],
    links: o.links ?? [],
  };
}

export interface Usage {
  prompt: number;
  completion: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

export interface CallOptions extends SpanOptions {
  convention?: Convention;
  model?: string;
  requestModel?: string;
  /** An OpenInference llm.provider name; GenAI spans get the GenAI spelling from genaiProvider. */
  provider?: string;
  genaiProvider?: string;
  system?: string;
  usage?: Usage;
  cost?: { prompt: number; completion: number; total?: number };
  finishReason?: string;
  sessionId?: string;
  userId?: string;
  agentName?: string;
  streaming?: boolean;
  ttftMs?: number;
  errorType?: string;
}

const str = (v: number | string | boolean): string => String(v);

function set(attrs: Attributes, key: string, value: string | number | boolean | undefined): void {
  if (value !== undefined && value !== '') attrs[key] = str(value);
}

function openInferenceCall(o: CallOptions, a: Attributes): void {
  set(a, OI.LLM_MODEL_NAME, o.model);
  set(a, OI.LLM_REQUEST_MODEL_NAME, o.requestModel);
  set(a, OI.LLM_PROVIDER, o.provider);
  set(a, OI.LLM_SYSTEM, o.system);
  set(a, OI.LLM_FINISH_REASON, o.finishReason);
  set(a, OI.SESSION_ID, o.sessionId);
  set(a, OI.USER_ID, o.userId);
  set(a, OI.AGENT_NAME, o.agentName);
  if (o.usage) {
    set(a, OI.TOKEN_PROMPT, o.usage.prompt);
    set(a, OI.TOKEN_COMPLETION, o.usage.completion);
    set(a, OI.TOKEN_TOTAL, o.usage.prompt + o.usage.completion);
    set(a, OI.TOKEN_PROMPT_CACHE_READ, o.usage.cacheRead);
    set(a, OI.TOKEN_PROMPT_CACHE_WRITE, o.usage.cacheWrite);
    set(a, OI.TOKEN_COMPLETION_REASONING, o.usage.reasoning);
  }
  if (o.cost) {
    set(a, OI.COST_PROMPT, o.cost.prompt);
    set(a, OI.COST_COMPLETION, o.cost.completion);
    set(a, OI.COST_TOTAL, o.cost.total ?? o.cost.prompt + o.cost.completion);
  }
  if (o.streaming !== undefined) set(a, OI.LLM_INVOCATION_PARAMETERS, JSON.stringify({ stream: o.streaming }));
}

function genaiCall(o: CallOptions, a: Attributes): void {
  set(a, GENAI.REQUEST_MODEL, o.requestModel ?? o.model);
  if (o.requestModel) set(a, GENAI.RESPONSE_MODEL, o.model);
  set(a, GENAI.PROVIDER_NAME, o.genaiProvider ?? o.provider);
  if (o.finishReason) set(a, GENAI.RESPONSE_FINISH_REASONS, JSON.stringify([o.finishReason]));
  set(a, GENAI.CONVERSATION_ID, o.sessionId);
  set(a, GENAI.AGENT_NAME, o.agentName);
  if (o.usage) {
    set(a, GENAI.USAGE_INPUT_TOKENS, o.usage.prompt);
    set(a, GENAI.USAGE_OUTPUT_TOKENS, o.usage.completion);
    set(a, GENAI.USAGE_CACHE_READ_INPUT_TOKENS, o.usage.cacheRead);
    set(a, GENAI.USAGE_CACHE_CREATION_INPUT_TOKENS, o.usage.cacheWrite);
    set(a, GENAI.USAGE_REASONING_OUTPUT_TOKENS, o.usage.reasoning);
  }
  if (o.streaming !== undefined) set(a, GENAI.REQUEST_STREAM, o.streaming);
  if (o.ttftMs !== undefined) set(a, GENAI.RESPONSE_TIME_TO_FIRST_CHUNK, o.ttftMs / 1000);
  set(a, OI.USER_ID, o.userId);
}

const GENAI_OPERATION: Partial<Record<OiSpanKind, string>> = {
  LLM: 'chat',
  EMBEDDING: 'embeddings',
  TOOL: 'execute_tool',
  AGENT: 'invoke_agent',
  RETRIEVER: 'retrieval',
  CHAIN: 'invoke_workflow',
};

/** A span of an OpenInference kind, or with GenAI attributes only (kind from gen_ai.operation.name). */
export function oiSpan(kind: OiSpanKind, o: CallOptions = {}): SpanRecord {
  const a: Attributes = {};
  if ((o.convention ?? 'openinference') === 'openinference') {
    a[OI.SPAN_KIND] = kind;
    openInferenceCall(o, a);
  } else {
    const op = GENAI_OPERATION[kind];
    if (!op) throw new Error(`no GenAI operation for ${kind}`);
    a[GENAI.OPERATION_NAME] = op;
    genaiCall(o, a);
  }
  set(a, GENAI.ERROR_TYPE, o.errorType);
  if (o.ttftMs !== undefined && (o.convention ?? 'openinference') === 'openinference') set(a, TG.TIME_TO_FIRST_TOKEN_MS, o.ttftMs);
  return makeSpan({ name: kind.toLowerCase(), ...o, attributes: { ...a, ...o.attributes } });
}

export const llmSpan = (o: CallOptions = {}) => oiSpan('LLM', { otelKind: 'Client', name: `chat ${o.model ?? ''}`.trim(), ...o });
export const embeddingSpan = (o: CallOptions = {}) => oiSpan('EMBEDDING', { otelKind: 'Client', name: 'embeddings', ...o });
export const agentSpan = (o: CallOptions = {}) => oiSpan('AGENT', { name: `invoke_agent ${o.agentName ?? ''}`.trim(), ...o });
export const chainSpan = (o: CallOptions = {}) => oiSpan('CHAIN', o);
export const retrieverSpan = (o: CallOptions = {}) => oiSpan('RETRIEVER', { name: 'retrieve', ...o });

export function toolSpan(o: CallOptions & { toolName: string }): SpanRecord {
  const key = (o.convention ?? 'openinference') === 'openinference' ? OI.TOOL_NAME : GENAI.TOOL_NAME;
  return oiSpan('TOOL', { name: `execute_tool ${o.toolName}`, ...o, attributes: { [key]: o.toolName, ...o.attributes } });
}

export interface GatewayOptions extends CallOptions {
  route?: string;
  backend?: string;
  team?: string;
  keyName?: string;
  attempts?: number;
  fallbackUsed?: boolean;
  estimated?: boolean;
  httpStatus?: number;
}

/** The gateway's own span for a call: OpenInference and GenAI attributes plus tracegate's. */
export function gatewaySpan(o: GatewayOptions = {}): SpanRecord {
  const a: Attributes = { [TG.ORIGIN]: TG_ORIGIN_GATEWAY };
  genaiCall({ ...o, ttftMs: undefined }, a);
  a[GENAI.OPERATION_NAME] = 'chat';
  set(a, TG.ROUTE, o.route);
  set(a, TG.BACKEND, o.backend);
  set(a, TG.TEAM, o.team);
  set(a, TG.KEY, o.keyName);
  set(a, TG.ATTEMPTS, o.attempts);
  set(a, TG.FALLBACK_USED, o.fallbackUsed);
  set(a, TG.TOKENS_ESTIMATED, o.estimated);
  set(a, TG.HTTP_STATUS, o.httpStatus);
  if (o.streaming !== undefined) set(a, TG.STREAMING, o.streaming);
  return oiSpan('LLM', {
    serviceName: 'tracegate-gateway',
    otelKind: 'Server',
    name: `chat ${o.model ?? ''}`.trim(),
    ...o,
    convention: 'openinference',
    attributes: { ...a, ...o.attributes },
  });
}

/** One upstream attempt under a gateway span: no OpenInference kind, never counted. */
export function attemptSpan(o: SpanOptions & { backend?: string }): SpanRecord {
  return makeSpan({
    serviceName: 'tracegate-gateway',
    otelKind: 'Client',
    name: 'upstream',
    ...o,
    attributes: { [TG.ORIGIN]: TG_ORIGIN_GATEWAY, [GENAI.OPERATION_NAME]: 'chat', ...(o.backend ? { [TG.BACKEND]: o.backend } : {}), ...o.attributes },
  });
}

/** A gen_ai.evaluation.result event, as the collector's heuristic checks write them. */
export function evaluationEvent(at: bigint, e: { name: string; score?: number; label?: string; explanation?: string; source?: string }): SpanEvent {
  const attributes: Attributes = { [GENAI.EVALUATION_NAME]: e.name };
  set(attributes, GENAI.EVALUATION_SCORE_VALUE, e.score);
  set(attributes, GENAI.EVALUATION_SCORE_LABEL, e.label);
  set(attributes, GENAI.EVALUATION_EXPLANATION, e.explanation);
  set(attributes, TG.EVALUATION_SOURCE, e.source);
  return { timeUnixNano: at, name: GENAI.EVALUATION_RESULT_EVENT, attributes };
}

/** Nanoseconds as the decimal seconds ClickHouse parses into DateTime64(9), in any time zone. */
export function nsToDateTime64(t: bigint): string {
  return `${t / 1_000_000_000n}.${(t % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** The `otel_traces` row of a span, column for column as the exporter writes it. */
export function toOtelRow(s: SpanRecord): Record<string, unknown> {
  return {
    Timestamp: nsToDateTime64(s.startTimeUnixNano),
    TraceId: s.traceId,
    SpanId: s.spanId,
    ParentSpanId: s.parentSpanId,
    TraceState: s.traceState,
    SpanName: s.name,
    SpanKind: s.kind,
    ServiceName: s.serviceName,
    ResourceAttributes: s.resourceAttributes,
    ScopeName: s.scopeName,
    ScopeVersion: s.scopeVersion,
    SpanAttributes: s.attributes,
    Duration: (s.endTimeUnixNano - s.startTimeUnixNano).toString(),
    StatusCode: s.statusCode,
    StatusMessage: s.statusMessage,
    'Events.Timestamp': s.events.map((e) => nsToDateTime64(e.timeUnixNano)),
    'Events.Name': s.events.map((e) => e.name),
    'Events.Attributes': s.events.map((e) => e.attributes),
    'Links.TraceId': s.links.map((l) => l.traceId),
    'Links.SpanId': s.links.map((l) => l.spanId),
    'Links.TraceState': s.links.map((l) => l.traceState),
    'Links.Attributes': s.links.map((l) => l.attributes),
  };
}

/** Inserts spans into `<database>.otel_traces` in one insert. */
export async function insertSpans(store: { client: ClickHouseClient; database: string }, spans: SpanRecord[]): Promise<void> {
  if (spans.length === 0) return;
  await store.client.insert({ table: `${store.database}.otel_traces`, values: spans.map(toOtelRow), format: 'JSONEachRow' });
}

/**
 * Runs the count-once decider now and waits for it: a model call's row is read (llm_spans and
 * what reads it) once decided (0082). The decider's schedule is left as it was.
 */
export async function decideCalls(store: { client: ClickHouseClient; database: string }): Promise<void> {
  for (const verb of ['REFRESH', 'WAIT']) await store.client.command({ query: `SYSTEM ${verb} VIEW ${store.database}.llm_spans_count_once` });
}

/** insertSpans, then the decider's run over them (decideCalls). */
export async function insertDecided(store: { client: ClickHouseClient; database: string }, spans: SpanRecord[]): Promise<void> {
  await insertSpans(store, spans);
  await decideCalls(store);
}
