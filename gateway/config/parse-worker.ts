/**
 * A configuration parse thread (started by parse-thread.ts): it says it has started, parses and
 * validates the text it was given, answers with the result and is done. Being a thread's entry
 * module, it starts working when loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseConfig } from './load.js';
import type { ParseReply, ParseWorkerInit } from './parse-thread.js';

function main(port: NonNullable<typeof parentPort>, init: ParseWorkerInit): void {
  // The parent's clock starts here, after the modules loaded: the limit is for the parse alone.
  port.postMessage({ started: true } satisfies ParseReply);
  port.postMessage({ result: parseConfig(init.text, { file: init.file, env: init.env }) } satisfies ParseReply);
}

if (parentPort) main(parentPort, workerData as ParseWorkerInit);
