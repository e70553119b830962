/**
 * Parses and validates configuration text on a worker thread with a time and memory limit, so
 * that no file, however it was built, holds the event loop: the YAML parser is quadratic in a
 * mapping's keys, and a 256 KB file within the guard's bounds takes it seconds. Past the limit the
 * thread is ended and the text refused; whoever called keeps the configuration it has.
 *
 * One thread per text: reloads are rare, and a thread that ran into a limit takes its heap with it.
 * A thread blocked in a system call cannot be ended (terminate() waits for JavaScript to run, and
 * the process cannot exit past it), so the parse reads only the secret files, which secrets.ts
 * opens without waiting and reads only when regular and small.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../../common/thread.js';
import type { LoadOptions } from './load.js';
import { deepFreeze, type ConfigResult } from './model.js';

/** How long a parse may take before it is refused (the YAML parser's worst 256 KB takes seconds). */
export const PARSE_TIMEOUT_MS = 2000;
/** How long the thread may take to load its modules (from TypeScript sources under load, seconds). */
const START_TIMEOUT_MS = 30_000;
/** The thread's heap: a real configuration needs a few MB; the worst the guard lets through (256 KB of tiny documents) 64-128. */
const HEAP_MB = 256;

export interface ThreadLoadOptions extends Omit<LoadOptions, 'readFile'> {
  /** Refuse the text when the parse takes longer (default PARSE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Ends the parse early (the watcher closed); the answer is then a refusal nobody reads. */
  signal?: AbortSignal;
}

/** workerData of a parse thread. */
export interface ParseWorkerInit {
  text: string;
  file?: string;
  env: NodeJS.ProcessEnv;
}

/** What a parse thread posts: that its modules loaded, then its result. */
export type ParseReply = { started: true } | { result: ConfigResult };

/** The thread: `parse-worker` beside this file (common/thread.ts), its heap capped. */
function newWorker(workerData: ParseWorkerInit): Worker {
  return startThread(import.meta.url, 'parse-worker', { workerData, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB } });
}

/**
 * `parseConfig` on a thread of its own: the same answers, plus a refusal when the parse takes
 * longer than `timeoutMs`, needs more than the thread's heap, or the thread fails. Never rejects.
 */
export function parseConfigInWorker(text: string, opts: ThreadLoadOptions = {}): Promise<ConfigResult> {
  const timeoutMs = opts.timeoutMs ?? PARSE_TIMEOUT_MS;
  const refusal = (message: string): ConfigResult => ({ ok: false, problems: [{ path: 'file', message, file: opts.file }] });
  if (opts.signal?.aborted) return Promise.resolve(refusal('the parse was cancelled'));
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = newWorker({ text, file: opts.file, env: { ...(opts.env ?? process.env) } });
    } catch (err) {
      return resolve(refusal(`the configuration parser could not start (${(err as Error).message})`));
    }
    // The thread does not hold the process open; the pending timer does, for at most its limit.
    worker.unref();
    let done = false;
    let timer: NodeJS.Timeout;
    const finish = (r: ConfigResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', cancel);
      void worker.terminate();
      resolve(r);
    };
    const cancel = () => finish(refusal('the parse was cancelled'));
    const limit = (ms: number, message: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(refusal(message)), ms);
    };
    opts.signal?.addEventListener('abort', cancel);
    limit(START_TIMEOUT_MS, `the configuration parser did not start within ${START_TIMEOUT_MS / 1000} s`);
    worker.on('message', (m: ParseReply) => {
      if ('started' in m) return limit(timeoutMs, `configuration took longer than ${timeoutMs} ms to parse; refused`);
      finish(m.result.ok ? { ok: true, config: deepFreeze(m.result.config) } : m.result);
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(refusal(oom ? `configuration needs more than ${HEAP_MB} MB to parse; refused` : `the configuration parser failed (${err.name}: ${err.message})`));
    });
    worker.on('exit', (code) => finish(refusal(`the configuration parser stopped (exit code ${code})`)));
  });
}
