/**
 * One upstream attempt: send the translated request, classify what came back. Retryable and
 * permanent failures are results, not exceptions; the caller (run.ts) decides what happens next.
 * A streamed answer is pumped here, so that a stream that fails before its first frame reached
 * the client is still an ordinary (retryable) failure.
 */
import { performance } from 'node:perf_hooks';
import { SseParser } from '../sse.js';
import { openaiError } from '../translators/errors.js';
import type { ClientError, StreamTranslator, Translator, UpstreamRequest } from '../translators/types.js';
import type { Transport, UpstreamAnswer } from '../upstream.js';
import { Abort } from './abort.js';
import type { CallInput, CallResult, StreamSink } from './types.js';

export type AttemptResult = CallResult;

/** Abort reasons, so a timeout and a gone client are told apart. */
export const TIMEOUT = Symbol('timeout');
export const CLIENT_GONE = Symbol('client gone');

const ERROR_BODY_LIMIT = 64 * 1024;

/** `host:port` of a URL without building a URL object (only for messages). */
function hostOf(url: string): string {
  const start = url.indexOf('//') + 2;
  const end = url.indexOf('/', start);
  return url.slice(start, end < 0 ? undefined : end);
}

export function timeoutError(what: string): ClientError {
  const e = openaiError(504, `${what} timed out`, { type: 'api_error', code: 'upstream_timeout' });
  e.retryable = true;
  return e;
}

function networkError(err: unknown, host: string): ClientError {
  const code = (err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  const e = openaiError(502, `could not reach ${host}${code ? ` (${code})` : ''}`, { type: 'api_error', code: 'upstream_unreachable' });
  e.retryable = true;
  return e;
}

function failure(reason: unknown, err: unknown, host: string): AttemptResult {
  if (reason === CLIENT_GONE) return { ok: false, cause: 'client_gone', error: openaiError(499, 'the client closed the request') };
  if (reason === TIMEOUT) return { ok: false, cause: 'timeout', error: timeoutError(`the upstream ${host}`) };
  return { ok: false, cause: 'network', error: networkError(err, host) };
}

export interface AttemptEnv {
  transport: Transport;
  translator: Translator;
  request: UpstreamRequest;
  /** Milliseconds this attempt may take until its answer (or first stream event). */
  timeoutMs: number;
  streamIdleMs: number;
  sink?: StreamSink;
  nowMs: () => number;
}

/** Runs one attempt. The abort controller is armed with TIMEOUT / CLIENT_GONE reasons. */
export async function runAttempt(input: CallInput, env: AttemptEnv): Promise<AttemptResult> {
  const ac = new Abort();
  const host = hostOf(env.request.url);
  const onGone = () => ac.abort(CLIENT_GONE);
  if (input.clientGone.aborted) return failure(CLIENT_GONE, undefined, host);
  input.clientGone.addEventListener('abort', onGone);
  const timer = setTimeout(() => ac.abort(TIMEOUT), Math.max(1, env.timeoutMs));
  timer.unref();
  try {
    let answer: UpstreamAnswer;
    try {
      const req = env.request;
      answer = await env.transport.request({ url: req.url, method: req.method, headers: req.headers, body: req.body, signal: ac.signal });
    } catch (err) {
      return failure(ac.reason, err, host);
    }
    if (answer.status < 200 || answer.status >= 300) {
      const text = await answer.body.text(ERROR_BODY_LIMIT).catch(() => '');
      return { ok: false, cause: 'status', status: answer.status, error: env.translator.error(answer.status, text, answer.headers) };
    }
    if (!env.request.stream || !env.sink) {
      let text: string;
      try {
        text = await answer.body.text();
      } catch (err) {
        return failure(ac.reason, err, host);
      }
      const r = env.translator.response(answer.status, text, { clientBody: input.clientBody, nowMs: env.nowMs() });
      return r.ok ? { ok: true, kind: 'json', status: answer.status, body: r.body, facts: r } : { ok: false, cause: 'bad_response', error: r.error };
    }
    clearTimeout(timer);
    return await pump(input, env, answer, ac, host);
  } finally {
    clearTimeout(timer);
    input.clientGone.removeEventListener('abort', onGone);
  }
}

/**
 * Upstream events → translator → client frames. Before the first frame is written any failure
 * is retryable; after it, the stream is the client's and a failure only cuts it short.
 */
async function pump(input: CallInput, env: AttemptEnv, answer: UpstreamAnswer, ac: Abort, host: string): Promise<AttemptResult> {
  const sink = env.sink as StreamSink;
  const st: StreamTranslator = env.translator.stream({ clientBody: input.clientBody, nowMs: env.nowMs() });
  const parser = new SseParser();
  let ttftMs: number | undefined;
  // Until the first chunk the attempt timeout runs; after it, the idle timeout, re-armed per chunk.
  let idle = setTimeout(() => ac.abort(TIMEOUT), Math.max(1, env.timeoutMs));
  idle.unref();
  let first = true;
  const emit = async (frames: string[]) => {
    if (ttftMs === undefined && st.firstContentSeen) ttftMs = performance.now() - input.startedAt;
    if (frames.length === 0) return;
    if (!sink.started) sink.start();
    await sink.write(frames);
  };
  try {
    for await (const chunk of answer.body) {
      if (first) {
        first = false;
        clearTimeout(idle);
        idle = setTimeout(() => ac.abort(TIMEOUT), Math.max(1, env.streamIdleMs));
        idle.unref();
      } else idle.refresh();
      for (const ev of parser.push(chunk as Buffer)) await emit(st.push(ev));
    }
    clearTimeout(idle);
    if (ac.aborted) throw ac.reason;
    const frames: string[] = [];
    for (const ev of parser.end()) frames.push(...st.push(ev));
    frames.push(...st.end());
    await emit(frames);
    sink.end();
    return { ok: true, kind: 'stream', facts: st.facts, ttftMs, cutShort: st.streamError };
  } catch (err) {
    clearTimeout(idle);
    const failed = failure(ac.reason ?? err, err, host);
    if (!sink.started || failed.ok) return failed;
    if (failed.cause !== 'client_gone') {
      // The client already has part of the answer: tell it in-band, then close.
      await sink.write([`data: ${JSON.stringify(failed.error.body)}\n\n`]);
    }
    sink.end();
    return { ok: true, kind: 'stream', facts: st.facts, ttftMs, cutShort: failed.error };
  }
}
