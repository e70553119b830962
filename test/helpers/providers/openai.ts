/**
 * A loopback stand-in for OpenAI (and Azure OpenAI, and any OpenAI-compatible server).
 *
 *   const p = await startOpenAIStub({ apiKey: 'sk-test' });
 *   new OpenAI({ baseURL: p.url, apiKey: 'sk-test' });    // p.url = http://127.0.0.1:PORT/v1
 *   p.requests            // every request: method, path, query, headers, body, aborted, completed
 *   p.failNext(2, 500)    // the next two answers: 500 in OpenAI's error envelope
 *   p.failNext(1, 429, { retryAfter: 1 })
 *   p.hangNext(1)         // accept and never answer
 *   p.setDelays({ beforeHeadersMs: 50, betweenChunksMs: 10 })
 *   p.set({ omitUsage: true, reply: (body) => ({ text: 'hi' }) })
 *   await p.waitForAbort() // a client that left mid-answer
 *   await p.close()
 *
 * Routes: POST /v1/chat/completions (JSON and SSE), POST /v1/embeddings, POST /v1/responses
 * (JSON and SSE), GET /v1/models, and Azure's POST /openai/deployments/{d}/chat/completions and
 * /embeddings (`api-version` query required, key in `api-key`). Answers are deterministic
 * (reply.ts); `created` is the real clock. Streams follow OpenAI exactly: role chunk first,
 * content or tool-call argument deltas, finish chunk, then — only with
 * `stream_options.include_usage` — a usage chunk with `choices: []` (every earlier chunk then
 * carries `usage: null`), then `data: [DONE]`. `omitUsage` plays a server that reports no usage.
 */
import * as wire from './openai_wire.js';
import { defaultReply, type ReplyFn, type StubUsage, usageFor } from './reply.js';
import { type Exchange, type FailSpec, roughTokens, type StubServer, startStubServer } from './stub.js';

export interface OpenAIStubOptions {
  /** When set, requests must carry `authorization: Bearer KEY` (Azure paths: `api-key: KEY`). */
  apiKey?: string;
  reply?: ReplyFn;
  /** Fixed usage for every answer (default: a rough count of request and answer). */
  usage?: StubUsage;
  /** Never report usage: no `usage` field, no usage chunk. */
  omitUsage?: boolean;
  /** The model named in answers (default: the requested model). */
  responseModel?: string;
  /** Served by GET /v1/models. */
  models?: string[];
  embeddingDims?: number;
}

export interface OpenAIStub extends StubServer {
  /** Base URL for the openai SDK and for a gateway backend: `http://127.0.0.1:PORT/v1`. */
  url: string;
  set(opts: Partial<OpenAIStubOptions>): void;
}

const TYPES: Record<number, [type: string, code: string | null, message: string]> = {
  400: ['invalid_request_error', null, 'Invalid request.'],
  401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'],
  403: ['invalid_request_error', 'unsupported_country_region_territory', 'Country, region, or territory not supported.'],
  404: ['invalid_request_error', 'model_not_found', 'The model does not exist or you do not have access to it.'],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests. Please try again later.'],
  500: ['server_error', null, 'The server had an error while processing your request. Sorry about that!'],
  503: ['server_error', null, 'The engine is currently overloaded, please try again later.'],
};

export function openAIErrorBody(spec: FailSpec) {
  const [type, code, message] = TYPES[spec.status] ?? [spec.status >= 500 ? 'server_error' : 'invalid_request_error', null, `Error ${spec.status}.`];
  return { error: { message: spec.message ?? message, type, param: null, code } };
}

const AZURE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;

export async function startOpenAIStub(initial: OpenAIStubOptions = {}): Promise<OpenAIStub> {
  let opts: OpenAIStubOptions = { ...initial };
  const now = () => Math.floor(Date.now() / 1000);

  const fail = (ex: Exchange, status: number, message: string, param: string | null = null, code: string | null = null) =>
    ex.json(status, { error: { ...openAIErrorBody({ status, message }).error, param, ...(code ? { code } : {}) } });

  function authorized(ex: Exchange, azure: boolean): boolean {
    if (!opts.apiKey) return true;
    const h = ex.rec.headers;
    return azure ? h['api-key'] === opts.apiKey : h.authorization === `Bearer ${opts.apiKey}`;
  }

  async function chat(ex: Exchange, model: string): Promise<void> {
    const body = ex.rec.body;
    if (!Array.isArray(body.messages) || body.messages.length === 0) return fail(ex, 400, "Invalid 'messages': empty array.", 'messages', 'empty_array');
    const reply = (opts.reply ?? defaultReply)(body);
    const usage = wireUsage(body, reply);
    const m = reply.model ?? opts.responseModel ?? model;
    if (body.stream === true) return ex.sse(wire.chatChunks(body, m, reply, usage, now()));
    return ex.json(200, wire.chatCompletion(body, m, reply, usage, now()), { 'x-request-id': 'req_stub' });
  }

  const wireUsage = (body: any, reply: ReturnType<ReplyFn>) => (opts.omitUsage ? undefined : usageFor(body, reply, opts.usage));

  async function route(ex: Exchange): Promise<void> {
    const { rec } = ex;
    const azure = AZURE.exec(rec.path);
    if (!authorized(ex, azure !== null)) return fail(ex, 401, 'Incorrect API key provided.', null, 'invalid_api_key');
    if (rec.method === 'GET' && rec.path === '/v1/models') {
      const data = (opts.models ?? ['gpt-4o-mini', 'text-embedding-3-small']).map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'stub' }));
      return ex.json(200, { object: 'list', data });
    }
    if (rec.method !== 'POST') return fail(ex, 404, `Unknown request URL: ${rec.method} ${rec.path}.`, null, 'unknown_url');
    if (rec.body === null || typeof rec.body !== 'object') return fail(ex, 400, 'We could not parse the JSON body of your request.');
    if (azure && !rec.query['api-version']) return ex.json(404, { error: { code: '404', message: 'Resource not found' } });
    const model: string | undefined = azure ? (rec.body.model ?? decodeURIComponent(azure[1])) : rec.body.model;
    if (typeof model !== 'string' || !model) return fail(ex, 400, 'you must provide a model parameter', 'model', 'missing_required_parameter');
    const op = azure ? `/v1/${azure[2]}` : rec.path;
    if (op === '/v1/chat/completions') return chat(ex, model);
    if (op === '/v1/embeddings') {
      const usage = opts.omitUsage ? undefined : (opts.usage ?? { input: roughTokens(rec.body.input), output: 0 });
      return ex.json(200, wire.embeddings(rec.body, opts.responseModel ?? model, opts.embeddingDims ?? 8, usage));
    }
    if (op === '/v1/responses') {
      const reply = (opts.reply ?? defaultReply)(rec.body);
      const usage = wireUsage(rec.body, reply);
      const m = opts.responseModel ?? model;
      if (rec.body.stream === true) return ex.sse(wire.responseEvents(m, reply, usage, now()));
      return ex.json(200, wire.response(m, reply, usage, now()));
    }
    return fail(ex, 404, `Unknown request URL: POST ${rec.path}.`, null, 'unknown_url');
  }

  const server = await startStubServer(route, openAIErrorBody);
  return {
    ...server,
    url: `${server.origin}/v1`,
    set(o) {
      opts = { ...opts, ...o };
    },
  };
}
