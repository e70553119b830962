/**
 * One trace read back from ClickHouse and shown as a tree: kind, name, model, tokens, cost and
 * duration per span. Spans come from `otel_traces` (every span, whoever wrote it), bounded in
 * time by the `otel_traces_trace_id_ts` lookup table; typed figures (tokens, cost, whether a
 * call is counted once) come from `llm_spans` when that view exists.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export interface TraceNode {
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
  /** OpenInference kind (LLM, TOOL, AGENT…) or, without one, the OpenTelemetry span kind. */
  kind: string;
  /** `gateway` for the gateway's own spans, else `app`. */
  origin: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cost: number;
  /** False for a model call whose tokens and cost are counted on another span (the gateway's), or not yet decided. */
  counted: boolean;
  /**
   * A model call stored and not yet decided by count-once (no row in llm_spans yet, 0082): out of
   * the totals until the decider's next run (every 2 s) says on which span the call counts.
   */
  undecided?: boolean;
  /**
   * An OpenInference span (a row of llm_spans): what agent_runs.span_count counts. Not the
   * gateway's per-attempt spans nor plain spans (HTTP clients). Absent means true.
   */
  openInference?: boolean;
  /** Milliseconds since the epoch. */
  startMs: number;
  durationMs: number;
  status: string;
  statusMessage: string;
  children: TraceNode[];
}

export interface Trace {
  traceId: string;
  roots: TraceNode[];
  /** OpenInference spans, as agent_runs.span_count counts them. */
  spanCount: number;
  /** Other spans shown in the tree: the gateway's per-attempt spans, HTTP client spans. */
  plainSpans: number;
  startMs: number;
  durationMs: number;
  /** Counted model calls only: each call once. */
  totalTokens: number;
  cost: number;
}

const TRACE_ID = /^[0-9a-f]{16,32}$/;

export class TraceNotFoundError extends Error {}

/** Lower-case hex, or an error that says what a trace id looks like. */
export function normalizeTraceId(id: string): string {
  const t = id.trim().toLowerCase();
  if (!TRACE_ID.test(t)) throw new Error(`"${id.slice(0, 80)}" is not a trace id: 32 hexadecimal characters, e.g. 4bf92f3577b34da6a3ce929d0e0e4736`);
  return t;
}

interface SpanRow {
  span_id: string;
  parent_span_id: string;
  name: string;
  service: string;
  oi_kind: string;
  otel_kind: string;
  origin: string;
  model: string;
  prompt: string;
  completion: string;
  total: string;
  cost: string;
  start_ms: string | number;
  duration_ms: string | number;
  status: string;
  status_message: string;
}

interface TypedRow {
  span_id: string;
  span_kind: string;
  model: string;
  prompt_tokens: string | number;
  completion_tokens: string | number;
  total_tokens: string | number;
  cost_total: string | number;
  counted: string | number;
}

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Reads one trace; throws TraceNotFoundError when the store has no span of it. */
export async function readTrace(client: ClickHouseClient, database: string, traceId: string): Promise<Trace> {
  const id = normalizeTraceId(traceId);
  const [bounds] = await rows<{ n: string | number; start: string; end: string }>(
    client,
    `SELECT count() AS n, toString(min(Start)) AS start, toString(max(End)) AS end FROM ${database}.otel_traces_trace_id_ts WHERE TraceId = {id:String}`,
    { id },
  );
  if (!bounds || Number(bounds.n) === 0) throw new TraceNotFoundError(`no trace ${id} in the store (spans may still be on their way: the collector batches for a few seconds)`);
  const window = { id, start: bounds.start, end: bounds.end };
  const spans = await rows<SpanRow>(
    client,
    `SELECT SpanId AS span_id, ParentSpanId AS parent_span_id, SpanName AS name, ServiceName AS service,
            upper(SpanAttributes['openinference.span.kind']) AS oi_kind, SpanKind AS otel_kind,
            if(SpanAttributes['tracegate.origin'] = 'gateway', 'gateway', 'app') AS origin,
            arrayFirst(v -> v != '', [SpanAttributes['llm.response.model_name'], SpanAttributes['llm.model_name'], SpanAttributes['gen_ai.response.model'], SpanAttributes['gen_ai.request.model'], SpanAttributes['embedding.model_name']]) AS model,
            arrayFirst(v -> v != '', [SpanAttributes['llm.token_count.prompt'], SpanAttributes['gen_ai.usage.input_tokens']]) AS prompt,
            arrayFirst(v -> v != '', [SpanAttributes['llm.token_count.completion'], SpanAttributes['gen_ai.usage.output_tokens']]) AS completion,
            SpanAttributes['llm.token_count.total'] AS total,
            SpanAttributes['llm.cost.total'] AS cost,
            toUnixTimestamp64Milli(toDateTime64(Timestamp, 3)) AS start_ms, Duration / 1e6 AS duration_ms,
            StatusCode AS status, StatusMessage AS status_message
       FROM ${database}.otel_traces
      WHERE TraceId = {id:String}
        AND Timestamp BETWEEN toDateTime({start:String}) - INTERVAL 1 SECOND AND toDateTime({end:String}) + INTERVAL 1 SECOND
      ORDER BY Timestamp, SpanId
      LIMIT 1 BY SpanId`,
    window,
  );
  if (spans.length === 0) throw new TraceNotFoundError(`no spans of trace ${id} in ${database}.otel_traces`);
  const typed = await readTyped(client, database, window);
  return buildTrace(
    id,
    spans.map((s) => toNode(s, typed?.get(s.span_id), typed !== undefined)),
  );
}

/** Typed figures from llm_spans, or undefined when the view is not there (an older schema). */
async function readTyped(client: ClickHouseClient, database: string, window: Record<string, string>): Promise<Map<string, TypedRow> | undefined> {
  try {
    const typed = await rows<TypedRow>(
      client,
      `SELECT span_id, span_kind, model, prompt_tokens, completion_tokens, total_tokens, cost_total, counted
         FROM ${database}.llm_spans
        WHERE trace_id = {id:String}
          AND timestamp BETWEEN toDateTime({start:String}) - INTERVAL 1 SECOND AND toDateTime({end:String}) + INTERVAL 1 SECOND`,
      window,
    );
    return new Map(typed.map((t) => [t.span_id, t]));
  } catch (err) {
    if ((err as { type?: string }).type === 'UNKNOWN_TABLE') return undefined;
    throw err;
  }
}

/** `typedRead`: llm_spans was read, so a model call without a row there is not yet decided. */
function toNode(s: SpanRow, t: TypedRow | undefined, typedRead: boolean): TraceNode {
  const prompt = t ? Number(t.prompt_tokens) : Number(s.prompt) || 0;
  const completion = t ? Number(t.completion_tokens) : Number(s.completion) || 0;
  const modelCall = ['LLM', 'EMBEDDING', 'RERANKER'].includes(t?.span_kind || s.oi_kind);
  const undecided = modelCall && typedRead && !t;
  return {
    spanId: s.span_id,
    parentSpanId: s.parent_span_id,
    name: s.name,
    service: s.service,
    kind: t?.span_kind || s.oi_kind || s.otel_kind,
    origin: s.origin,
    model: t?.model || s.model,
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: t ? Number(t.total_tokens) : Number(s.total) || prompt + completion,
    cost: t ? Number(t.cost_total) : Number(s.cost) || 0,
    counted: t ? Number(t.counted) === 1 : modelCall && !undecided,
    ...(undecided ? { undecided } : {}),
    openInference: t !== undefined || s.oi_kind !== '',
    startMs: Number(s.start_ms),
    durationMs: Number(s.duration_ms),
    status: s.status,
    statusMessage: s.status_message,
    children: [],
  };
}

/** Links spans to their parents; a span whose parent is missing becomes a root. Pure. */
export function buildTrace(traceId: string, input: TraceNode[]): Trace {
  const nodes = input.map((n) => ({ ...n, children: [] as TraceNode[] }));
  const byId = new Map(nodes.map((n) => [n.spanId, n]));
  const roots: TraceNode[] = [];
  for (const n of nodes) {
    const parent = n.parentSpanId && n.parentSpanId !== n.spanId ? byId.get(n.parentSpanId) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  const order = (list: TraceNode[]) => {
    list.sort((a, b) => a.startMs - b.startMs || a.spanId.localeCompare(b.spanId));
    for (const n of list) order(n.children);
  };
  order(roots);
  const startMs = Math.min(...nodes.map((n) => n.startMs));
  const endMs = Math.max(...nodes.map((n) => n.startMs + n.durationMs));
  const counted = nodes.filter((n) => n.counted);
  const openInference = nodes.filter((n) => n.openInference !== false).length;
  return {
    traceId,
    roots,
    spanCount: openInference,
    plainSpans: nodes.length - openInference,
    startMs,
    durationMs: endMs - startMs,
    totalTokens: counted.reduce((s, n) => s + n.totalTokens, 0),
    cost: counted.reduce((s, n) => s + n.cost, 0),
  };
}

export function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatCost(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(6)}` : `$${usd.toFixed(4)}`;
}

function tokensCell(n: TraceNode): string {
  if (n.totalTokens === 0) return '';
  const text = n.promptTokens || n.completionTokens ? `${n.promptTokens}→${n.completionTokens}` : String(n.totalTokens);
  return n.counted ? text : `(${text})`;
}

/**
 * The tree as text: one line per span with tree guides, then aligned columns. Figures in
 * parentheses belong to a call that is counted on another span (the gateway's), so the
 * header's totals count each call once.
 */
export function renderTraceTree(trace: Trace): string {
  const lines: { label: string; cells: string[] }[] = [];
  let elsewhere = false;
  let undecided = false;
  const walk = (n: TraceNode, prefix: string, last: boolean, depth: number) => {
    if (n.undecided) undecided = true;
    else if (!n.counted && n.totalTokens !== 0) elsewhere = true;
    const guide = depth === 0 ? '' : `${prefix}${last ? '└─ ' : '├─ '}`;
    const suffix = (n.origin === 'gateway' ? ' [gateway]' : '') + (n.undecided ? ' *' : '');
    const status = n.status === 'Error' || n.status === 'STATUS_CODE_ERROR' ? `error${n.statusMessage ? `: ${n.statusMessage.slice(0, 60)}` : ''}` : '';
    lines.push({
      label: `${guide}${n.name}${suffix}`,
      cells: [n.kind, n.model, tokensCell(n), n.cost ? (n.counted ? formatCost(n.cost) : `(${formatCost(n.cost)})`) : '', formatDuration(n.durationMs), status],
    });
    const childPrefix = depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`;
    n.children.forEach((c, i) => {
      walk(c, childPrefix, i === n.children.length - 1, depth + 1);
    });
  };
  trace.roots.forEach((r, i) => {
    walk(r, '', i === trace.roots.length - 1, 0);
  });
  const header = ['SPAN', 'KIND', 'MODEL', 'TOKENS', 'COST', 'DURATION', 'STATUS'];
  const rowsText = [header, ...lines.map((l) => [l.label, ...l.cells])];
  const widths = header.map((_, i) => Math.max(...rowsText.map((r) => [...r[i]].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c + ' '.repeat(widths[i] - [...c].length))
      .join('  ')
      .trimEnd();
  const title =
    `trace ${trace.traceId} · ${trace.spanCount} span${trace.spanCount === 1 ? '' : 's'}` +
    (trace.plainSpans ? ` (+${trace.plainSpans} plain)` : '') +
    ` · ${formatDuration(trace.durationMs)}` +
    ` · ${trace.totalTokens} tokens · ${formatCost(trace.cost)}`;
  const note =
    (elsewhere ? '\n(figures in parentheses are counted once, on the gateway span of the same call)' : '') +
    (undecided ? '\n(* a model call not yet decided by count-once, which runs every 2 s: out of the totals until it is)' : '');
  return `${title}\n\n${rowsText.map(fmt).join('\n')}\n${note}`;
}
