/**
 * OpenAI chat request parameters → Anthropic Messages parameters (everything but `messages`).
 *
 * - `max_completion_tokens` / `max_tokens` → `max_tokens` (required by Anthropic: default when absent).
 * - `temperature` is clamped to Anthropic's 0..1 (OpenAI allows up to 2); `top_p`, `top_k` pass.
 * - `stop` (string or list) → `stop_sequences`; `user` → `metadata.user_id`.
 * - `tools` → `tools` with `input_schema`; `tool_choice` auto/required/none/{function} →
 *   auto/any/none/{tool}; `parallel_tool_calls: false` → `disable_parallel_tool_use`.
 * - `response_format`: `json_object` adds an instruction to `system`; `json_schema` forces a tool
 *   whose input schema is the schema, and the answer's tool input becomes the message text (see
 *   `forcedJsonTool`). Anthropic has no plain JSON mode; tool forcing is its documented way.
 * - `n` > 1 and `logprobs` cannot be honoured: 400 naming them. Parameters with no Anthropic
 *   meaning (`seed`, penalties, `logit_bias`, `service_tier`, `reasoning_effort`, `store`,
 *   `metadata`, `prediction`, …) are dropped.
 */
import { invalidParam } from '../../shared/errors.js';
import { isObject, num, str } from '../../shared/helpers.js';
import type { ClientError } from '../../types.js';

type Json = Record<string, unknown>;
type Result<T> = { ok: true; value: T } | { ok: false; error: ClientError };

export const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object and nothing else.';
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The tool a `json_schema` response format is forced through, or undefined. Pure: request and answer agree. */
export function forcedJsonTool(body: Json): { name: string; description: string; schema: Json } | undefined {
  const rf = isObject(body.response_format) ? body.response_format : undefined;
  if (rf?.type !== 'json_schema' || !isObject(rf.json_schema)) return undefined;
  const js = rf.json_schema;
  const name = str(js.name) && TOOL_NAME.test(js.name as string) ? (js.name as string) : 'json_response';
  const schema = isObject(js.schema) ? js.schema : { type: 'object' };
  return { name, description: str(js.description) ?? 'Give the answer as this tool input, matching its schema exactly.', schema };
}

function maxTokens(body: Json, fallback: number): Result<number> {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return { ok: false, error: invalidParam(key, 'must be a positive integer') };
    return { ok: true, value: v };
  }
  return { ok: true, value: fallback };
}

function tools(body: Json): Result<Json[] | undefined> {
  if (body.tools === undefined || body.tools === null) return { ok: true, value: undefined };
  if (!Array.isArray(body.tools)) return { ok: false, error: invalidParam('tools', 'must be an array') };
  const out: Json[] = [];
  for (const [i, t] of body.tools.entries()) {
    const fn = isObject(t) && t.type === 'function' && isObject(t.function) ? t.function : undefined;
    if (!fn || !str(fn.name)) return { ok: false, error: invalidParam(`tools[${i}]`, 'only function tools with a name are supported by anthropic backends') };
    const tool: Json = { name: fn.name, input_schema: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} } };
    if (str(fn.description)) tool.description = fn.description;
    if (isObject(t) && isObject(t.cache_control)) tool.cache_control = t.cache_control;
    out.push(tool);
  }
  return { ok: true, value: out };
}

function toolChoice(body: Json): Result<Json | undefined> {
  const tc = body.tool_choice;
  let out: Json | undefined;
  if (tc === undefined || tc === null) out = undefined;
  else if (tc === 'auto') out = { type: 'auto' };
  else if (tc === 'required') out = { type: 'any' };
  else if (tc === 'none') out = { type: 'none' };
  else if (isObject(tc) && isObject(tc.function) && str(tc.function.name)) out = { type: 'tool', name: tc.function.name };
  else return { ok: false, error: invalidParam('tool_choice', 'must be "auto", "required", "none" or {"type":"function","function":{"name":…}}') };
  if (body.parallel_tool_calls === false && Array.isArray(body.tools) && body.tools.length > 0) {
    out = { ...(out ?? { type: 'auto' }) };
    if (out.type !== 'none') out.disable_parallel_tool_use = true;
  }
  return { ok: true, value: out };
}

function stopSequences(stop: unknown): Result<string[] | undefined> {
  if (stop === undefined || stop === null) return { ok: true, value: undefined };
  if (typeof stop === 'string') return { ok: true, value: [stop] };
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return { ok: true, value: stop as string[] };
  return { ok: false, error: invalidParam('stop', 'must be a string or an array of strings') };
}

function unsupported(body: Json): ClientError | undefined {
  if (body.n !== undefined && body.n !== null && body.n !== 1) return invalidParam('n', 'only 1 is supported by anthropic backends');
  if (body.logprobs === true) return invalidParam('logprobs', 'is not supported by anthropic backends');
  return undefined;
}

/** Every Anthropic parameter but `model`, `messages` and `system`. */
export function convertParams(body: Json, defaultMaxTokens: number): Result<Json> {
  const bad = unsupported(body);
  if (bad) return { ok: false, error: bad };
  const mt = maxTokens(body, defaultMaxTokens);
  if (!mt.ok) return mt;
  const out: Json = { max_tokens: mt.value };
  const temperature = num(body.temperature);
  if (temperature !== undefined) out.temperature = Math.min(1, Math.max(0, temperature));
  if (num(body.top_p) !== undefined) out.top_p = body.top_p;
  if (num(body.top_k) !== undefined) out.top_k = body.top_k;
  const stop = stopSequences(body.stop);
  if (!stop.ok) return stop;
  if (stop.value) out.stop_sequences = stop.value;
  if (body.stream === true) out.stream = true;
  if (str(body.user)) out.metadata = { user_id: body.user };
  const t = tools(body);
  if (!t.ok) return t;
  const tc = toolChoice(body);
  if (!tc.ok) return tc;
  if (t.value && t.value.length > 0) out.tools = t.value;
  if (tc.value && out.tools) out.tool_choice = tc.value;
  const forced = forcedJsonTool(body);
  if (forced) {
    out.tools = [...((out.tools as Json[] | undefined) ?? []), { name: forced.name, description: forced.description, input_schema: forced.schema }];
    out.tool_choice = { type: 'tool', name: forced.name };
  }
  return { ok: true, value: out };
}

/** The `json_object` instruction, appended to the system blocks when asked. */
export function jsonObjectInstruction(body: Json): string | undefined {
  return isObject(body.response_format) && body.response_format.type === 'json_object' ? JSON_OBJECT_INSTRUCTION : undefined;
}
