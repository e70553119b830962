import { OI } from '../../../common/semconv.js';
import type { Attributes } from '../../model.js';
import { attrString, firstStr, tryJson, type Patch } from '../attrs.js';
import type { Seen } from './detect.js';
import { genaiMessages, hasMessages, messagesText, openllmetryMessages, vercelPromptMessages, vercelToolCalls, writeMessages, type Msg } from './messages.js';
import { providerNames } from './providers.js';
import { spanTokens } from './usage.js';

const REQUEST_MODEL = ['gen_ai.request.model', 'ai.model.id', 'llm.request.model'];
const RESPONSE_MODEL = ['gen_ai.response.model', 'ai.response.model', 'llm.response.model'];
const PROVIDER = ['gen_ai.provider.name', 'gen_ai.system', 'ai.model.provider', 'llm.vendor'];

/** Model, provider and vendor. Embedding spans carry `embedding.model_name` and no `llm.system`. */
export function fillModel(p: Patch, a: Attributes, embedding: boolean): void {
  const request = firstStr(a, REQUEST_MODEL);
  const response = firstStr(a, RESPONSE_MODEL);
  const model = p.get(OI.LLM_MODEL_NAME) ?? p.get(OI.EMBEDDING_MODEL_NAME) ?? response ?? request;
  if (embedding) p.fill(OI.EMBEDDING_MODEL_NAME, model);
  else {
    p.fill(OI.LLM_MODEL_NAME, model);
    p.fill(OI.LLM_REQUEST_MODEL_NAME, request);
    p.fill(OI.LLM_RESPONSE_MODEL_NAME, response);
  }
  // An OpenInference span with a provider but no system gets the system from it and the model.
  const raw = firstStr(a, PROVIDER) ?? p.get(OI.LLM_PROVIDER);
  if (raw === undefined) return;
  const names = providerNames(raw, model);
  p.fill(OI.LLM_PROVIDER, names.provider);
  if (!embedding) p.fill(OI.LLM_SYSTEM, names.system);
}

export function fillTokens(p: Patch, a: Attributes, seen: Seen): void {
  const prompt = p.get(OI.TOKEN_PROMPT);
  const completion = p.get(OI.TOKEN_COMPLETION);
  if (prompt !== undefined || completion !== undefined) {
    // OpenInference counts are taken as sent; only the total is completed.
    if (!p.has(OI.TOKEN_TOTAL)) p.fill(OI.TOKEN_TOTAL, (Number(prompt) || 0) + (Number(completion) || 0));
    return;
  }
  const t = spanTokens(a, seen);
  if (!t) return;
  p.fill(OI.TOKEN_PROMPT, t.prompt);
  p.fill(OI.TOKEN_COMPLETION, t.completion);
  p.fill(OI.TOKEN_TOTAL, t.total);
  p.fill(OI.TOKEN_PROMPT_CACHE_READ, t.cacheRead);
  p.fill(OI.TOKEN_PROMPT_CACHE_WRITE, t.cacheWrite);
  p.fill(OI.TOKEN_COMPLETION_REASONING, t.reasoning);
}

/** `gen_ai.response.finish_reasons` is a string array (JSON in the exporter's map) or a bare value. */
function firstFinishReason(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!raw.startsWith('[')) return raw;
  const list = tryJson(raw);
  return Array.isArray(list) && typeof list[0] === 'string' ? list[0] : undefined;
}

const PARAMS: ReadonlyArray<readonly [string, string]> = [
  ['gen_ai.request.max_tokens', 'max_tokens'],
  ['gen_ai.request.temperature', 'temperature'],
  ['gen_ai.request.top_p', 'top_p'],
  ['gen_ai.request.top_k', 'top_k'],
  ['gen_ai.request.presence_penalty', 'presence_penalty'],
  ['gen_ai.request.frequency_penalty', 'frequency_penalty'],
  ['gen_ai.request.seed', 'seed'],
  ['gen_ai.request.stop_sequences', 'stop_sequences'],
  ['ai.settings.maxOutputTokens', 'max_tokens'],
  ['ai.settings.maxTokens', 'max_tokens'],
  ['ai.settings.temperature', 'temperature'],
  ['ai.settings.topP', 'top_p'],
  ['ai.settings.topK', 'top_k'],
  ['ai.settings.presencePenalty', 'presence_penalty'],
  ['ai.settings.frequencyPenalty', 'frequency_penalty'],
  ['ai.settings.seed', 'seed'],
  ['ai.settings.stopSequences', 'stop_sequences'],
];

function paramValue(raw: string): unknown {
  const parsed = raw === '' ? undefined : Number(raw);
  if (parsed !== undefined && Number.isFinite(parsed)) return parsed;
  return raw.startsWith('[') ? (tryJson(raw) ?? raw) : raw;
}

export function fillInvocationParameters(p: Patch, a: Attributes): void {
  if (p.has(OI.LLM_INVOCATION_PARAMETERS)) return;
  let params: Record<string, unknown> | undefined;
  for (const [key, name] of PARAMS) {
    const raw = a[key];
    if (raw === undefined || (params && name in params)) continue;
    (params ??= {})[name] = paramValue(raw);
  }
  if (a['gen_ai.output.type'] === 'json') (params ??= {}).response_format = { type: 'json_object' };
  if (params) p.fill(OI.LLM_INVOCATION_PARAMETERS, JSON.stringify(params));
}

interface Conversation {
  input: Msg[];
  output: Msg[];
  /** The raw request content, for `input.value` (JSON). */
  inputValue?: string;
}

/** The messages of whichever convention the span records them in; a side not wanted is not parsed. */
function conversation(a: Attributes, seen: Seen, wantIn: boolean, wantOut: boolean): Conversation {
  if (a['gen_ai.input.messages'] !== undefined || a['gen_ai.output.messages'] !== undefined) {
    return {
      input: wantIn ? genaiMessages(a['gen_ai.input.messages']) : [],
      output: wantOut ? genaiMessages(a['gen_ai.output.messages']) : [],
      inputValue: a['gen_ai.input.messages'],
    };
  }
  if (seen.openllmetry) {
    const old = a['gen_ai.prompt.0.role'] === undefined && a['gen_ai.completion.0.role'] === undefined && a['gen_ai.prompt.0.content'] === undefined;
    const input = wantIn ? openllmetryMessages(a, old ? 'llm.prompts.' : 'gen_ai.prompt.') : [];
    const output = wantOut ? openllmetryMessages(a, old ? 'llm.completions.' : 'gen_ai.completion.') : [];
    if (input.length || output.length) return { input, output, inputValue: input.length ? JSON.stringify(input) : undefined };
  }
  if (seen.vercel) {
    const text = a['ai.response.text'];
    const calls = wantOut ? vercelToolCalls(a['ai.response.toolCalls']) : [];
    const output: Msg[] = text !== undefined || calls.length ? [{ role: 'assistant', content: text, toolCalls: calls.length ? calls : undefined }] : [];
    return { input: wantIn ? vercelPromptMessages(a['ai.prompt.messages']) : [], output, inputValue: a['ai.prompt.messages'] };
  }
  return { input: [], output: [] };
}

/** Messages, input/output values and the finish reason of an LLM span. */
export function fillConversation(p: Patch, a: Attributes, seen: Seen): void {
  p.fill(OI.LLM_FINISH_REASON, firstFinishReason(a['gen_ai.response.finish_reasons']) ?? a['ai.response.finishReason']);
  fillTools(p, a);
  const wantIn = !hasMessages(p, OI.LLM_INPUT_MESSAGES) || !p.has(OI.INPUT_VALUE);
  const wantOut = !hasMessages(p, OI.LLM_OUTPUT_MESSAGES) || !p.has(OI.OUTPUT_VALUE) || !p.has(OI.LLM_FINISH_REASON);
  // Spans that carry both conventions (the gateway's) already have it all: nothing is parsed.
  if (!wantIn && !wantOut) return;
  const c = conversation(a, seen, wantIn, wantOut);
  if (!hasMessages(p, OI.LLM_INPUT_MESSAGES)) writeMessages(p, OI.LLM_INPUT_MESSAGES, c.input);
  if (!hasMessages(p, OI.LLM_OUTPUT_MESSAGES)) writeMessages(p, OI.LLM_OUTPUT_MESSAGES, c.output);
  if (!p.has(OI.INPUT_VALUE) && c.inputValue !== undefined) {
    p.fill(OI.INPUT_VALUE, c.inputValue);
    p.fill(OI.INPUT_MIME_TYPE, 'application/json');
  }
  if (!p.has(OI.OUTPUT_VALUE)) {
    const object = a['ai.response.object'];
    const text = messagesText(c.output);
    const value = object ?? text ?? (c.output.some((m) => m.toolCalls) ? JSON.stringify(c.output) : undefined);
    p.fill(OI.OUTPUT_VALUE, value);
    if (value !== undefined) p.fill(OI.OUTPUT_MIME_TYPE, object !== undefined || text === undefined ? 'application/json' : 'text/plain');
  }
  p.fill(OI.LLM_FINISH_REASON, c.output.find((m) => m.finishReason)?.finishReason);
}

/** `gen_ai.tool.definitions` (JSON array) and the AI SDK's `ai.prompt.tools` (array of JSON strings). */
function fillTools(p: Patch, a: Attributes): void {
  if (p.has('llm.tools.0.tool.json_schema')) return;
  const defs = tryJson(a['gen_ai.tool.definitions'] ?? a['ai.prompt.tools']);
  if (!Array.isArray(defs)) return;
  defs.forEach((d, i) => {
    p.fill(`llm.tools.${i}.tool.json_schema`, attrString(d));
  });
}
