/**
 * A loopback stand-in for Google's Gemini API and for Vertex AI (Gemini and Anthropic models).
 *
 *   const g = await startGeminiStub({ apiKey: 'AIza-test', acceptToken: (t) => tokens.has(t) });
 *   new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: g.url } });   // g.url = http://127.0.0.1:PORT
 *   g.requests / g.failNext(1, 429, { retryAfter: 0 }) / g.hangNext(1) / g.setDelays({...}) / g.set({...})
 *
 * Gemini API: POST /{v1beta|v1}/models/{model}:{generateContent|streamGenerateContent|
 * batchEmbedContents}, the key in `x-goog-api-key` (missing: 403 PERMISSION_DENIED; wrong: 400
 * "API key not valid", as Google answers). Vertex AI: POST /{v1|v1beta1}/projects/{p}/locations/
 * {l}/publishers/google/models/{m}:{generateContent|streamGenerateContent|predict} and
 * .../publishers/anthropic/models/{m}:{rawPredict|streamRawPredict}, with `Authorization: Bearer`
 * a token `acceptToken` takes (else 401 UNAUTHENTICATED).
 *
 * Gemini bodies are checked as the API does (unknown fields refused, non-empty parts, one datum a
 * part, roles user/model; gemini_wire.ts) and answered deterministically: a call to the first
 * offered function unless the last turn answers one, JSON when JSON is asked, else DEFAULT_TEXT;
 * a prompt holding BLOCK_WORD is blocked, one holding SAFETY_STOP_WORD stops with SAFETY. Streams
 * are `data: {GenerateContentResponse}\r\n\r\n` chunks (alt=sse; without it, one JSON array).
 * Anthropic on Vertex needs `anthropic_version: "vertex-2023-10-16"` in the body and no `model`,
 * and answers with the Messages API's JSON and events. Errors: `{error:{code,message,status}}`,
 * a 429 with a RetryInfo detail.
 */
import { message as anthropicMessage, streamEvents as anthropicEvents, anthropicErrorBody, validateMessagesRequest } from './anthropic.js';
import { defaultReply, type ReplyFn, type StubUsage, usageFor } from './reply.js';
import { type Exchange, type Route, roughTokens, type StubServer, startStubServer } from './stub.js';
import { generateChunks, generateResponse, geminiReply, googleErrorBody, sseChunk, validateGenerateRequest, vectorOf } from './gemini_wire.js';

export { BLOCK_WORD, SAFETY_STOP_WORD, googleErrorBody } from './gemini_wire.js';

export interface GeminiStubOptions {
  /** Gemini API routes: requests must carry `x-goog-api-key: KEY`. */
  apiKey?: string;
  /** Vertex routes: whether a bearer token is accepted (default: any non-empty token). */
  acceptToken?: (token: string) => boolean;
  /** The reply to a Gemini body (default geminiReply). */
  reply?: ReplyFn;
  /** The reply to an Anthropic body on Vertex (default reply.ts's defaultReply). */
  anthropicReply?: ReplyFn;
  usage?: StubUsage;
  /** The model named in answers (default: the model of the path). */
  responseModel?: string;
  /** Length of embedding vectors without outputDimensionality (default 8). */
  embeddingDims?: number;
  /** Answers every request itself (hostile-upstream tests). */
  respond?: Route;
}

export interface GeminiStub extends StubServer {
  /** Base URL for @google/genai (`httpOptions.baseUrl`) and for a gateway backend: `http://127.0.0.1:PORT`. */
  url: string;
  set(opts: Partial<GeminiStubOptions>): void;
}

const GEMINI_PATH = /^\/(v1beta|v1|v1alpha)\/(models|tunedModels)\/([^:/]+):(\w+)$/;
const VERTEX_PATH = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^:/]+):(\w+)$/;
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

const googleFail = (ex: Exchange, status: number, message: string) => ex.json(status, googleErrorBody({ status, message }));

export async function startGeminiStub(initial: GeminiStubOptions = {}): Promise<GeminiStub> {
  let opts: GeminiStubOptions = { ...initial };

  async function generate(ex: Exchange, model: string, method: string): Promise<void> {
    const body = ex.rec.body;
    const problem = validateGenerateRequest(body);
    if (problem) return googleFail(ex, 400, problem);
    const reply = (opts.reply ?? geminiReply)(body);
    const usage = opts.usage ?? { input: roughTokens([body.systemInstruction, body.contents, body.tools]), output: roughTokens((reply.text ?? '') + JSON.stringify(reply.toolCalls ?? [])) };
    const name = opts.responseModel ?? model;
    if (method === 'generateContent') return ex.json(200, generateResponse(name, body, reply, usage));
    const chunks = generateChunks(name, body, reply, usage);
    if (ex.rec.query.alt === 'sse') return ex.sse(chunks.map(sseChunk));
    return ex.json(200, chunks);
  }

  function embed(ex: Exchange, model: string, method: string): Promise<void> {
    const body = ex.rec.body;
    const dims = (d: unknown) => (typeof d === 'number' ? d : (opts.embeddingDims ?? 8));
    if (method === 'predict') {
      if (!Array.isArray(body?.instances) || body.instances.length === 0) return googleFail(ex, 400, 'instances: required');
      const predictions = body.instances.map((i: any) => ({
        embeddings: { values: vectorOf(String(i.content), dims(body.parameters?.outputDimensionality)), statistics: { token_count: roughTokens(i.content), truncated: false } },
      }));
      return ex.json(200, { predictions, metadata: { billableCharacterCount: JSON.stringify(body.instances).length } });
    }
    if (!Array.isArray(body?.requests) || body.requests.length === 0) return googleFail(ex, 400, '* BatchEmbedContentsRequest.requests: requests is not specified');
    for (const r of body.requests) {
      if (r.model !== `models/${model}`) return googleFail(ex, 400, `* BatchEmbedContentsRequest.model: model in the request (${r.model}) does not match models/${model}`);
    }
    return ex.json(200, { embeddings: body.requests.map((r: any) => ({ values: vectorOf(JSON.stringify(r.content), dims(r.outputDimensionality)) })) });
  }

  function anthropicOnVertex(ex: Exchange, model: string, method: string): Promise<void> {
    const body = ex.rec.body;
    const fail = (status: number, message: string) => ex.json(status, anthropicErrorBody({ status, message }));
    if (body?.anthropic_version !== VERTEX_ANTHROPIC_VERSION) return fail(400, `anthropic_version: Input should be '${VERTEX_ANTHROPIC_VERSION}'`);
    if (body.model !== undefined) return fail(400, 'model: Extra inputs are not permitted');
    const problem = validateMessagesRequest({ ...body, model });
    if (problem) return fail(400, problem);
    const reply = (opts.anthropicReply ?? defaultReply)(body);
    const usage = usageFor(body, reply, opts.usage);
    const name = opts.responseModel ?? model;
    if (method === 'rawPredict') return ex.json(200, anthropicMessage(name, reply, usage));
    return ex.sse(anthropicEvents(name, reply, usage).map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
  }

  async function route(ex: Exchange): Promise<void> {
    if (opts.respond) return opts.respond(ex);
    const { rec } = ex;
    if (rec.method !== 'POST') return googleFail(ex, 404, `Not found: ${rec.method} ${rec.path}`);
    const g = GEMINI_PATH.exec(rec.path);
    if (g) {
      const key = rec.headers['x-goog-api-key'];
      if (opts.apiKey && key === undefined)
        return googleFail(ex, 403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
      if (opts.apiKey && key !== opts.apiKey) return googleFail(ex, 400, 'API key not valid. Please pass a valid API key.');
      const [, , , model, method] = g;
      if (method === 'generateContent' || method === 'streamGenerateContent') return generate(ex, model, method);
      if (method === 'batchEmbedContents') return embed(ex, model, method);
      return googleFail(ex, 404, `Method ${method} not found.`);
    }
    const v = VERTEX_PATH.exec(rec.path);
    if (!v) return googleFail(ex, 404, `Not found: ${rec.path}`);
    const auth = String(rec.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!token || !(opts.acceptToken ?? (() => true))(token)) return googleFail(ex, 401, STATUS_401);
    const [, , , , publisher, model, method] = v;
    if (publisher === 'anthropic' && (method === 'rawPredict' || method === 'streamRawPredict')) return anthropicOnVertex(ex, model, method);
    if (publisher === 'google' && (method === 'generateContent' || method === 'streamGenerateContent')) return generate(ex, model, method);
    if (publisher === 'google' && method === 'predict') return embed(ex, model, method);
    return googleFail(ex, 400, `Method ${method} is not supported for publisher ${publisher}.`);
  }

  const server = await startStubServer(route, googleErrorBody);
  return {
    ...server,
    url: server.origin,
    set(o) {
      opts = { ...opts, ...o };
    },
  };
}

const STATUS_401 = 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.';
