/**
 * Hot reload: the config file's folder is watched (editors often write a new file and rename it
 * over the old one, which a watch on the file itself would lose), changes are debounced, and the
 * new text is validated whole before anyone sees it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseConfig, type LoadOptions } from './load.js';
import type { ConfigResult } from './model.js';

export interface ConfigWatcher {
  close(): void;
}

export interface WatchOptions extends Omit<LoadOptions, 'file'> {
  debounceMs?: number;
  /** Called with each new, different version of the file: a valid config or its problems. */
  onResult(result: ConfigResult): void;
  /** The folder could not be watched or the file not read. */
  onError?(err: Error): void;
}

export function watchConfigFile(file: string, opts: WatchOptions): ConfigWatcher {
  const path = resolve(file);
  const name = basename(path);
  const debounceMs = opts.debounceMs ?? 150;
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = async () => {
    timer = undefined;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      // Mid-replace the file may briefly not exist; the rename that follows fires again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(err as Error);
      return;
    }
    if (closed || text === last) return;
    last = text;
    const { onResult, debounceMs: _d, onError: _e, ...load } = opts;
    onResult(parseConfig(text, { ...load, file }));
  };

  // The current text is the baseline: only later changes are reported.
  void readFile(path, 'utf8').then(
    (t) => {
      last ??= t;
    },
    () => {},
  );

  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void check(), debounceMs);
      timer.unref();
    });
    watcher.on('error', (err) => opts.onError?.(err));
  } catch (err) {
    opts.onError?.(err as Error);
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
