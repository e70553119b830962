/**
 * Large JSON off the event loop. A client's request body or an upstream's answer of
 * LARGE_JSON_CHARS and more is checked and parsed on a thread (json-worker.ts), and the value comes
 * back as a structured clone: moving a multi-MB string between threads is a copy of its bytes,
 * while decoding and parsing it took tens of ms of the one event loop every call shares (100 and
 * more on a loaded machine).
 *
 * Bounded: a parse has a time limit (past it the thread is ended and replaced), a thread a heap
 * limit, and the bytes waiting for the threads a cap (past it the body is refused at once). Any of
 * these fails only the request whose body it was, with a 503 json_parse_unavailable. Threads start
 * with start() (the gateway's listen) or on first use, never hold the process open, and end with
 * close().
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../common/thread.js';
import { GatewayError, type ErrorCode } from './errors.js';
import { restoreLongStrings, type TextSlice } from './json-slices.js';

/** From this length on, a body is parsed on a thread; below it the round trip costs more than the parse. */
export const LARGE_JSON_CHARS = 256 * 1024;
/** How long one parse may take, once its thread has started (a 64 MiB answer parses in well under a second). */
export const PARSE_TIMEOUT_MS = 10_000;
/** How long a thread may take to load its modules (from TypeScript sources under load, seconds). */
const START_TIMEOUT_MS = 30_000;
/** Bytes handed to the threads and not answered yet, past which a large body is refused at once. */
export const MAX_WAITING_BYTES = 256 * 1024 * 1024;
/** A thread's heap: the largest answer (64 MiB) as text and as a value, twice over. */
const HEAP_MB = 1024;

/**
 * Objects and arrays a body may open. Parsing allocates each (tens of bytes apiece, against a few
 * bytes of text: `[[],[],…]`), and a thread that runs out of heap inside JSON.parse can take the
 * whole process with it, so a body past this is refused before it is parsed. A chat request or
 * answer holds thousands; 2,000,000 is far past any real one and far inside the thread's heap.
 */
export const MAX_JSON_CONTAINERS = 2_000_000;

export interface JsonJob {
  id: number;
  kind: 'request' | 'answer';
  /** The body; moved to the thread, and moved back with the reply. */
  bytes: Uint8Array;
  maxDepth: number;
}

/**
 * What a thread posts: that it started, then per job the body (its text, its bytes back, its JSON
 * value with its long strings as `slices` of the text: json-slices.ts), or a request's 400 or an
 * answer's 502. An answer nested past maxDepth (cloning recurses) or holding a prototype key is a
 * 502 like one past MAX_JSON_CONTAINERS: parsing its MBs on the event loop would stall every call.
 */
export type JsonReply = { ready: true } | ({ id: number; slices?: TextSlice[] } & ParsedBody) | { id: number; error: { code: ErrorCode; message: string } };

/** A body read on a thread: its text and bytes, and its JSON value (`undefined` when it is not JSON; `parsed` absent when the body was not read on a thread). */
export interface ParsedBody {
  text: string;
  bytes?: Buffer;
  parsed?: { value: unknown };
}

export interface JsonThreads {
  /** Starts the threads ahead of the first large body. */
  start(): void;
  /** A request body decoded as UTF-8, checked (checkJsonText) and parsed; rejects with a GatewayError (400 or 503). */
  parseRequest(bytes: Buffer, maxDepth: number): Promise<Required<ParsedBody>>;
  /** An answer's bytes decoded as UTF-8, checked and parsed; rejects with a GatewayError (502 bad_upstream_response, or 503). */
  parseAnswer(bytes: Buffer, maxDepth: number): Promise<ParsedBody>;
  /** Ends the threads; what is pending fails. Idempotent. */
  close(): Promise<void>;
}

interface Pending {
  job: JsonJob;
  bytes: number;
  resolve: (v: unknown) => void;
  reject: (e: GatewayError) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  bytes: number;
  ready: boolean;
  startTimer: NodeJS.Timeout;
}

const unavailable = (message: string) => new GatewayError('json_parse_unavailable', message, { retryAfterMs: 1000 });
const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MB`;

/**
 * Bytes given away with a Buffer when it is moved: a buffer of its own (`Buffer.concat` of a large
 * answer) moves, a view into a larger or shared one is copied.
 */
function movable(b: Uint8Array): boolean {
  return !(b.buffer instanceof SharedArrayBuffer) && b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;
}

export interface JsonThreadOptions {
  /** Threads (default: 2, or 1 on a 1-CPU machine). */
  size?: number;
  /** How long one parse may take once its thread has started (default PARSE_TIMEOUT_MS). */
  parseTimeoutMs?: number;
  /** A thread's heap limit in MB (default 1024). */
  heapMb?: number;
}

export function jsonThreads(opts: JsonThreadOptions = {}): JsonThreads {
  const size = opts.size ?? Math.min(2, availableParallelism());
  const parseTimeoutMs = opts.parseTimeoutMs ?? PARSE_TIMEOUT_MS;
  const heapMb = opts.heapMb ?? HEAP_MB;
  const slots: Slot[] = [];
  let waiting = 0;
  let nextId = 0;
  let closed = false;

  function arm(slot: Slot, p: Pending): void {
    p.timer = setTimeout(() => {
      // A parse past its limit is still running: the thread goes, with what it holds.
      fail(slot, unavailable(`the ${p.job.kind === 'request' ? 'request body' : 'upstream answer'} (${mb(p.bytes)}) was not parsed within ${parseTimeoutMs / 1000} s; retry`), p);
    }, parseTimeoutMs);
    p.timer.unref();
  }

  /** Ends a thread: `first` gets `err`, every other job it held a restart notice. */
  function fail(slot: Slot, err: GatewayError, first?: Pending): void {
    const at = slots.indexOf(slot);
    if (at < 0) return;
    slots.splice(at, 1);
    clearTimeout(slot.startTimer);
    for (const p of slot.pending.values()) settle(slot, p, () => p.reject(p === first ? err : unavailable(`the JSON thread parsing this body stopped (${err.message}); retry`)));
    void slot.worker.terminate();
  }

  function settle(slot: Slot, p: Pending, how: () => void): void {
    if (!slot.pending.delete(p.job.id)) return;
    clearTimeout(p.timer);
    slot.bytes -= p.bytes;
    waiting -= p.bytes;
    how();
  }

  function spawn(): Slot {
    const worker = startThread(import.meta.url, 'json-worker', { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    const slot: Slot = {
      worker,
      pending: new Map(),
      bytes: 0,
      ready: false,
      startTimer: setTimeout(() => fail(slot, unavailable(`the JSON thread did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS),
    };
    slot.startTimer.unref();
    worker.on('message', (m: JsonReply) => {
      if ('ready' in m) {
        slot.ready = true;
        clearTimeout(slot.startTimer);
        for (const p of slot.pending.values()) arm(slot, p);
        return;
      }
      const p = slot.pending.get(m.id);
      if (!p) return;
      if ('error' in m) return settle(slot, p, () => p.reject(new GatewayError(m.error.code, m.error.message)));
      const bytes = m.bytes && Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      if (m.parsed && m.slices?.length) restoreLongStrings(m.text, m.parsed, m.slices);
      settle(slot, p, () => p.resolve({ text: m.text, bytes, parsed: m.parsed } satisfies ParsedBody));
    });
    // A value this thread cannot take back (past its stack): which job it was is not known.
    worker.on('messageerror', (err) => fail(slot, unavailable(`a parsed body could not be moved to the event loop (${err.message})`)));
    worker.on('error', (err: Error & { code?: string }) =>
      fail(slot, unavailable(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `parsing needed more than the JSON thread's ${heapMb} MB` : `the JSON thread failed (${err.message})`)),
    );
    worker.on('exit', (code) => fail(slot, unavailable(`the JSON thread stopped (exit code ${code})`)));
    // After the listeners: adding a 'message' listener refs the thread again.
    worker.unref();
    slots.push(slot);
    return slot;
  }

  function run<T>(job: JsonJob, bytes: number, transfer: ArrayBuffer[]): Promise<T> {
    if (closed) return Promise.reject(new GatewayError('shutting_down', 'the gateway is shutting down; retry on another instance'));
    if (waiting + bytes > MAX_WAITING_BYTES) return Promise.reject(unavailable(`the gateway is parsing ${mb(waiting)} of other large bodies; retry`));
    let slot: Slot | undefined;
    for (const s of slots) if (!slot || s.bytes < slot.bytes) slot = s;
    if (!slot || (slot.bytes > 0 && slots.length < size)) slot = spawn();
    const target = slot;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { job, bytes, resolve: resolve as (v: unknown) => void, reject };
      target.pending.set(job.id, p);
      target.bytes += bytes;
      waiting += bytes;
      if (target.ready) arm(target, p);
      target.worker.postMessage(job, transfer);
    });
  }

  function send<T>(kind: JsonJob['kind'], bytes: Buffer, maxDepth: number): Promise<T> {
    const b = movable(bytes) ? bytes : new Uint8Array(bytes);
    return run<T>({ id: nextId++, kind, bytes: b, maxDepth }, bytes.length, [b.buffer as ArrayBuffer]);
  }

  return {
    start() {
      while (!closed && slots.length < size) spawn();
    },
    parseRequest: (bytes, maxDepth) => send<Required<ParsedBody>>('request', bytes, maxDepth),
    parseAnswer: (bytes, maxDepth) => send<ParsedBody>('answer', bytes, maxDepth),
    async close() {
      closed = true;
      for (const s of [...slots]) fail(s, new GatewayError('shutting_down', 'the gateway is shutting down; retry on another instance'));
    },
  };
}
