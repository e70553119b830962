/**
 * Hot reload: the config file's folder is watched (editors often write a new file and rename it
 * over the old one, which a watch on the file itself would lose), changes are debounced, and the
 * new text is validated whole before anyone sees it.
 *
 * A file is read only once it has settled: its size, mtime and inode unchanged across `settleMs`
 * (a writer that pauses mid-file is waited for, not read half-way). A file that stays missing, a
 * folder in its place, or one too large is reported as a refused configuration, never thrown.
 * Writers that pause longer than `settleMs` mid-file should write a new file and rename it over.
 *
 * The text is parsed on a worker thread (parse-thread.ts), one version at a time, so a file that
 * takes the parser seconds neither stalls the event loop nor lets an older result land after a
 * newer one; past the time limit it is refused.
 */
import { readFileSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { MAX_CONFIG_BYTES } from './guard.js';
import { readConfigText } from './load.js';
import type { ConfigResult } from './model.js';
import { parseConfigInWorker, type ThreadLoadOptions } from './parse-thread.js';

export interface ConfigWatcher {
  close(): void;
}

export interface WatchOptions extends Omit<ThreadLoadOptions, 'file' | 'signal'> {
  debounceMs?: number;
  /** How long the file must stay unchanged before it is read (default 300 ms). */
  settleMs?: number;
  /** Called with each new, different version of the file: a valid config or its problems. */
  onResult(result: ConfigResult): void;
  /** The folder could not be watched. */
  onError?(err: Error): void;
}

/** What identifies one version of the file without reading it; `missing` while it is not there. */
function signature(st: Stats | undefined): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.isFile()}` : 'missing';
}

export function watchConfigFile(file: string, opts: WatchOptions): ConfigWatcher {
  const path = resolve(file);
  const name = basename(path);
  const debounceMs = opts.debounceMs ?? 150;
  const settleMs = opts.settleMs ?? 300;
  const { onResult, debounceMs: _d, settleMs: _s, onError, ...load } = opts;
  // The text (or the problem) last reported; the starting text is the baseline.
  let last: string | undefined;
  let pending: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // One check at a time: a change seen during a parse is looked at once the parse is done.
  let checking = false;
  let again = false;
  const stop = new AbortController();

  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };

  function run(): void {
    timer = undefined;
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    void check()
      .catch((err: Error) => onError?.(err))
      .finally(() => {
        checking = false;
        if (again && !closed) {
          again = false;
          run();
        }
      });
  }

  const report = async (key: string, result: () => ConfigResult | Promise<ConfigResult>) => {
    if (closed || key === last) return;
    last = key;
    const r = await result();
    if (!closed) onResult(r);
  };

  const check = async () => {
    const sig = signature(await stat(path).catch(() => undefined));
    if (sig !== pending) {
      // Changed since the last look (or first look after an event): wait for it to settle.
      pending = sig;
      schedule(settleMs);
      return;
    }
    const read = await readConfigText(path);
    if (closed) return;
    if ('problem' in read) return report(`problem:${read.problem.message}`, () => ({ ok: false, problems: [{ ...read.problem, file }] }));
    // Written to between stat and read: look again once it settles.
    if (signature(await stat(path).catch(() => undefined)) !== sig) return schedule(settleMs);
    await report(read.text, () => parseConfigInWorker(read.text, { ...load, file, signal: stop.signal }));
  };

  // The text serving now is the baseline, read before any event can race it.
  try {
    if (statSync(path).size <= MAX_CONFIG_BYTES) last = readFileSync(path, 'utf8');
  } catch {
    // Not there (yet): its first version will be reported.
  }

  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      // `..data` is the symlink a Kubernetes ConfigMap volume swaps atomically: the file's own
      // name sees no event then.
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      pending = undefined;
      schedule(debounceMs);
    });
    watcher.on('error', (err) => onError?.(err));
  } catch (err) {
    onError?.(err as Error);
    return { close: () => {} };
  }
  return {
    close() {
      closed = true;
      stop.abort();
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
