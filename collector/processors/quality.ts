import { GENAI, OI, REDACTED, TG } from '../../common/semconv.js';
import type { Attributes, SpanEvent, SpanRecord } from '../model.js';
import { intAttr } from './attrs.js';
import { perSpan, type Signal, type Stage, type StageContext } from './context.js';

/**
 * Heuristic quality signals as OpenTelemetry `gen_ai.evaluation.result` events on the span.
 * Every signal names a problem: score 1 and label `true` mean "found"; a span without the
 * event was checked and clean (or could not be judged). Source `heuristic`.
 */
interface Finding {
  name: Signal;
  explanation: string;
}

const TRUNCATED = new Set(['length', 'max_tokens', 'max_output_tokens', 'model_length']);
const FILTERED = new Set(['content_filter', 'content-filter', 'safety', 'recitation', 'blocklist', 'prohibited_content', 'spii', 'refusal']);

const OUT_PREFIX = `${OI.LLM_OUTPUT_MESSAGES}.`;
const ARGS_SUFFIX = `.${OI.TOOL_CALL_FUNCTION_ARGUMENTS}`;
const CONTENT_SUFFIX = `.${OI.MESSAGE_CONTENT}`;
const TEXT_SUFFIX = `.${OI.MESSAGE_CONTENT_TEXT}`;

/** What the output messages hold, from one pass over the span's keys. */
interface Output {
  recorded: boolean;
  text: string;
  toolCalls: number;
  badArguments: string[];
}

function readOutput(a: Attributes): Output {
  const o: Output = { recorded: false, text: '', toolCalls: 0, badArguments: [] };
  const keys = Object.keys(a);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (!key.startsWith(OUT_PREFIX)) continue;
    o.recorded = true;
    if (key.endsWith(ARGS_SUFFIX)) {
      o.toolCalls++;
      if (!isJson(a[key], true)) o.badArguments.push(key.slice(0, -ARGS_SUFFIX.length));
    } else if (key.endsWith('.tool_call.function.name')) {
      if (a[`${key.slice(0, -'function.name'.length)}function.arguments`] === undefined) o.toolCalls++;
    } else if (key.endsWith(CONTENT_SUFFIX) || key.endsWith(TEXT_SUFFIX)) o.text += a[key];
  }
  if (!o.recorded && a[OI.OUTPUT_VALUE] !== undefined && a[OI.OUTPUT_MIME_TYPE] !== 'application/json') {
    o.recorded = true;
    o.text = a[OI.OUTPUT_VALUE];
  }
  return o;
}

/** Empty arguments count as valid (a call without parameters); content the SDK hid is not judged. */
function isJson(s: string, emptyOk = false): boolean {
  const t = s.trim();
  if (t === '') return emptyOk;
  if (t === REDACTED) return true;
  const c = t.charCodeAt(0);
  // Cheap refusal before parsing: JSON output starts with one of { [ " - digit t f n.
  if (!(c === 123 || c === 91 || c === 34 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110)) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** JSON output was asked for: `response_format` json_object / json_schema, or `gen_ai.output.type=json`. */
function jsonRequested(a: Attributes): boolean {
  if (a[GENAI.OUTPUT_TYPE] === 'json') return true;
  const params = a[OI.LLM_INVOCATION_PARAMETERS];
  return params !== undefined && (params.includes('json_object') || params.includes('json_schema'));
}

function finishReasons(a: Attributes): string[] {
  const r = a[OI.LLM_FINISH_REASON] ?? a['llm.output_messages.0.message.finish_reason'];
  return r === undefined ? [] : [r.toLowerCase()];
}

function llmFindings(a: Attributes): Finding[] {
  const found: Finding[] = [];
  const reasons = finishReasons(a);
  const r = reasons.find((x) => TRUNCATED.has(x));
  if (r) found.push({ name: 'truncated', explanation: `finish reason ${r}: the output was cut at the token limit` });
  const f = reasons.find((x) => FILTERED.has(x));
  if (f) found.push({ name: 'content_filtered', explanation: `finish reason ${f}: the provider filtered the output` });
  const out = readOutput(a);
  const noText = out.text.trim() === '';
  if (noText && out.toolCalls === 0 && (out.recorded || intAttr(a, OI.TOKEN_COMPLETION) === 0) && !f) {
    found.push({ name: 'empty_output', explanation: 'the model returned no text and no tool call' });
  }
  if (!noText && jsonRequested(a) && !isJson(out.text)) {
    found.push({ name: 'invalid_json', explanation: 'JSON output was requested but the output does not parse as JSON' });
  }
  if (out.badArguments.length) {
    found.push({ name: 'invalid_tool_arguments', explanation: `tool-call arguments that do not parse as JSON: ${out.badArguments.join(', ')}` });
  }
  return found;
}

function errorFinding(span: SpanRecord): Finding {
  const a = span.attributes;
  const why = span.statusMessage || a[GENAI.ERROR_TYPE] || a[OI.EXCEPTION_TYPE] || 'status ERROR';
  return { name: 'error', explanation: why.length > 500 ? `${why.slice(0, 500)}…` : why };
}

function event(span: SpanRecord, f: Finding): SpanEvent {
  const attributes: Attributes = {
    [GENAI.EVALUATION_NAME]: f.name,
    [GENAI.EVALUATION_SCORE_VALUE]: '1',
    [GENAI.EVALUATION_SCORE_LABEL]: 'true',
    [GENAI.EVALUATION_EXPLANATION]: f.explanation,
    [TG.EVALUATION_SOURCE]: 'heuristic',
  };
  const responseId = span.attributes[GENAI.RESPONSE_ID];
  if (responseId !== undefined) attributes[GENAI.RESPONSE_ID] = responseId;
  return { timeUnixNano: span.endTimeUnixNano, name: GENAI.EVALUATION_RESULT_EVENT, attributes };
}

/** Signals already on the span (a batch processed twice adds nothing). */
const alreadyThere = (span: SpanRecord, name: Signal) =>
  span.events.some((e) => e.name === GENAI.EVALUATION_RESULT_EVENT && e.attributes[GENAI.EVALUATION_NAME] === name && e.attributes[TG.EVALUATION_SOURCE] === 'heuristic');

export function checkSpan(span: SpanRecord, ctx: StageContext): SpanRecord {
  const kind = span.attributes[OI.SPAN_KIND];
  if (kind === undefined) return span;
  const found = kind === 'LLM' ? llmFindings(span.attributes) : [];
  if (span.statusCode === 'Error') found.push(errorFinding(span));
  const fresh = found.filter((f) => !alreadyThere(span, f.name));
  if (fresh.length === 0) return span;
  for (const f of fresh) ctx.counters.signals[f.name]++;
  for (const f of fresh) span.events.push(event(span, f));
  return span;
}

export const qualityStage: Stage = perSpan(checkSpan);
