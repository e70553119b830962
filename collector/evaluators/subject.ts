/**
 * What an evaluator looks at, read from a stored span's attributes (OpenInference flattened
 * keys, as otel_traces keeps them): the conversation, the answer, its tool calls, retrieved
 * documents, a reference answer from `metadata`, and the schemas the answer should follow.
 */
import { OI } from '../../common/semconv.js';
import type { TargetKind } from '../../schemas/evaluator.js';

export type Attributes = Readonly<Record<string, string>>;

export interface ToolCall {
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
}

export interface Subject {
  traceId: string;
  spanId: string;
  kind: TargetKind;
  model: string;
  input: string;
  output: string;
  toolCalls: ToolCall[];
  documents: string[];
  reference: string;
  /** The request's response_format json_schema, when it asked for one. */
  responseSchema?: Record<string, unknown>;
  /** Tool name → its parameters schema, from the request's tools. */
  toolSchemas: Map<string, Record<string, unknown>>;
}

/** Characters of one field handed to a judge: a prompt stays far below a model's context. */
export const MAX_FIELD_CHARS = 12_000;

const MESSAGE = /^llm\.input_messages\.(\d+)\.message\.(role|content)$/;
const PART = /^llm\.input_messages\.(\d+)\.message\.contents\.(\d+)\.message_content\.text$/;
const OUT_CALL = /^llm\.output_messages\.0\.message\.tool_calls\.(\d+)\.tool_call\.function\.(name|arguments)$/;
const DOC = /^retrieval\.documents\.(\d+)\.document\.content$/;
const TOOL = /^llm\.tools\.(\d+)\.tool\.json_schema$/;

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function indexed<T>(attrs: Attributes, re: RegExp, make: (m: RegExpExecArray, value: string) => [number, T]): T[] {
  const out: [number, T][] = [];
  for (const [k, v] of Object.entries(attrs)) {
    const m = re.exec(k);
    if (m) out.push(make(m, v));
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, t]) => t);
}

function conversation(attrs: Attributes): string {
  const msgs = new Map<number, { role: string; content: string[] }>();
  const at = (i: number) => {
    let m = msgs.get(i);
    if (!m) msgs.set(i, (m = { role: '', content: [] }));
    return m;
  };
  for (const [k, v] of Object.entries(attrs)) {
    let m = MESSAGE.exec(k);
    if (m) {
      if (m[2] === 'role') at(Number(m[1])).role = v;
      else at(Number(m[1])).content.unshift(v);
      continue;
    }
    m = PART.exec(k);
    if (m) at(Number(m[1])).content.push(v);
  }
  if (msgs.size === 0) return attrs[OI.INPUT_VALUE] ?? '';
  const ordered = [...msgs.entries()].sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  // One message is the question itself; several are a conversation, each line under its role.
  if (ordered.length === 1) return ordered[0].content.join('\n');
  return ordered.map((x) => `${x.role || 'message'}: ${x.content.join('\n')}`).join('\n');
}

function answer(attrs: Attributes): string {
  const direct = attrs['llm.output_messages.0.message.content'];
  if (direct !== undefined) return direct;
  const parts = indexed(attrs, /^llm\.output_messages\.0\.message\.contents\.(\d+)\.message_content\.text$/, (m, v) => [Number(m[1]), v]);
  if (parts.length) return parts.join('\n');
  const raw = attrs[OI.OUTPUT_VALUE] ?? '';
  // A gateway's output.value is the answer's body: the first choice's text is what was said.
  const body = parseJson(raw);
  if (isObj(body) && Array.isArray(body.choices) && isObj(body.choices[0]) && isObj(body.choices[0].message)) {
    const c = body.choices[0].message.content;
    if (typeof c === 'string') return c;
  }
  return raw;
}

function toolCalls(attrs: Attributes): ToolCall[] {
  const calls = new Map<number, ToolCall>();
  for (const [k, v] of Object.entries(attrs)) {
    const m = OUT_CALL.exec(k);
    if (!m) continue;
    const c = calls.get(Number(m[1])) ?? { name: '', arguments: '' };
    if (m[2] === 'name') c.name = v;
    else c.arguments = v;
    calls.set(Number(m[1]), c);
  }
  return [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

function responseSchema(attrs: Attributes): Record<string, unknown> | undefined {
  const params = parseJson(attrs[OI.LLM_INVOCATION_PARAMETERS]);
  const rf = isObj(params) ? params.response_format : undefined;
  if (!isObj(rf) || rf.type !== 'json_schema' || !isObj(rf.json_schema)) return undefined;
  const schema = rf.json_schema.schema;
  return isObj(schema) ? schema : undefined;
}

function toolSchemas(attrs: Attributes): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const raw of indexed(attrs, TOOL, (m, v) => [Number(m[1]), v])) {
    const t = parseJson(raw);
    // OpenAI's {type:'function', function:{name, parameters}} or a bare {name, parameters|input_schema}.
    const fn = isObj(t) && isObj(t.function) ? t.function : t;
    if (!isObj(fn) || typeof fn.name !== 'string') continue;
    const params = fn.parameters ?? fn.input_schema;
    if (isObj(params)) out.set(fn.name, params);
  }
  return out;
}

function reference(attrs: Attributes): string {
  const meta = parseJson(attrs.metadata);
  const r = isObj(meta) ? meta.reference : undefined;
  return typeof r === 'string' ? r : r === undefined ? '' : JSON.stringify(r);
}

export function documentsOf(attrs: Attributes): string[] {
  return indexed(attrs, DOC, (m, v) => [Number(m[1]), v]);
}

export interface StoredSpan {
  traceId: string;
  spanId: string;
  kind: TargetKind;
  model: string;
  attributes: Attributes;
}

/** The subject of a span; `traceDocuments`: what RETRIEVER spans of its trace found (for LLM spans). */
export function subjectOf(span: StoredSpan, traceDocuments: string[] = []): Subject {
  const a = span.attributes;
  const own = documentsOf(a);
  const agent = span.kind === 'AGENT';
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    kind: span.kind,
    model: span.model,
    input: agent ? (a[OI.INPUT_VALUE] ?? '') : span.kind === 'RETRIEVER' ? (a[OI.INPUT_VALUE] ?? a['retrieval.query'] ?? '') : conversation(a),
    output: agent ? (a[OI.OUTPUT_VALUE] ?? '') : span.kind === 'RETRIEVER' ? own.join('\n\n') : answer(a),
    toolCalls: toolCalls(a),
    documents: own.length ? own : traceDocuments,
    reference: reference(a),
    responseSchema: responseSchema(a),
    toolSchemas: toolSchemas(a),
  };
}

/** A field cut to MAX_FIELD_CHARS, saying so. */
export function clip(text: string, max = MAX_FIELD_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[… ${text.length - max} more characters cut]`;
}
