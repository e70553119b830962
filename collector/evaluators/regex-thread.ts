/**
 * Runs the `regex` check's pattern off the event loop, with a time limit. The pattern is the
 * operator's but the text is a model's answer: a pattern with nested quantifiers can take
 * exponential time on an answer shaped against it, and a JavaScript regular expression cannot be
 * interrupted. So the match runs in a worker thread (regex-worker.ts), one at a time; a match
 * that outlasts `timeoutMs` ends the thread (a new one starts for the next match) and fails with
 * a `CheckTimeoutError`, an evaluation error, while the collector goes on.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../../common/thread.js';

export const REGEX_TIMEOUT_MS = 250;

export class CheckTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took longer than ${ms} ms on this output and was stopped`);
    this.name = 'CheckTimeoutError';
  }
}

const START_TIMEOUT_MS = 30_000;

let thread: Promise<Worker> | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** The regex thread, started when first needed and again after one was ended; resolves once it can match. */
function worker(): Promise<Worker> {
  if (!thread) {
    const t = startThread(import.meta.url, 'regex-worker', { resourceLimits: { maxOldGenerationSizeMb: 64 } });
    t.unref();
    t.on('error', () => {});
    const ready = new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(() => {
        void t.terminate();
        reject(new Error('the regex thread did not start'));
      }, START_TIMEOUT_MS);
      timer.unref();
      t.once('message', () => {
        clearTimeout(timer);
        resolve(t);
      });
      t.once('exit', () => {
        clearTimeout(timer);
        reject(new Error('the regex thread stopped as it started'));
      });
    });
    thread = ready;
    // a thread that ends (terminated after a time limit, out of memory) is replaced at the next match
    t.once('exit', () => {
      if (thread === ready) thread = undefined;
    });
    ready.catch(() => {});
  }
  return thread;
}

async function matchNow(pattern: string, flags: string, text: string, timeoutMs: number): Promise<boolean> {
  const t = await worker();
  return new Promise<boolean>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      t.off('message', onMessage);
      t.off('exit', onExit);
    };
    const onMessage = (m: { matched?: boolean; error?: string }) => {
      done();
      if (m.error !== undefined) reject(new Error(`the pattern cannot run: ${m.error}`));
      else resolve(m.matched === true);
    };
    const onExit = () => {
      done();
      reject(new Error('the regex thread stopped during the match'));
    };
    const timer = setTimeout(() => {
      done();
      // matches run one at a time, so the thread in use is this one: the next match starts another
      thread = undefined;
      void t.terminate();
      reject(new CheckTimeoutError(`the pattern /${pattern}/`, timeoutMs));
    }, timeoutMs);
    t.on('message', onMessage);
    t.once('exit', onExit);
    t.postMessage({ pattern, flags, text });
  });
}

/** Whether `pattern` matches `text`, in the regex thread; one match at a time, each within `timeoutMs`. */
export function regexMatches(pattern: string, flags: string | undefined, text: string, timeoutMs = REGEX_TIMEOUT_MS): Promise<boolean> {
  const run = queue.then(() => matchNow(pattern, flags ?? '', text, timeoutMs));
  queue = run.catch(() => {});
  return run;
}
