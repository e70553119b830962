/**
 * A loopback stand-in for Anthropic's Messages API.
 *
 *   const a = await startAnthropicStub({ apiKey: 'sk-ant-test', usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 } });
 *   new Anthropic({ baseURL: a.url, apiKey: 'sk-ant-test' });   // a.url = http://127.0.0.1:PORT
 *   a.requests / a.failNext(1, 529) / a.hangNext(1) / a.setDelays({...}) / a.set({...})
 *   await a.waitForAbort(); await a.close();
 *
 * POST /v1/messages, JSON or SSE. It checks requests the way the API does (an `anthropic-version`
 * header; `model`, `max_tokens`, non-empty `messages` with only user/assistant roles;
 * `temperature` within 0..1; non-empty text blocks; `tool_choice` only with `tools`) and answers
 * 400 `invalid_request_error` otherwise, so a bad translation fails loudly. Streams send the exact
 * event sequence: message_start (input and cache usage, output_tokens 1), per block
 * content_block_start / content_block_delta (text_delta or input_json_delta) /
 * content_block_stop, a ping after the first block start, message_delta (stop_reason,
 * output_tokens), message_stop. Errors use `{type:"error",error:{type,message},request_id}`.
 */
import { defaultReply, type ReplyFn, stubId, type StubReply, type StubUsage, usageFor } from './reply.js';
import { type Exchange, type FailSpec, fragments, pieces, type StubServer, startStubServer } from './stub.js';

export interface AnthropicStubOptions {
  /** When set, requests must carry `x-api-key: KEY` or `authorization: Bearer KEY` (the SDK's 1.x way). */
  apiKey?: string;
  reply?: ReplyFn;
  usage?: StubUsage;
  responseModel?: string;
}

export interface AnthropicStub extends StubServer {
  /** Base URL for @anthropic-ai/sdk and for a gateway backend: `http://127.0.0.1:PORT`. */
  url: string;
  set(opts: Partial<AnthropicStubOptions>): void;
}

const TYPES: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'Invalid request.'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'The requested resource could not be found.'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of requests has exceeded your rate limit.'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

export function anthropicErrorBody(spec: FailSpec) {
  const [type, message] = TYPES[spec.status] ?? [spec.status >= 500 ? 'api_error' : 'invalid_request_error', `Error ${spec.status}`];
  return { type: 'error', error: { type, message: spec.message ?? message }, request_id: 'req_stub' };
}

/** The first problem the real API would report, or undefined. */
export function validateMessagesRequest(body: any): string | undefined {
  if (typeof body.model !== 'string' || !body.model) return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required';
  for (const [i, m] of body.messages.entries()) {
    if (m?.role !== 'user' && m?.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return `messages.${i}.content: Field required`;
    if (Array.isArray(m.content) && m.content.some((b: any) => b?.type === 'text' && !b.text)) {
      return `messages.${i}.content: text content blocks must be non-empty`;
    }
  }
  if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 1)) return 'temperature: Input should be less than or equal to 1';
  if (body.tool_choice !== undefined && !Array.isArray(body.tools)) return 'tool_choice may only be specified while providing tools.';
  if (Array.isArray(body.tools) && body.tools.some((t: any) => !t?.name || typeof t.input_schema !== 'object')) return 'tools: each tool needs name and input_schema';
  return undefined;
}

function usageJson(u: StubUsage, output = u.output) {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite ?? 0,
    cache_read_input_tokens: u.cacheRead ?? 0,
    output_tokens: output,
    service_tier: 'standard',
  };
}

function blocks(reply: StubReply) {
  const out: Record<string, unknown>[] = [];
  if (reply.text) out.push({ type: 'text', text: reply.text });
  for (const c of reply.toolCalls ?? []) out.push({ type: 'tool_use', id: c.id ?? stubId('toolu_'), name: c.name, input: JSON.parse(c.arguments || '{}') });
  return out;
}

const stopOf = (reply: StubReply) => reply.finishReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn');

export function message(model: string, reply: StubReply, usage: StubUsage) {
  return {
    id: stubId('msg_'),
    type: 'message',
    role: 'assistant',
    model,
    content: blocks(reply),
    stop_reason: stopOf(reply),
    stop_sequence: null,
    usage: usageJson(usage),
  };
}

/** The stream's events, each with its `type` (Bedrock's InvokeModel stream carries them as they are). */
export function streamEvents(model: string, reply: StubReply, usage: StubUsage): Record<string, unknown>[] {
  const ev = (type: string, data: Record<string, unknown>) => ({ type, ...data });
  const start = { id: stubId('msg_'), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usageJson(usage, 1) };
  const out = [ev('message_start', { message: start })];
  blocks(reply).forEach((b, index) => {
    if (b.type === 'text') {
      out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      if (index === 0) out.push(ev('ping', {}));
      for (const p of pieces(b.text as string)) out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } }));
    } else {
      out.push(ev('content_block_start', { index, content_block: { ...b, input: {} } }));
      if (index === 0) out.push(ev('ping', {}));
      for (const f of fragments(JSON.stringify(b.input))) out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: f } }));
    }
    out.push(ev('content_block_stop', { index }));
  });
  out.push(ev('message_delta', { delta: { stop_reason: stopOf(reply), stop_sequence: null }, usage: { output_tokens: usage.output } }), ev('message_stop', {}));
  return out;
}

const events = (model: string, reply: StubReply, usage: StubUsage): string[] => streamEvents(model, reply, usage).map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);

export async function startAnthropicStub(initial: AnthropicStubOptions = {}): Promise<AnthropicStub> {
  let opts: AnthropicStubOptions = { ...initial };
  const fail = (ex: Exchange, status: number, message: string) => ex.json(status, anthropicErrorBody({ status, message }));

  async function route(ex: Exchange): Promise<void> {
    const { rec } = ex;
    if (opts.apiKey && rec.headers['x-api-key'] !== opts.apiKey && rec.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return fail(ex, 401, 'invalid x-api-key');
    }
    if (rec.method !== 'POST' || rec.path !== '/v1/messages') return fail(ex, 404, `Not found: ${rec.method} ${rec.path}`);
    if (!rec.headers['anthropic-version']) return fail(ex, 400, 'anthropic-version: header is required');
    if (rec.body === null || typeof rec.body !== 'object') return fail(ex, 400, 'There was an issue with the JSON body of your request.');
    const problem = validateMessagesRequest(rec.body);
    if (problem) return fail(ex, 400, problem);
    const reply = (opts.reply ?? defaultReply)(rec.body);
    const usage = usageFor(rec.body, reply, opts.usage);
    const model = reply.model ?? opts.responseModel ?? rec.body.model;
    if (rec.body.stream === true) return ex.sse(events(model, reply, usage));
    return ex.json(200, message(model, reply, usage), { 'request-id': 'req_stub' });
  }

  const server = await startStubServer(route, anthropicErrorBody);
  return {
    ...server,
    url: server.origin,
    set(o) {
      opts = { ...opts, ...o };
    },
  };
}
