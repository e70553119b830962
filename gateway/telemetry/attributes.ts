/**
 * Span attributes of a call, as pure functions of the request body and the translated answer:
 * OpenInference keys mirrored in OpenTelemetry GenAI keys. Content (messages, input.value,
 * output.value) only through `Content`.
 */
import type { Attributes } from '@opentelemetry/api';
import { GENAI, OI, oiMessageKey } from '../../common/semconv.js';
import type { Provider } from '../config/schema.js';
import type { Endpoint, ResponseFacts, Usage } from '../translators/types.js';
import { Content, setAttr } from './content.js';

type Json = Record<string, unknown>;

/** `gen_ai.operation.name` per endpoint. */
export const OPERATION: Record<Endpoint, string> = { chat: 'chat', embeddings: 'embeddings', responses: 'chat', messages: 'chat' };

/** llm.system (model vendor), llm.provider (host) and gen_ai.provider.name for a backend. */
export function providerNames(p: Provider): { system: string; provider: string; genai: string } {
  switch (p) {
    case 'openai':
      return { system: 'openai', provider: 'openai', genai: 'openai' };
    case 'azure':
      return { system: 'openai', provider: 'azure', genai: 'azure.ai.openai' };
    case 'anthropic':
      return { system: 'anthropic', provider: 'anthropic', genai: 'anthropic' };
    case 'simulated':
      return { system: 'openai', provider: 'simulated', genai: 'simulated' };
    default: {
      const never: never = p;
      throw new Error(`unknown provider ${String(never)}`);
    }
  }
}

/** Body keys that are content, not parameters. */
const CONTENT_KEYS = new Set(['messages', 'input', 'prompt', 'tools', 'functions', 'system', 'instructions', 'stream_options']);

export function invocationParameters(body: Json): string {
  const params: Json = {};
  for (const k in body) if (!CONTENT_KEYS.has(k)) params[k] = body[k];
  return JSON.stringify(params);
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asText = (v: unknown): string | undefined => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : JSON.stringify(v));

/** OpenAI content parts or Anthropic content blocks → `message.contents.*`, tool calls and results. */
function putParts(a: Attributes, c: Content, prefix: string, parts: unknown[]): void {
  let j = 0;
  let k = 0;
  for (const part of parts) {
    if (!isObj(part)) continue;
    const type = part.type;
    if (type === 'text' || type === 'input_text' || type === 'output_text') {
      a[`${prefix}.contents.${j}.message_content.type`] = 'text';
      c.put(a, `${prefix}.contents.${j++}.message_content.text`, asText(part.text));
    } else if (type === 'image_url' || type === 'image') {
      a[`${prefix}.contents.${j}.message_content.type`] = 'image';
      const url = isObj(part.image_url) ? part.image_url.url : undefined;
      c.put(a, `${prefix}.contents.${j++}.message_content.image.image.url`, asText(url));
    } else if (type === 'tool_use') {
      a[`${prefix}.tool_calls.${k}.tool_call.id`] = String(part.id ?? '');
      a[`${prefix}.tool_calls.${k}.tool_call.function.name`] = String(part.name ?? '');
      c.put(a, `${prefix}.tool_calls.${k++}.tool_call.function.arguments`, asText(part.input));
    } else if (type === 'tool_result') {
      setAttr(a, `${prefix}.tool_call_id`, asText(part.tool_use_id));
      c.put(a, `${prefix}.content`, asText(part.content));
    }
  }
}

function putMessage(a: Attributes, c: Content, list: 'llm.input_messages' | 'llm.output_messages', i: number, m: Json): void {
  const p = `${list}.${i}.message`;
  setAttr(a, `${p}.role`, typeof m.role === 'string' ? m.role : undefined);
  if (typeof m.name === 'string') a[`${p}.name`] = m.name;
  if (typeof m.tool_call_id === 'string') a[`${p}.tool_call_id`] = m.tool_call_id;
  if (Array.isArray(m.content)) putParts(a, c, p, m.content);
  else c.put(a, `${p}.content`, asText(m.content));
  if (Array.isArray(m.tool_calls)) {
    m.tool_calls.forEach((tc, k) => {
      if (!isObj(tc)) return;
      const fn = isObj(tc.function) ? tc.function : {};
      setAttr(a, `${p}.tool_calls.${k}.tool_call.id`, asText(tc.id));
      setAttr(a, `${p}.tool_calls.${k}.tool_call.function.name`, asText(fn.name));
      c.put(a, `${p}.tool_calls.${k}.tool_call.function.arguments`, asText(fn.arguments));
    });
  }
}

function putInputMessages(a: Attributes, c: Content, body: Json): void {
  let i = 0;
  // Anthropic's and the Responses API's system prompt is outside the message list.
  const system = body.system ?? body.instructions;
  if (typeof system === 'string' || Array.isArray(system)) {
    putMessage(a, c, OI.LLM_INPUT_MESSAGES, i++, { role: 'system', content: system });
  }
  const list = Array.isArray(body.messages) ? body.messages : typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  for (const m of list) if (isObj(m)) putMessage(a, c, OI.LLM_INPUT_MESSAGES, i++, m);
}

function putTools(a: Attributes, c: Content, tools: unknown): void {
  if (!Array.isArray(tools)) return;
  tools.forEach((t, i) => c.put(a, `${OI.LLM_TOOLS}.${i}.tool.json_schema`, JSON.stringify(t)));
}

/** What is known when the request arrives. `rawBody` is the client's JSON text. */
export function requestAttributes(endpoint: Endpoint, body: Json, rawBody: string, c: Content): Attributes {
  const a: Attributes = {};
  const model = typeof body.model === 'string' ? body.model : '';
  a[GENAI.OPERATION_NAME] = OPERATION[endpoint];
  a[GENAI.REQUEST_MODEL] = model;
  a[OI.LLM_REQUEST_MODEL_NAME] = model;
  if (c.on) {
    a[OI.INPUT_MIME_TYPE] = 'application/json';
    c.put(a, OI.INPUT_VALUE, rawBody);
  }
  if (endpoint === 'embeddings') {
    a[OI.EMBEDDING_MODEL_NAME] = model;
    a['embedding.invocation_parameters'] = invocationParameters(body);
    const inputs = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    inputs.forEach((t, i) => typeof t === 'string' && c.put(a, `embedding.embeddings.${i}.embedding.text`, t));
    return a;
  }
  a[OI.LLM_INVOCATION_PARAMETERS] = invocationParameters(body);
  setAttr(a, GENAI.REQUEST_MAX_TOKENS, numberOf(body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens));
  setAttr(a, GENAI.REQUEST_TEMPERATURE, numberOf(body.temperature));
  setAttr(a, GENAI.REQUEST_TOP_P, numberOf(body.top_p));
  a[GENAI.REQUEST_STREAM] = body.stream === true;
  if (c.on) {
    putInputMessages(a, c, body);
    putTools(a, c, body.tools);
  }
  return a;
}

const numberOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Token counts in both conventions. Prompt includes cache reads/writes; completion includes reasoning. */
export function usageAttributes(a: Attributes, u: Usage): void {
  a[OI.TOKEN_PROMPT] = u.promptTokens;
  a[OI.TOKEN_COMPLETION] = u.completionTokens;
  a[OI.TOKEN_TOTAL] = u.totalTokens;
  a[GENAI.USAGE_INPUT_TOKENS] = u.promptTokens;
  a[GENAI.USAGE_OUTPUT_TOKENS] = u.completionTokens;
  if (u.cacheReadTokens) {
    a[OI.TOKEN_PROMPT_CACHE_READ] = u.cacheReadTokens;
    a[GENAI.USAGE_CACHE_READ_INPUT_TOKENS] = u.cacheReadTokens;
  }
  if (u.cacheWriteTokens) {
    a[OI.TOKEN_PROMPT_CACHE_WRITE] = u.cacheWriteTokens;
    a[GENAI.USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWriteTokens;
  }
  if (u.reasoningTokens) {
    a[OI.TOKEN_COMPLETION_REASONING] = u.reasoningTokens;
    a[GENAI.USAGE_REASONING_OUTPUT_TOKENS] = u.reasoningTokens;
  }
}

/**
 * What the answer says, written into `a`. `usage` is the provider's or the estimate;
 * `outputValue` is the body sent to the client (or the streamed text).
 */
export function responseAttributes(a: Attributes, endpoint: Endpoint, facts: ResponseFacts, usage: Usage | undefined, requestModel: string, outputValue: string | undefined, c: Content): void {
  const model = facts.responseModel ?? requestModel;
  a[OI.LLM_MODEL_NAME] = model;
  if (endpoint === 'embeddings') a[OI.EMBEDDING_MODEL_NAME] = model;
  if (facts.responseModel) {
    a[OI.LLM_RESPONSE_MODEL_NAME] = facts.responseModel;
    a[GENAI.RESPONSE_MODEL] = facts.responseModel;
  }
  setAttr(a, GENAI.RESPONSE_ID, facts.id);
  if (facts.finishReasons?.length) {
    a[GENAI.RESPONSE_FINISH_REASONS] = facts.finishReasons;
    a[OI.LLM_FINISH_REASON] = facts.finishReasons[0];
  }
  if (usage) usageAttributes(a, usage);
  if (!c.on) return;
  if (outputValue !== undefined) {
    a[OI.OUTPUT_MIME_TYPE] = outputValue.startsWith('{') ? 'application/json' : 'text/plain';
    c.put(a, OI.OUTPUT_VALUE, outputValue);
  }
  if (endpoint !== 'embeddings' && (facts.outputText !== undefined || facts.toolCalls?.length)) {
    a[oiMessageKey(OI.LLM_OUTPUT_MESSAGES, 0, 'role')] = 'assistant';
    c.put(a, oiMessageKey(OI.LLM_OUTPUT_MESSAGES, 0, 'content'), facts.outputText);
    facts.toolCalls?.forEach((tc, k) => {
      const p = `${OI.LLM_OUTPUT_MESSAGES}.0.message.tool_calls.${k}.tool_call`;
      a[`${p}.id`] = tc.id;
      a[`${p}.function.name`] = tc.name;
      c.put(a, `${p}.function.arguments`, tc.arguments);
    });
  }
}
