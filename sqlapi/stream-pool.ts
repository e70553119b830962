/**
 * The embedded engine's query threads (stream-worker.ts). The result of a statement comes back
 * chunk by chunk with a credit window: a thread produces at most `window` bytes ahead of what the
 * HTTP response has taken, so memory stays bounded whatever the result's size.
 *
 * The threads live as long as the process. chDB's engine is one per process, and a thread that
 * has loaded chDB takes the engine down with it when it ends: every later query of the process
 * hangs (seen with chdb 3.4.0 whether or not the thread had opened a session), and a thread that
 * ends with a session open can crash the process. So a thread is started when first needed, kept
 * for every later interface over the same folder (a CLI test or a restarted stack opens several),
 * never ended, and `unref`ed while idle so that it does not hold the process open; an idle
 * thread has no session, and the process can exit under it. Interfaces do not own threads: each
 * takes one per running statement, and close() cancels and waits for its own statements.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../common/thread.js';
import { ChError } from './errors.js';
import type { FromStreamWorker, RunMessage, StreamWorkerInit, ToStreamWorker } from './stream-worker.js';

/** Bytes a thread may have posted ahead of the response. */
export const STREAM_WINDOW = 8 * 1024 * 1024;

export type StreamRequest = Omit<RunMessage, 'op' | 'id' | 'window'>;

export interface StreamProgress {
  /** Rows and bytes of the result produced so far. */
  rows: number;
  bytes: number;
  /** Rows and bytes the engine read, where it reports them (a ClickHouse server does; chDB's stream does not). */
  read?: { rows: number; bytes: number };
}

export interface StreamPool {
  /** Starts up to its number of threads and resolves once each has loaded chDB, so no query waits for that. */
  start(): Promise<void>;
  /** The statement's output as the engine produces it; ends early (cancelling it) when the signal aborts. */
  stream(req: StreamRequest, opts: { signal: AbortSignal; progress?: (p: StreamProgress) => void }): AsyncIterable<Buffer>;
  /** Cancels this pool's running statements and waits until their sessions are closed. Idempotent. */
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  /** Resolves when the thread has loaded chDB (or has died). */
  ready: Promise<void>;
  /** The running statement's listener and its end (the thread said `free`). */
  onMessage?: (m: FromStreamWorker) => void;
  freed?: () => void;
}

/** The threads of one store folder, shared by every pool over it. */
interface Threads {
  slots: Slot[];
  waiting: Array<(s: Slot) => void>;
}

// One set per folder because chDB's engine is one per process (see above): not a convenience.
const byFolder = new Map<string, Threads>();

/** The thread: `stream-worker` beside this file (common/thread.ts). */
function newWorker(workerData: StreamWorkerInit): Worker {
  return startThread(import.meta.url, 'stream-worker', { workerData });
}

function threadsOf(dataDir: string): Threads {
  let t = byFolder.get(dataDir);
  if (!t) byFolder.set(dataDir, (t = { slots: [], waiting: [] }));
  return t;
}

function spawn(dataDir: string, t: Threads, busy: boolean): Slot {
  const worker = newWorker({ dataDir });
  let loaded!: () => void;
  const slot: Slot = { worker, busy, ready: new Promise<void>((resolve) => (loaded = resolve)) };
  worker.on('message', (m: FromStreamWorker) => {
    if (m.kind === 'ready') loaded();
    else if (m.kind === 'free') release(t, slot);
    else slot.onMessage?.(m);
  });
  const died = (why: string) => {
    loaded();
    const at = t.slots.indexOf(slot);
    if (at < 0) return; // 'exit' after 'error'
    t.slots.splice(at, 1);
    slot.onMessage?.({ kind: 'error', id: -1, name: 'Error', message: `the query thread ${why}` });
    slot.freed?.();
    // A waiter starts a thread in its place.
    t.waiting.shift()?.(spawn(dataDir, t, true));
  };
  worker.on('error', (err) => died(`failed: ${err.message}`));
  worker.on('exit', (code) => died(`stopped (exit code ${code})`));
  // After the listeners: adding a 'message' listener refs the thread's port again.
  if (!busy) worker.unref();
  t.slots.push(slot);
  return slot;
}

function release(t: Threads, slot: Slot): void {
  const freed = slot.freed;
  slot.onMessage = undefined;
  slot.freed = undefined;
  freed?.();
  const next = t.waiting.shift();
  if (next) {
    next(slot);
    return;
  }
  slot.busy = false;
  slot.worker.unref();
}

export function streamPool(dataDir: string, size: number, window = STREAM_WINDOW): StreamPool {
  const t = threadsOf(dataDir);
  /** This pool's statements: how to cancel each, and when its thread is free again. */
  const mine = new Map<number, { cancel: () => void; free: Promise<void> }>();
  let seq = 0;
  let closing: Promise<void> | undefined;

  function acquire(signal: AbortSignal): Promise<Slot> {
    const take = (s: Slot) => {
      s.busy = true;
      s.worker.ref();
      return s;
    };
    const idle = t.slots.find((s) => !s.busy);
    if (idle) return Promise.resolve(take(idle));
    if (t.slots.length < size) return Promise.resolve(spawn(dataDir, t, true));
    // Every thread still finishes a statement (a cancelled one closes its session first).
    return new Promise((resolve, reject) => {
      const give = (s: Slot) => {
        signal.removeEventListener('abort', onAbort);
        resolve(take(s));
      };
      const onAbort = () => {
        t.waiting.splice(t.waiting.indexOf(give), 1);
        reject(ChError.of('QUERY_WAS_CANCELLED', 'the client went away; the query was cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      t.waiting.push(give);
    });
  }

  async function* stream(req: StreamRequest, opts: { signal: AbortSignal; progress?: (p: StreamProgress) => void }): AsyncGenerator<Buffer> {
    const { signal, progress } = opts;
    if (closing) throw new ChError(1001, 'STD_EXCEPTION', 'the SQL interface is closing');
    const slot = await acquire(signal);
    const id = ++seq;
    const inbox: FromStreamWorker[] = [];
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const send = (m: ToStreamWorker) => slot.worker.postMessage(m);
    let ended = false;
    const free = new Promise<void>((resolve) => (slot.freed = resolve));
    mine.set(id, { cancel: () => (ended ? undefined : send({ op: 'cancel', id })), free });
    void free.then(() => mine.delete(id));
    slot.onMessage = (m) => {
      inbox.push(m);
      poke();
    };
    signal.addEventListener('abort', poke, { once: true });
    send({ op: 'run', id, window, ...req });
    const seen: StreamProgress = { rows: 0, bytes: 0 };
    try {
      for (;;) {
        while (inbox.length === 0) {
          if (signal.aborted) throw ChError.of('QUERY_WAS_CANCELLED', 'the client went away; the query was cancelled');
          await new Promise<void>((resolve) => (wake = resolve));
        }
        const m = inbox.shift();
        if (m === undefined) continue;
        if (m.kind === 'chunk') {
          seen.rows += m.rows;
          seen.bytes += m.bytes.byteLength;
          progress?.(seen);
          yield Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
          // Resumed once the response took the chunk: the thread may produce that much more.
          send({ op: 'ack', id, bytes: m.bytes.byteLength });
        } else if (m.kind === 'end') {
          ended = true;
          return;
        } else if (m.kind === 'error') {
          ended = true;
          throw Object.assign(new Error(m.message), { name: m.name });
        }
      }
    } finally {
      signal.removeEventListener('abort', poke);
      // The thread goes back to the pool when it says it is free (its session closed).
      if (!ended) send({ op: 'cancel', id });
    }
  }

  return {
    async start() {
      while (t.slots.length < size) spawn(dataDir, t, false);
      await Promise.all(t.slots.map((s) => s.ready));
    },
    stream,
    close() {
      closing ??= (async () => {
        const running = [...mine.values()];
        for (const r of running) r.cancel();
        await Promise.all(running.map((r) => r.free));
      })();
      return closing;
    },
  };
}
