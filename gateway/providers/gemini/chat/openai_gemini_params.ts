/**
 * OpenAI chat request parameters → Gemini `generationConfig`, `tools` and `toolConfig`.
 *
 * | OpenAI | Gemini |
 * | --- | --- |
 * | `max_completion_tokens` / `max_tokens` | `maxOutputTokens` |
 * | `temperature`, `top_p`, `top_k`, `seed` | `temperature` (Gemini's range is 0..2 too), `topP`, `topK`, `seed` |
 * | `presence_penalty`, `frequency_penalty` | `presencePenalty`, `frequencyPenalty` |
 * | `stop` (string or list) | `stopSequences` |
 * | `n` | `candidateCount` |
 * | `response_format` json_object / json_schema | `responseMimeType: application/json` (+ `responseJsonSchema`) |
 * | `reasoning_effort` none/minimal/low/medium/high | `thinkingConfig.thinkingBudget` 0/512/1024/8192/24576 (Google's own OpenAI-compatible mapping) |
 * | `tools` (function) | `tools[0].functionDeclarations` with `parametersJsonSchema` |
 * | `tool_choice` auto / none / required / {function} | `toolConfig.functionCallingConfig` AUTO / NONE / ANY / ANY + `allowedFunctionNames` |
 *
 * `logprobs` and non-function tools cannot be honoured: 400 naming them. `user`, `logit_bias`,
 * `parallel_tool_calls`, `service_tier`, `store`, `metadata`, `prediction`, `modalities`, … are dropped.
 */
import { invalidParam } from '../../shared/errors.js';
import { isObject, num, str } from '../../shared/helpers.js';
import { maxTokens, type Result, stopSequences } from '../../shared/params.js';

type Json = Record<string, unknown>;

const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 };

function candidateCount(n: unknown): Result<number | undefined> {
  if (n === undefined || n === null) return { ok: true, value: undefined };
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) return { ok: false, error: invalidParam('n', 'must be a positive integer') };
  return { ok: true, value: n > 1 ? n : undefined };
}

/** `response_format` → the JSON-output fields of generationConfig. */
function responseFormat(rf: unknown): Result<Json> {
  if (rf === undefined || rf === null) return { ok: true, value: {} };
  const type = isObject(rf) ? rf.type : undefined;
  if (type === 'text') return { ok: true, value: {} };
  if (type === 'json_object') return { ok: true, value: { responseMimeType: 'application/json' } };
  if (type === 'json_schema' && isObject(rf) && isObject(rf.json_schema)) {
    const schema = rf.json_schema.schema;
    return { ok: true, value: isObject(schema) ? { responseMimeType: 'application/json', responseJsonSchema: schema } : { responseMimeType: 'application/json' } };
  }
  return { ok: false, error: invalidParam('response_format', 'must be {"type":"text"}, {"type":"json_object"} or {"type":"json_schema","json_schema":{…}}') };
}

const PLAIN: [from: string, to: string][] = [
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['top_k', 'topK'],
  ['seed', 'seed'],
  ['presence_penalty', 'presencePenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
];

export function generationConfig(body: Json): Result<Json | undefined> {
  if (body.logprobs === true) return { ok: false, error: invalidParam('logprobs', 'is not supported by gemini backends') };
  const out: Json = {};
  for (const [from, to] of PLAIN) if (num(body[from]) !== undefined) out[to] = body[from];
  const max = maxTokens(body);
  if (!max.ok) return max;
  if (max.value !== undefined) out.maxOutputTokens = max.value;
  const n = candidateCount(body.n);
  if (!n.ok) return n;
  if (n.value !== undefined) out.candidateCount = n.value;
  const stop = stopSequences(body.stop);
  if (!stop.ok) return stop;
  if (stop.value && stop.value.length > 0) out.stopSequences = stop.value;
  const rf = responseFormat(body.response_format);
  if (!rf.ok) return rf;
  Object.assign(out, rf.value);
  const effort = str(body.reasoning_effort);
  if (effort !== undefined) {
    if (!(effort in THINKING_BUDGET)) return { ok: false, error: invalidParam('reasoning_effort', `must be one of ${Object.keys(THINKING_BUDGET).join(', ')}`) };
    out.thinkingConfig = { thinkingBudget: THINKING_BUDGET[effort] };
  }
  return { ok: true, value: Object.keys(out).length > 0 ? out : undefined };
}

export function functionDeclarations(body: Json): Result<Json[] | undefined> {
  if (body.tools === undefined || body.tools === null) return { ok: true, value: undefined };
  if (!Array.isArray(body.tools)) return { ok: false, error: invalidParam('tools', 'must be an array') };
  const out: Json[] = [];
  for (const [i, t] of body.tools.entries()) {
    const fn = isObject(t) && t.type === 'function' && isObject(t.function) ? t.function : undefined;
    if (!fn || !str(fn.name)) return { ok: false, error: invalidParam(`tools[${i}]`, 'only function tools with a name are supported by gemini backends') };
    const decl: Json = { name: fn.name };
    if (str(fn.description)) decl.description = fn.description;
    if (isObject(fn.parameters)) decl.parametersJsonSchema = fn.parameters;
    out.push(decl);
  }
  return { ok: true, value: out.length > 0 ? out : undefined };
}

export function toolConfig(body: Json): Result<Json | undefined> {
  const tc = body.tool_choice;
  if (tc === undefined || tc === null) return { ok: true, value: undefined };
  let config: Json;
  if (tc === 'auto') config = { mode: 'AUTO' };
  else if (tc === 'none') config = { mode: 'NONE' };
  else if (tc === 'required') config = { mode: 'ANY' };
  else if (isObject(tc) && isObject(tc.function) && str(tc.function.name)) config = { mode: 'ANY', allowedFunctionNames: [tc.function.name] };
  else return { ok: false, error: invalidParam('tool_choice', 'must be "auto", "required", "none" or {"type":"function","function":{"name":…}}') };
  return { ok: true, value: { functionCallingConfig: config } };
}
