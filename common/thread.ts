/**
 * Starts a worker thread whose entry module sits beside the caller's: `<name>.js` in the compiled
 * tree, `<name>.ts` when running from the TypeScript sources (tests, `node --import tsx`). Node 20
 * does not carry `--import` loader hooks into threads, so from the sources the thread registers
 * tsx itself before it imports the `.ts` entry.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startThread(callerUrl: string, name: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { ...options, eval: true });
}
