/**
 * Worker threads that run `Ingest` (decode → stages → RowBinary) so the receiving thread only
 * does network I/O and spool appends, and a second core works while the engine inserts. A
 * request goes to the worker with the fewest bytes waiting; the rows come back as a transferred
 * buffer. A worker that dies fails the requests it held (the clients are told to retry) and is
 * replaced.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../common/thread.js';
import type { ProcessorConfig, ProcessorCounters, ProcessorDeps } from './processors/index.js';
import { newCounters } from './processors/context.js';
import type { IngestResult, OtlpEncoding } from './ingest.js';

/** workerData of an ingest worker. */
export interface IngestWorkerInit {
  processor: ProcessorConfig;
  deps: ProcessorDeps;
}

export interface IngestRequest {
  id: number;
  body: Uint8Array;
  encoding: OtlpEncoding;
}

/** What a worker answers: its result (rows as a plain Uint8Array), or why it failed; with its counters. */
export type IngestReply = { ready: true } | { id: number; result: IngestResult; counters: ProcessorCounters } | { id: number; error: string; counters: ProcessorCounters };

export interface IngestPool {
  /** Resolves once every worker has started; rejects with the first start-up error. */
  readonly ready: Promise<void>;
  /** Request bytes handed to workers and not answered yet. */
  readonly queuedBytes: number;
  run(body: Buffer, encoding: OtlpEncoding): Promise<IngestResult>;
  /** The processor counters summed over the workers (including replaced ones). */
  counters(): ProcessorCounters;
  /** Waits for the requests in flight, then stops the workers. Idempotent. */
  close(): Promise<void>;
}

interface Pending {
  resolve: (r: IngestResult) => void;
  reject: (err: Error) => void;
  bytes: number;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  bytes: number;
  counters?: ProcessorCounters;
  ready: boolean;
  alive: boolean;
}

export interface IngestPoolOptions {
  workers: number;
  processor: ProcessorConfig;
  processorDeps?: ProcessorDeps;
}

/** The worker: `ingest-worker` beside this file (common/thread.ts). */
function newWorker(workerData: IngestWorkerInit): Worker {
  return startThread(import.meta.url, 'ingest-worker', { workerData });
}

export function startIngestPool(opts: IngestPoolOptions): IngestPool {
  const init: IngestWorkerInit = { processor: opts.processor, deps: opts.processorDeps ?? {} };
  const slots: Slot[] = [];
  let retired: ProcessorCounters | undefined;
  let nextId = 0;
  let queued = 0;
  let closing = false;
  let started = false;

  function spawn(index: number): Promise<void> {
    const worker = newWorker(init);
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), bytes: 0, ready: false, alive: true };
    slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: IngestReply) => {
        if ('ready' in m) {
          slot.ready = true;
          return resolve();
        }
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        slot.bytes -= p.bytes;
        queued -= p.bytes;
        slot.counters = m.counters;
        if ('error' in m) p.reject(new Error(`ingest worker: ${m.error}`));
        else p.resolve(revive(m.result));
      });
      worker.on('error', (err) => reject(err));
      worker.on('exit', (code) => {
        reject(new Error(`the ingest worker exited with code ${code} before it was ready`));
        slot.alive = false;
        retire(slot, code);
        // Replaced once it had worked; one that cannot even start is not retried in a loop.
        if (started && !closing && slot.ready) spawn(index).catch(() => {});
      });
    });
  }

  function retire(slot: Slot, code: number): void {
    if (slot.counters) retired = sumCounters(retired, slot.counters);
    slot.counters = undefined;
    for (const p of slot.pending.values()) {
      queued -= p.bytes;
      p.reject(new Error(`the ingest worker stopped (exit code ${code})`));
    }
    slot.pending.clear();
    slot.bytes = 0;
  }

  const ready = Promise.all(Array.from({ length: opts.workers }, (_, i) => spawn(i))).then(() => {
    started = true;
  });
  // A start-up failure is reported through `ready`; stop the workers that did start.
  ready.catch(() => {
    closing = true;
    for (const s of slots) void s.worker.terminate();
  });

  return {
    ready,
    get queuedBytes() {
      return queued;
    },
    run(body, encoding) {
      if (closing) return Promise.reject(new Error('the ingest pool is closed'));
      let slot: Slot | undefined;
      for (const s of slots) if (s.alive && (!slot || s.bytes < slot.bytes)) slot = s;
      if (!slot) return Promise.reject(new Error('no ingest worker is running'));
      const target = slot;
      const id = nextId++;
      return new Promise<IngestResult>((resolve, reject) => {
        target.pending.set(id, { resolve, reject, bytes: body.length });
        target.bytes += body.length;
        queued += body.length;
        // A body that owns (nearly) all of its memory moves to the worker (no copy, and the
        // receiving thread's heap does not carry it until its next GC); a slice of a shared pool
        // is copied.
        target.worker.postMessage({ id, body, encoding } satisfies IngestRequest, movable(body) ? [body.buffer as ArrayBuffer] : []);
      });
    },
    counters() {
      let sum = retired;
      for (const s of slots) if (s.counters) sum = sumCounters(sum, s.counters);
      return sum ?? newCounters();
    },
    async close() {
      if (closing) return;
      closing = true;
      const inFlight = slots.flatMap((s) =>
        [...s.pending.values()].map(
          (p) =>
            new Promise<void>((done) => {
              const { resolve, reject } = p;
              p.resolve = (r) => {
                resolve(r);
                done();
              };
              p.reject = (e) => {
                reject(e);
                done();
              };
            }),
        ),
      );
      await Promise.all(inFlight);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/**
 * Bytes of an ArrayBuffer outside the body that may still be given away with it: grpc-js hands
 * the handler its framed message minus the 5-byte gRPC prefix, a view of a buffer of its own
 * (`Buffer.concat`), which nothing reads after the handler. Node's shared pool slabs (8 KB, for
 * buffers under 4 KB) leave far more outside any one view, so they are never moved.
 */
const MOVABLE_SLACK = 16;

function movable(body: Uint8Array): boolean {
  return !(body.buffer instanceof SharedArrayBuffer) && body.buffer.byteLength - body.byteLength <= MOVABLE_SLACK;
}

/** Rows arrive as a plain Uint8Array: make them a Buffer over the same memory. */
function revive(r: IngestResult): IngestResult {
  if (!('ok' in r)) return r;
  const u = r.ok.rows as Uint8Array;
  return { ok: { ...r.ok, rows: Buffer.from(u.buffer, u.byteOffset, u.byteLength) } };
}

type Counters = { [k: string]: number | Counters };

/** Adds counter objects of the same shape, key by key. */
export function sumCounters<T extends object>(a: T | undefined, b: T): T {
  if (!a) return structuredClone(b);
  const out = {} as Counters;
  const x = a as unknown as Counters;
  const y = b as unknown as Counters;
  for (const k of Object.keys(y)) {
    const av = x[k];
    const bv = y[k];
    out[k] = typeof bv === 'number' ? (typeof av === 'number' ? av : 0) + bv : sumCounters(typeof av === 'object' ? av : undefined, bv);
  }
  return out as unknown as T;
}
