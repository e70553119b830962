/**
 * One upstream attempt: send the translated request, classify what came back. Retryable and
 * permanent failures are results, not exceptions; the caller (run.ts) decides what happens next.
 * A streamed answer is pumped here, so that a stream that fails before its first frame reached
 * the client is still an ordinary (retryable) failure.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { GatewayError, gatewayClientError, streamErrorFrame } from '../errors.js';
import { MAX_JSON_DEPTH } from '../handlers/body.js';
import { LARGE_JSON_CHARS, type JsonThreads, type ParsedBody } from '../json-threads.js';
import { SseLimitError, SseParser } from '../sse.js';
import {
  type AuthHeaders,
  type BackendDescriptor,
  type BackendSecret,
  CLIENT_API,
  type ClientError,
  type ProviderDescriptor,
  type SseEvent,
  type StreamTranslator,
  type Translator,
  type UpstreamRequest,
} from '../providers/types.js';
import type { Transport, UpstreamAnswer } from '../upstream.js';
import { Abort } from './abort.js';
import { ANSWER_LIMITS, limitError, OWN_TURN_CHARS, type AnswerLimits } from './limits.js';
import type { CallInput, CallResult, StreamSink } from './types.js';

export type AttemptResult = CallResult;

/** Milliseconds a stream is pumped from buffered chunks before the event loop gets a turn. */
const PUMP_SLICE_MS = 4;
/** A wait this long for the next chunk means other callbacks could run meanwhile. */
const PUMP_WAITED_MS = 1;

/** Abort reasons, so a timeout and a gone client are told apart. */
export const TIMEOUT = Symbol('timeout');
export const CLIENT_GONE = Symbol('client gone');

/** `host:port` of a URL without building a URL object (only for messages). */
function hostOf(url: string): string {
  const start = url.indexOf('//') + 2;
  const end = url.indexOf('/', start);
  return url.slice(start, end < 0 ? undefined : end);
}

export function timeoutError(what: string): ClientError {
  return gatewayClientError(new GatewayError('upstream_timeout', `${what} timed out`));
}

function networkError(err: unknown, host: string): ClientError {
  const code = (err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  return gatewayClientError(new GatewayError('upstream_unreachable', `could not reach ${host}${code ? ` (${code})` : ''}`));
}

/** The client went away: nobody hears this, but the span and the attempt metrics do. */
export function clientGoneError(): ClientError {
  return gatewayClientError(new GatewayError('client_closed', 'the client closed the request'));
}

function failure(reason: unknown, err: unknown, host: string): AttemptResult {
  if (reason === CLIENT_GONE) return { ok: false, cause: 'client_gone', error: clientGoneError() };
  if (reason === TIMEOUT) return { ok: false, cause: 'timeout', error: timeoutError(`the upstream ${host}`) };
  return { ok: false, cause: 'network', error: networkError(err, host) };
}

/** Who answers the attempt and with which credentials (`ProviderDescriptor.auth`). */
export interface AttemptAuth {
  provider: ProviderDescriptor;
  backend: BackendDescriptor;
  secret: BackendSecret;
}

export interface AttemptEnv {
  transport: Transport;
  translator: Translator;
  request: UpstreamRequest;
  auth: AttemptAuth;
  /** Milliseconds this attempt may take until its answer (or first stream event). */
  timeoutMs: number;
  /** performance.now() past which the call's answer must have started (the request timeout). */
  deadline: number;
  streamIdleMs: number;
  limits?: AnswerLimits;
  /** Where a large answer is parsed; on the event loop when absent. */
  json?: JsonThreads;
  sink?: StreamSink;
  nowMs: () => number;
}

/** A refused answer (past a limit) or an ordinary failure. */
function failureOf(err: unknown, reason: unknown, host: string): AttemptResult {
  const refused = reason === undefined ? limitError(err, host) : undefined;
  if (refused) return { ok: false, cause: 'bad_response', error: refused, refused: true };
  // A stream decoder's own verdict on what it read (a malformed event-stream frame): said as it is.
  if (reason === undefined && err instanceof GatewayError) return { ok: false, cause: 'bad_response', error: gatewayClientError(err) };
  return failure(reason, err, host);
}

/** Runs one attempt. The abort controller is armed with TIMEOUT / CLIENT_GONE reasons. */
export async function runAttempt(input: CallInput, env: AttemptEnv): Promise<AttemptResult> {
  const ac = new Abort();
  const host = hostOf(env.request.url);
  const limits = env.limits ?? ANSWER_LIMITS;
  const onGone = () => ac.abort(CLIENT_GONE);
  if (input.clientGone.aborted) return failure(CLIENT_GONE, undefined, host);
  input.clientGone.addEventListener('abort', onGone);
  // Runs until the whole answer is read, or a stream's first event: a body that trickles or
  // stalls is cut by it like an answer that never comes.
  const timer = setTimeout(() => ac.abort(TIMEOUT), Math.max(1, env.timeoutMs));
  timer.unref();
  try {
    const req = env.request;
    let headers: Record<string, string>;
    try {
      let auth = authorize(env.auth, req, ac);
      if (auth instanceof Promise) auth = await auth;
      headers = withCredentials(req, auth);
    } catch (err) {
      return ac.aborted ? failure(ac.reason, err, host) : credentialFailure(err, env.auth.backend, host);
    }
    let answer: UpstreamAnswer;
    try {
      answer = await env.transport.request({ url: req.url, method: req.method, headers, body: req.body, signal: ac });
    } catch (err) {
      return failure(ac.reason, err, host);
    }
    if (answer.status < 200 || answer.status >= 300) {
      // Only the head of an error body is kept; the rest is not downloaded (the connection closes).
      const text = await answer.body.text(limits.maxErrorBodyBytes, 'truncate').catch(() => '');
      return { ok: false, cause: 'status', status: answer.status, error: env.auth.provider.error(answer.status, text, answer.headers, env.translator.clientApi) };
    }
    if (!env.request.stream || !env.sink) {
      let read: ParsedBody;
      try {
        read = await readAnswer(answer, limits.maxBodyBytes, env.json);
      } catch (err) {
        if (err instanceof GatewayError) return { ok: false, cause: 'bad_response', error: gatewayClientError(err) };
        return failureOf(err, ac.reason, host);
      }
      // Reading it (joined and decoded) was one step over the whole answer; parsing, if still to do, is the next.
      if (!read.parsed && read.text.length >= OWN_TURN_CHARS) await nextTurn();
      const r = env.translator.response(answer.status, read.text, { clientBody: input.clientBody, nowMs: env.nowMs(), parsed: read.parsed });
      if (!r.ok) return { ok: false, cause: 'bad_response', error: r.error };
      return { ok: true, kind: 'json', status: answer.status, body: r.body, bytes: r.body === read.text ? read.bytes : undefined, facts: r };
    }
    return await pump(input, env, answer, new StreamClock(ac, timer, env), limits, host);
  } finally {
    clearTimeout(timer);
    input.clientGone.removeEventListener('abort', onGone);
  }
}

/**
 * The provider's credential headers for this attempt. A synchronous provider's come back as they
 * are (nothing is awaited); an asynchronous one's (a token fetch) is cut short when the attempt
 * times out or the client goes away.
 */
function authorize(a: AttemptAuth, req: UpstreamRequest, ac: Abort): AuthHeaders | Promise<AuthHeaders> {
  const auth = a.provider.auth;
  const out = auth.authorize(
    {
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: req.body,
      get signal() {
        return ac.signal;
      },
    },
    a.backend,
    a.secret,
  );
  if (!(out instanceof Promise)) return out;
  if (ac.aborted) return Promise.reject(ac.reason);
  return new Promise<AuthHeaders>((resolve, reject) => {
    const stop = () => reject(ac.reason);
    ac.addEventListener('abort', stop);
    out.then(resolve, reject).finally(() => ac.removeEventListener('abort', stop));
  });
}

/** The request's headers with the credential's; the request's own object when there is none to add. */
function withCredentials(req: UpstreamRequest, auth: AuthHeaders): Record<string, string> {
  for (const _ in auth) return { ...req.headers, ...auth };
  return req.headers;
}

/**
 * `authorize` could not get a credential: retryable (a token endpoint may be back). The client
 * hears that much; why (the provider's words, never a secret) is for logs and the span.
 */
function credentialFailure(err: unknown, backend: BackendDescriptor, host: string): AttemptResult {
  if (err instanceof GatewayError) return { ok: false, cause: 'network', error: gatewayClientError(err) };
  const e = gatewayClientError(new GatewayError('upstream_credentials_unavailable', `the gateway could not get its credential for ${host}`));
  const why = err instanceof Error ? err.message : String(err);
  e.message = `could not get a credential for ${host} (${backend.kind}): ${why.slice(0, 300)}`;
  return { ok: false, cause: 'network', error: e };
}

/** A whole answer: decoded and parsed on a JSON thread when large, else decoded here (the translator parses it). */
async function readAnswer(answer: UpstreamAnswer, limit: number, json: JsonThreads | undefined): Promise<ParsedBody> {
  const bytes = await answer.body.bytes(limit);
  if (!json || bytes.length < LARGE_JSON_CHARS) return { text: bytes.toString('utf8') };
  return json.parseAnswer(bytes, MAX_JSON_DEPTH);
}

/**
 * The timers of a stream being read, all aborting with TIMEOUT: the attempt's until the first
 * event; then the request's until the client's answer starts (events may produce no frame);
 * and the idle one, re-armed by each event. Bytes that complete no event (a line trickling in,
 * comments) re-arm nothing.
 */
class StreamClock {
  private idle: NodeJS.Timeout | undefined;
  private startBy: NodeJS.Timeout | undefined;

  constructor(
    readonly abort: Abort,
    private readonly attempt: NodeJS.Timeout,
    private readonly env: AttemptEnv,
  ) {}

  event(started: boolean): void {
    if (this.idle) {
      this.idle.refresh();
      return;
    }
    clearTimeout(this.attempt);
    this.idle = this.arm(this.env.streamIdleMs);
    if (!started) this.startBy = this.arm(this.env.deadline - performance.now());
  }

  started(): void {
    if (this.startBy) clearTimeout(this.startBy);
    this.startBy = undefined;
  }

  stop(): void {
    clearTimeout(this.idle);
    clearTimeout(this.startBy);
  }

  private arm(ms: number): NodeJS.Timeout {
    const t = setTimeout(() => this.abort.abort(TIMEOUT), Math.max(1, ms));
    t.unref();
    return t;
  }
}

/** Thrown out of the event loop of a stream when StreamSink.cut says to stop. */
class StreamCut extends Error {
  constructor(readonly error: ClientError) {
    super(error.message);
  }
}

/** An error told to a client whose stream already started, in its API's streaming error shape. */
function inBandError(endpoint: CallInput['endpoint'], error: ClientError): string {
  return streamErrorFrame(CLIENT_API[endpoint], error);
}

/**
 * Upstream events → translator → client frames. Before the first frame is written any failure
 * is an ordinary attempt failure (retried or refused); after it, the stream is the client's and
 * a failure only cuts it short, with an error event.
 */
async function pump(input: CallInput, env: AttemptEnv, answer: UpstreamAnswer, clock: StreamClock, limits: AnswerLimits, host: string): Promise<AttemptResult> {
  const sink = env.sink as StreamSink;
  const st: StreamTranslator = env.translator.stream({ clientBody: input.clientBody, nowMs: env.nowMs() });
  const parser = env.auth.provider.streamDecoder?.(limits) ?? new SseParser(limits);
  let ttftMs: number | undefined;
  const emit = async (frames: string[]) => {
    if (ttftMs === undefined && st.firstContentSeen) ttftMs = performance.now() - input.startedAt;
    if (frames.length === 0) return;
    if (!sink.started) {
      sink.start();
      clock.started();
    }
    await sink.write(frames);
  };
  const events = async (evs: SseEvent[]) => {
    for (const ev of evs) {
      clock.event(sink.started);
      await emit(st.push(ev));
      const cut = sink.started ? sink.cut?.(st.facts) : undefined;
      if (cut) throw new StreamCut(cut);
    }
  };
  const ac = clock.abort;
  try {
    // Chunks already buffered are pumped one after another without the event loop getting a turn
    // (a fast upstream's MBs held it for 30 ms): after PUMP_SLICE_MS of them it gets one.
    let busy = 0;
    let last = performance.now();
    for await (const chunk of answer.body) {
      const at = performance.now();
      if (at - last > PUMP_WAITED_MS) busy = 0; // the chunk was waited for: a turn of its own
      await events(parser.push(chunk as Buffer));
      last = performance.now();
      busy += last - at;
      if (busy >= PUMP_SLICE_MS) {
        await nextTurn();
        busy = 0;
        last = performance.now();
      }
    }
    if (ac.aborted) throw ac.reason;
    const frames: string[] = [];
    for (const ev of parser.end()) frames.push(...st.push(ev));
    frames.push(...st.end());
    await emit(frames);
    sink.end();
    return { ok: true, kind: 'stream', facts: st.facts, ttftMs, cutShort: st.streamError };
  } catch (err) {
    if (err instanceof StreamCut) {
      // The gateway's own reason to stop: the client gets it as the final event, the upstream is left.
      await sink.write([inBandError(input.endpoint, err.error)]);
      sink.end();
      return { ok: true, kind: 'stream', facts: st.facts, ttftMs, cutShort: err.error };
    }
    const failed = failureOf(err, ac.reason, host);
    if (!sink.started || failed.ok) return failed;
    if (failed.cause !== 'client_gone') {
      // The client already has part of the answer: what completed before a bad line, then the error.
      if (err instanceof SseLimitError && !ac.aborted) await events(err.events).catch(() => {});
      await sink.write([inBandError(input.endpoint, failed.error)]);
    }
    sink.end();
    return { ok: true, kind: 'stream', facts: st.facts, ttftMs, cutShort: failed.error };
  } finally {
    clock.stop();
  }
}
