/**
 * The thread the `regex` check runs its pattern in (regex-thread.ts): a pattern written for
 * one output can backtrack for minutes on another, and here that stalls only this thread, which
 * the caller ends after its time limit. One message at a time: `{ pattern, flags, text }` →
 * `{ matched }` or `{ error }`.
 */
import { parentPort } from 'node:worker_threads';

const compiled = new Map<string, RegExp>();

const port = parentPort;
if (port) {
  port.on('message', (m: { pattern: string; flags: string; text: string }) => {
    try {
      const key = `${m.flags}/${m.pattern}`;
      let re = compiled.get(key);
      if (!re) {
        if (compiled.size >= 64) compiled.clear();
        re = new RegExp(m.pattern, m.flags);
        compiled.set(key, re);
      }
      re.lastIndex = 0;
      port.postMessage({ matched: re.test(m.text) });
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
  // the caller's time limit starts once the thread can match (starting it, from the sources, takes longer)
  port.postMessage({ ready: true });
}
