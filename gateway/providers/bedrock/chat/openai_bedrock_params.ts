/**
 * OpenAI chat request parameters → Bedrock Converse `inferenceConfig` and `toolConfig`.
 *
 * - `max_completion_tokens` / `max_tokens` → `maxTokens` (optional in Converse: the model's default when absent).
 * - `temperature` clamped to 0..1 (the range of every model family on Bedrock; OpenAI allows 2),
 *   `top_p` → `topP`, `stop` (string or list) → `stopSequences`.
 * - `tools` → `tools: [{toolSpec: {name, description, inputSchema: {json}}}]` (a `cache_control` on
 *   a tool adds a `cachePoint` after it); `tool_choice` auto/required/{function} →
 *   `{auto: {}}` / `{any: {}}` / `{tool: {name}}`. Converse has no "none": with `none` the tools
 *   are left out, unless the conversation already holds tool calls or results (Converse then
 *   requires the toolConfig), where they are sent without a choice. A conversation with tool
 *   calls but no `tools` declares the tools it called, with an open schema, for the same reason.
 * - `response_format`: `json_object` adds an instruction to `system`; `json_schema` forces a tool
 *   whose input schema is the schema, and its input comes back as the message text (the same
 *   rule as the Anthropic translator: Converse has no JSON mode of its own).
 * - `n` > 1 and `logprobs` cannot be honoured: 400 naming them. `seed`, penalties, `logit_bias`,
 *   `user`, `top_k`, `parallel_tool_calls`, `reasoning_effort`, `service_tier`, `store`,
 *   `metadata`, … have no Converse field and are dropped.
 */
import { forcedJsonTool, jsonObjectInstruction } from '../../anthropic/chat/openai_anthropic_params.js';
import { invalidParam } from '../../shared/errors.js';
import { isObject, num, str } from '../../shared/helpers.js';
import { maxTokens, stopSequences } from '../../shared/params.js';
import type { ClientError } from '../../types.js';
import { type Block, CACHE_POINT, type Result } from './openai_bedrock_messages.js';

type Json = Record<string, unknown>;

export interface ConverseParams {
  inferenceConfig?: Json;
  toolConfig?: Json;
  /** Text appended to the system blocks (the json_object instruction). */
  systemExtra?: string;
}

function inferenceConfig(body: Json): Result<Json | undefined> {
  const mt = maxTokens(body);
  if (!mt.ok) return mt;
  const stop = stopSequences(body.stop);
  if (!stop.ok) return stop;
  const out: Json = {};
  if (mt.value !== undefined) out.maxTokens = mt.value;
  const temperature = num(body.temperature);
  if (temperature !== undefined) out.temperature = Math.min(1, Math.max(0, temperature));
  if (num(body.top_p) !== undefined) out.topP = body.top_p;
  if (stop.value) out.stopSequences = stop.value;
  return { ok: true, value: Object.keys(out).length > 0 ? out : undefined };
}

function toolSpecs(body: Json): Result<Block[]> {
  if (body.tools === undefined || body.tools === null) return { ok: true, value: [] };
  if (!Array.isArray(body.tools)) return { ok: false, error: invalidParam('tools', 'must be an array') };
  const out: Block[] = [];
  for (const [i, t] of body.tools.entries()) {
    const fn = isObject(t) && t.type === 'function' && isObject(t.function) ? t.function : undefined;
    if (!fn || !str(fn.name)) return { ok: false, error: invalidParam(`tools[${i}]`, 'only function tools with a name are supported by bedrock backends') };
    const spec: Json = { name: fn.name };
    if (str(fn.description)) spec.description = fn.description;
    spec.inputSchema = { json: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} } };
    out.push({ toolSpec: spec });
    if (isObject(t) && isObject(t.cache_control)) out.push({ ...CACHE_POINT });
  }
  return { ok: true, value: out };
}

type Choice = { choice: Json | undefined } | { none: true };

function toolChoice(tc: unknown): Result<Choice> {
  if (tc === undefined || tc === null || tc === 'auto') return { ok: true, value: { choice: tc === 'auto' ? { auto: {} } : undefined } };
  if (tc === 'required') return { ok: true, value: { choice: { any: {} } } };
  if (tc === 'none') return { ok: true, value: { none: true } };
  if (isObject(tc) && isObject(tc.function) && str(tc.function.name)) return { ok: true, value: { choice: { tool: { name: tc.function.name } } } };
  return { ok: false, error: invalidParam('tool_choice', 'must be "auto", "required", "none" or {"type":"function","function":{"name":…}}') };
}

/** What the conversation says about tools: whether it holds tool use or results, and the tools it called. */
export interface ToolHistory {
  usesTools: boolean;
  toolsUsed: string[];
}

function toolConfig(body: Json, history: ToolHistory): Result<Json | undefined> {
  const specs = toolSpecs(body);
  if (!specs.ok) return specs;
  const tc = toolChoice(body.tool_choice);
  if (!tc.ok) return tc;
  let tools = specs.value;
  let choice = 'choice' in tc.value ? tc.value.choice : undefined;
  if ('none' in tc.value && !history.usesTools) tools = [];
  // Tool calls in the conversation but no tools offered (clients often drop them after the
  // calls): Converse refuses that, so the tools called are declared with an open schema.
  if (tools.length === 0 && history.usesTools) tools = history.toolsUsed.map((name) => ({ toolSpec: { name, inputSchema: { json: { type: 'object' } } } }));
  const forced = forcedJsonTool(body);
  if (forced) {
    tools = [...tools, { toolSpec: { name: forced.name, description: forced.description, inputSchema: { json: forced.schema } } }];
    choice = { tool: { name: forced.name } };
  }
  if (tools.length === 0) return { ok: true, value: undefined };
  const out: Json = { tools };
  if (choice) out.toolChoice = choice;
  return { ok: true, value: out };
}

function unsupported(body: Json): ClientError | undefined {
  if (body.n !== undefined && body.n !== null && body.n !== 1) return invalidParam('n', 'only 1 is supported by bedrock backends');
  if (body.logprobs === true) return invalidParam('logprobs', 'is not supported by bedrock backends');
  return undefined;
}

/** Everything of a Converse request but `messages` and `system`. */
export function convertParams(body: Json, history: ToolHistory): Result<ConverseParams> {
  const bad = unsupported(body);
  if (bad) return { ok: false, error: bad };
  const ic = inferenceConfig(body);
  if (!ic.ok) return ic;
  const tc = toolConfig(body, history);
  if (!tc.ok) return tc;
  const out: ConverseParams = {};
  if (ic.value) out.inferenceConfig = ic.value;
  if (tc.value) out.toolConfig = tc.value;
  const extra = jsonObjectInstruction(body);
  if (extra) out.systemExtra = extra;
  return { ok: true, value: out };
}
