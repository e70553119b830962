/**
 * A loopback stand-in for the Bedrock runtime API, which checks SigV4 signatures.
 *
 *   const b = await startBedrockStub({ credentials: [{ accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }] });
 *   new BedrockRuntimeClient({ endpoint: b.url, region: 'us-east-1', credentials: {...} });
 *   b.requests / b.failNextWith(1, 'ThrottlingException') / b.hangNext(1) / b.setDelays({...}) / b.set({...})
 *   b.streamNext({ exceptionAfter: 3, exception: 'throttlingException' })  // the next stream breaks
 *   b.streamNext({ raw: [bytes] })                                       // the next stream is these bytes
 *
 * Routes: POST /model/{modelId}/converse (JSON), /converse-stream (event stream),
 * /invoke (Claude's Messages body with `anthropic_version: bedrock-2023-05-31`, JSON) and
 * /invoke-with-response-stream (`chunk` events carrying Anthropic's stream events in base64).
 *
 * Every request must be signed: the signature is recomputed from the known credentials and the
 * exact body (`@smithy/signature-v4`), and a wrong one is answered 403 InvalidSignatureException
 * as AWS does (UnrecognizedClientException for an unknown key, MissingAuthenticationTokenException
 * without one). A `Bearer` API key is accepted when `apiKey` is set. Bodies are checked the way the
 * service checks them (bedrock_wire.ts) and refused with 400 ValidationException. Errors carry
 * `x-amzn-errortype: <Type>:http://internal.amazon.com/coral/com.amazon.bedrock/` and `{message}`.
 */
import { message, streamEvents } from './anthropic.js';
import * as wire from './bedrock_wire.js';
import { defaultReply, type ReplyFn, type StubUsage, usageFor } from './reply.js';
import { type Delays, type Exchange, type FailSpec, type StubServer, startStubServer } from './stub.js';

export interface BedrockStubOptions {
  credentials?: wire.TestCredentials[];
  /** A Bedrock API key accepted as `Authorization: Bearer KEY`. */
  apiKey?: string;
  reply?: ReplyFn;
  usage?: StubUsage;
  /** The Claude model name InvokeModel answers with (default: `claude-test`). */
  anthropicModel?: string;
}

export interface StreamPlan {
  /** Send an exception message after this many events, then end the stream. */
  exceptionAfter?: number;
  exception?: string;
  /** Stop sending (the connection stays open) after this many events. */
  stallAfter?: number;
  /** Send these bytes as the whole stream body instead of the answer. */
  raw?: Buffer[];
}

export interface BedrockStub extends StubServer {
  /** `http://127.0.0.1:PORT`: the runtime endpoint (SDK `endpoint`, gateway backend `url`). */
  url: string;
  set(opts: Partial<BedrockStubOptions>): void;
  /** Answer the next `n` requests with this Bedrock error type. */
  failNextWith(n: number, type: string, message?: string): void;
  /** How the next stream goes. */
  streamNext(plan: StreamPlan): void;
  /** The next Converse answer is a JSON text of `bytes` bytes (one huge text block), written as the client reads it. */
  hugeAnswerNext(bytes: number): void;
  /** Bytes written of the last huge answer before it ended or the client left. */
  readonly hugeWritten: number;
}

/** The status AWS answers each error type with. */
export const STATUS_OF: Record<string, number> = {
  ThrottlingException: 429,
  ServiceQuotaExceededException: 400,
  ServiceUnavailableException: 503,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ModelErrorException: 424,
  ModelTimeoutException: 408,
  ValidationException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
};

const TYPE_OF_STATUS: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

const errorHeaders = (type: string) => ({ 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'req-stub' });

/** For the shared failNext(n, status): the status's usual type, in the body's `message`. */
export function bedrockErrorBody(spec: FailSpec) {
  return { message: spec.message ?? `${TYPE_OF_STATUS[spec.status] ?? 'InternalServerException'} from the stub` };
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;

export async function startBedrockStub(initial: BedrockStubOptions = {}): Promise<BedrockStub> {
  let opts: BedrockStubOptions = { ...initial };
  const typed: { type: string; message?: string }[] = [];
  let plan: StreamPlan | undefined;
  let huge: number | undefined;
  let hugeWritten = 0;
  let delays: Delays = {};

  /** `{"output":{"message":{"role":"assistant","content":[{"text":"xxx…"}]}}}`, `bytes` long, with backpressure. */
  async function hugeAnswer(ex: Exchange, bytes: number): Promise<void> {
    const head = Buffer.from('{"output":{"message":{"role":"assistant","content":[{"text":"');
    const tail = Buffer.from('"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    ex.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes) });
    hugeWritten = 0;
    const write = (b: Buffer) => {
      hugeWritten += b.length;
      return ex.res.write(b)
        ? Promise.resolve()
        : new Promise<void>((r) => {
            ex.res.once('drain', r);
            ex.res.once('close', r);
          });
    };
    await write(head);
    for (let left = bytes - head.length - tail.length; left > 0 && !ex.res.destroyed; left -= chunk.length) {
      await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    if (!ex.res.destroyed) ex.res.end(tail);
  }
  const fail = (ex: Exchange, status: number, type: string, msg: string) => ex.json(status, { message: msg }, errorHeaders(type));

  async function eventStream(ex: Exchange, frames: Buffer[], p: StreamPlan | undefined): Promise<void> {
    if (!(await ex.sleep(delays.beforeHeadersMs))) return;
    ex.res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'req-stub', 'x-amzn-bedrock-content-type': 'application/json' });
    ex.res.flushHeaders();
    const body = p?.raw ?? frames;
    for (const [i, f] of body.entries()) {
      if (p?.exceptionAfter === i) {
        ex.res.end(wire.exceptionMessage(p.exception ?? 'throttlingException', 'Too many tokens, please wait before trying again.'));
        return;
      }
      if (p?.stallAfter === i) return;
      if (i > 0 && !(await ex.sleep(delays.betweenChunksMs))) return;
      if (ex.res.destroyed) return;
      ex.res.write(f);
    }
    ex.res.end();
  }

  async function authorized(ex: Exchange): Promise<boolean> {
    const { rec } = ex;
    if (opts.apiKey && rec.headers.authorization === `Bearer ${opts.apiKey}`) return true;
    const problem = await wire.verifySigV4({ method: rec.method, rawPath: rec.path, query: rec.query, headers: rec.headers, body: Buffer.from(rec.rawBody, 'utf8') }, opts.credentials ?? []);
    if (!problem) return true;
    await fail(ex, problem.status, problem.type, problem.message);
    return false;
  }

  async function route(ex: Exchange): Promise<void> {
    const { rec } = ex;
    const m = ROUTE.exec(rec.path);
    if (rec.method !== 'POST' || !m) return fail(ex, 404, 'UnknownOperationException', `Unknown operation ${rec.method} ${rec.path}`);
    if (!(await authorized(ex))) return;
    const next = typed.shift();
    if (next) return fail(ex, STATUS_OF[next.type] ?? 400, next.type, next.message ?? `${next.type} from the stub`);
    const modelId = decodeURIComponent(m[1]);
    const action = m[2];
    if (rec.body === undefined) return fail(ex, 400, 'SerializationException', 'Malformed request body');
    const invoke = action.startsWith('invoke');
    const problem = invoke ? wire.validateInvokeAnthropic(rec.body, modelId) : wire.validateConverse(rec.body);
    if (problem) return fail(ex, 400, 'ValidationException', problem);
    const neutral = invoke ? rec.body : wire.neutralOfConverse(rec.body);
    const reply = (opts.reply ?? defaultReply)(neutral);
    const usage = usageFor(neutral, reply, opts.usage);
    const p = plan;
    plan = undefined;
    const claude = opts.anthropicModel ?? 'claude-test';
    switch (action) {
      case 'converse':
        if (huge !== undefined) {
          const n = huge;
          huge = undefined;
          return hugeAnswer(ex, n);
        }
        return ex.json(200, wire.converseAnswer(reply, usage), { 'x-amzn-requestid': 'req-stub' });
      case 'converse-stream':
        return eventStream(ex, wire.converseStreamEvents(reply, usage), p);
      case 'invoke':
        return ex.json(
          200,
          { ...message(claude, reply, usage), id: `msg_bdrk_${Date.now().toString(36)}` },
          {
            'x-amzn-requestid': 'req-stub',
            'x-amzn-bedrock-input-token-count': String(usage.input),
            'x-amzn-bedrock-output-token-count': String(usage.output),
          },
        );
      default:
        return eventStream(ex, wire.invokeChunks(streamEvents(claude, reply, usage), usage), p);
    }
  }

  const server = await startStubServer(route, bedrockErrorBody);
  return {
    ...server,
    url: server.origin,
    set(o) {
      opts = { ...opts, ...o };
    },
    failNextWith(n, type, msg) {
      for (let i = 0; i < n; i++) typed.push({ type, message: msg });
    },
    streamNext(p) {
      plan = p;
    },
    hugeAnswerNext(bytes) {
      huge = bytes;
    },
    get hugeWritten() {
      return hugeWritten;
    },
    setDelays(d) {
      delays = { ...d };
      server.setDelays(d);
    },
    reset() {
      typed.length = 0;
      plan = undefined;
      huge = undefined;
      delays = {};
      server.reset();
    },
  };
}
