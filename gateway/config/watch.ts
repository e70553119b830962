/**
 * Hot reload: the config file's folder is watched (editors often write a new file and rename it
 * over the old one, which a watch on the file itself would lose), changes are debounced, and the
 * new text is validated whole before anyone sees it.
 *
 * A file is read only once it has settled: its size, mtime and inode unchanged across `settleMs`
 * (a writer that pauses mid-file is waited for, not read half-way). A file that stays missing, a
 * folder in its place, or one too large is reported as a refused configuration, never thrown.
 * Writers that pause longer than `settleMs` mid-file should write a new file and rename it over.
 */
import { readFileSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { MAX_CONFIG_BYTES } from './guard.js';
import { parseConfig, readConfigText, type LoadOptions } from './load.js';
import type { ConfigResult } from './model.js';

export interface ConfigWatcher {
  close(): void;
}

export interface WatchOptions extends Omit<LoadOptions, 'file'> {
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

  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void check().catch((err: Error) => onError?.(err)), ms);
    timer.unref();
  };

  const report = (key: string, result: () => ConfigResult) => {
    if (closed || key === last) return;
    last = key;
    onResult(result());
  };

  const check = async () => {
    timer = undefined;
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
    report(read.text, () => parseConfig(read.text, { ...load, file }));
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
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
