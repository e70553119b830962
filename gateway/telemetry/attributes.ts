/**
 * Span attributes of a call, written into a sink (spans/sink.ts) as pure functions of the request
 * body and the translated answer: OpenInference keys mirrored in OpenTelemetry GenAI keys.
 * Content (messages, tools, input.value, output.value) only through `sink.content`.
 */
import { hash } from 'node:crypto';
import type { Endpoint, ResponseFacts, Usage } from '../providers/types.js';
import { EMBEDDING_TEXTS, INPUT_MESSAGES, KEYS, OUTPUT_MESSAGES, TOOLS, type MessageKeys } from './spans/keys.js';
import type { AttrSink } from './spans/sink.js';

type Json = Record<string, unknown>;

/** `gen_ai.operation.name` per endpoint. */
export const OPERATION: Record<Endpoint, string> = { chat: 'chat', embeddings: 'embeddings', responses: 'chat', messages: 'chat', generate: 'generate_content' };

/** Body keys that are content, not parameters. */
const CONTENT_KEYS = new Set(['messages', 'input', 'prompt', 'tools', 'functions', 'system', 'instructions', 'stream_options', 'contents', 'systemInstruction']);

export function invocationParameters(body: Json): string {
  const params: Json = {};
  for (const k in body) if (!CONTENT_KEYS.has(k)) params[k] = body[k];
  return JSON.stringify(params);
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asText = (v: unknown): string | undefined => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : JSON.stringify(v));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * OpenAI content parts or Anthropic content blocks → `message.contents.*`, tool calls and results;
 * returns the number of tool calls written. A key is written at most once: of several tool results
 * in one message, the first gives the message's tool_call_id and content.
 */
function writeParts(s: AttrSink, keys: MessageKeys, parts: unknown[], idWritten: boolean): number {
  let j = 0;
  let k = 0;
  let resultWritten = false;
  for (const part of parts) {
    if (!isObj(part)) continue;
    const type = part.type;
    if (type === 'text' || type === 'input_text' || type === 'output_text') {
      const pk = keys.parts.at(j++);
      s.tok(pk.type, 'text');
      s.content(pk.text, asText(part.text));
    } else if (type === 'image_url' || type === 'image') {
      const pk = keys.parts.at(j++);
      s.tok(pk.type, 'image');
      s.content(pk.imageUrl, asText(isObj(part.image_url) ? part.image_url.url : undefined));
    } else if (type === 'tool_use') {
      const tk = keys.toolCalls.at(k++);
      s.str(tk.id, String(part.id ?? ''));
      s.str(tk.name, String(part.name ?? ''));
      s.content(tk.arguments, asText(part.input));
    } else if (type === 'tool_result' && !resultWritten) {
      resultWritten = true;
      if (!idWritten) s.opt(keys.toolCallId, asText(part.tool_use_id));
      s.content(keys.content, asText(part.content));
    }
  }
  return k;
}

function writeMessage(s: AttrSink, keys: MessageKeys, m: Json): void {
  if (typeof m.role === 'string') s.tok(keys.role, m.role);
  s.opt(keys.name, str(m.name));
  const id = str(m.tool_call_id);
  s.opt(keys.toolCallId, id);
  let k = 0;
  if (Array.isArray(m.content)) k = writeParts(s, keys, m.content, id !== undefined);
  else s.content(keys.content, asText(m.content));
  const calls = m.tool_calls;
  if (!Array.isArray(calls)) return;
  for (const tc of calls) {
    if (!isObj(tc)) continue;
    const fn = isObj(tc.function) ? tc.function : {};
    const tk = keys.toolCalls.at(k++);
    s.opt(tk.id, asText(tc.id));
    s.opt(tk.name, asText(fn.name));
    s.content(tk.arguments, asText(fn.arguments));
  }
}

/** The text parts of a Google `Content` (the generate endpoint), joined. */
function partsText(c: unknown): string {
  const parts = isObj(c) && Array.isArray(c.parts) ? c.parts : [];
  return parts.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
}

/** Google's `systemInstruction` + `contents` as chat messages (role `model` is the assistant). */
function contentsAsMessages(body: Json): Json[] {
  const out: Json[] = isObj(body.systemInstruction) ? [{ role: 'system', content: partsText(body.systemInstruction) }] : [];
  const contents = Array.isArray(body.contents) ? body.contents : [];
  for (const c of contents) if (isObj(c)) out.push({ role: c.role === 'model' ? 'assistant' : 'user', content: partsText(c) });
  return out;
}

function writeInputMessages(s: AttrSink, endpoint: Endpoint, body: Json): void {
  let i = 0;
  if (endpoint === 'generate') {
    for (const m of contentsAsMessages(body)) writeMessage(s, INPUT_MESSAGES.at(i++), m);
    return;
  }
  // Anthropic's and the Responses API's system prompt is outside the message list.
  const system = body.system ?? body.instructions;
  if (typeof system === 'string' || Array.isArray(system)) writeMessage(s, INPUT_MESSAGES.at(i++), { role: 'system', content: system });
  const list = Array.isArray(body.messages) ? body.messages : typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  for (const m of list) if (isObj(m)) writeMessage(s, INPUT_MESSAGES.at(i++), m);
}

/** What is known when the request arrives. `rawBody` is the client's JSON text. */
export function writeRequest(s: AttrSink, endpoint: Endpoint, body: Json, rawBody: string): void {
  const model = typeof body.model === 'string' ? body.model : '';
  s.tok(KEYS.genaiOperation, OPERATION[endpoint]);
  s.tok(KEYS.genaiRequestModel, model);
  s.tok(KEYS.llmRequestModel, model);
  if (s.contentOn) {
    s.tok(KEYS.inputMime, 'application/json');
    s.content(KEYS.inputValue, rawBody);
  }
  if (endpoint === 'embeddings') {
    // embedding.model_name is the answering model: written with the answer (writeResponse).
    s.long(KEYS.embeddingInvocationParameters, invocationParameters(body));
    if (!s.contentOn) return;
    const inputs = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : [];
    for (let i = 0; i < inputs.length; i++) if (typeof inputs[i] === 'string') s.content(EMBEDDING_TEXTS.at(i), inputs[i]);
    return;
  }
  s.long(KEYS.llmInvocationParameters, invocationParameters(body));
  // Google's sampling parameters are in generationConfig.
  const g = endpoint === 'generate' && isObj(body.generationConfig) ? body.generationConfig : undefined;
  s.optNum(KEYS.genaiMaxTokens, g ? g.maxOutputTokens : (body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens));
  s.optNum(KEYS.genaiTemperature, (g ?? body).temperature);
  s.optNum(KEYS.genaiTopP, g ? g.topP : body.top_p);
  s.bool(KEYS.genaiRequestStream, body.stream === true);
  if (!s.contentOn) return;
  writeInputMessages(s, endpoint, body);
  const tools = body.tools;
  if (Array.isArray(tools)) for (let i = 0; i < tools.length; i++) s.content(TOOLS.at(i), JSON.stringify(tools[i]));
}

/** Token counts in both conventions. Prompt includes cache reads/writes; completion includes reasoning. */
export function writeUsage(s: AttrSink, u: Usage): void {
  s.num(KEYS.tokenPrompt, u.promptTokens);
  s.num(KEYS.tokenCompletion, u.completionTokens);
  s.num(KEYS.tokenTotal, u.totalTokens);
  s.num(KEYS.genaiInputTokens, u.promptTokens);
  s.num(KEYS.genaiOutputTokens, u.completionTokens);
  if (u.cacheReadTokens) {
    s.num(KEYS.tokenCacheRead, u.cacheReadTokens);
    s.num(KEYS.genaiCacheReadTokens, u.cacheReadTokens);
  }
  if (u.cacheWriteTokens) {
    s.num(KEYS.tokenCacheWrite, u.cacheWriteTokens);
    s.num(KEYS.genaiCacheCreationTokens, u.cacheWriteTokens);
  }
  if (u.reasoningTokens) {
    s.num(KEYS.tokenReasoning, u.reasoningTokens);
    s.num(KEYS.genaiReasoningTokens, u.reasoningTokens);
  }
}

/**
 * What the answer says. `usage` is the provider's or the estimate; `outputValue` is the body sent
 * to the client (or the streamed text).
 */
export function writeResponse(s: AttrSink, endpoint: Endpoint, facts: ResponseFacts, usage: Usage | undefined, requestModel: string, outputValue: string | undefined): void {
  const model = facts.responseModel ?? requestModel;
  s.tok(KEYS.llmModel, model);
  if (endpoint === 'embeddings') s.tok(KEYS.embeddingModel, model);
  if (facts.responseModel) {
    s.tok(KEYS.llmResponseModel, facts.responseModel);
    s.tok(KEYS.genaiResponseModel, facts.responseModel);
  }
  s.opt(KEYS.genaiResponseId, facts.id);
  // written with content capture off too: the application's span of the same call, recorded
  // without traceparent and without a response id, is paired by it (schemas/migrations/0054)
  // crypto.hash: one call, no Hash stream object (about half the CPU of createHash for an answer's text)
  if (facts.outputText) s.str(KEYS.outputDigest, hash('sha256', facts.outputText, 'hex'));
  const reasons = facts.finishReasons;
  if (reasons?.length) {
    s.strs(KEYS.genaiFinishReasons, reasons);
    s.tok(KEYS.llmFinishReason, reasons[0]);
  }
  if (usage) writeUsage(s, usage);
  if (!s.contentOn) return;
  if (outputValue !== undefined) {
    s.tok(KEYS.outputMime, outputValue.startsWith('{') ? 'application/json' : 'text/plain');
    s.content(KEYS.outputValue, outputValue);
  }
  if (endpoint === 'embeddings' || (facts.outputText === undefined && !facts.toolCalls?.length)) return;
  const mk = OUTPUT_MESSAGES.at(0);
  s.tok(mk.role, 'assistant');
  s.content(mk.content, facts.outputText);
  const calls = facts.toolCalls;
  if (!calls) return;
  for (let k = 0; k < calls.length; k++) {
    const tk = mk.toolCalls.at(k);
    s.str(tk.id, calls[k].id);
    s.str(tk.name, calls[k].name);
    s.content(tk.arguments, calls[k].arguments);
  }
}
