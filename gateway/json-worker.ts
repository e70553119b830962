/**
 * A JSON thread (started by json-threads.ts): decodes a body, checks and parses it as the event
 * loop would (a request: checkJsonText, then JSON.parse, the same 400s; an answer: JSON.parse,
 * undefined when it is not JSON), and posts the text, the value and the bytes back. Being a
 * thread's entry module, it starts working when loaded.
 */
import { parentPort } from 'node:worker_threads';
import { GatewayError } from './errors.js';
import { checkJsonText, parseJsonText } from './handlers/body.js';
import type { JsonJob, JsonReply } from './json-threads.js';

function read(job: JsonJob): JsonReply {
  const { id, bytes } = job;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (job.kind === 'request') {
    try {
      checkJsonText(text, job.maxDepth);
      return { id, text, bytes: bytes as Buffer, parsed: { value: parseJsonText(text) } };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      return { id, error: { code: err.code, message: err.message } };
    }
  }
  try {
    // Deeper than this, the value is not moved (cloning recurses); the caller parses the text.
    checkJsonText(text, job.maxDepth);
  } catch {
    return { id, text, bytes: bytes as Buffer };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined; // not JSON: the translator says so, as for a small answer
  }
  return { id, text, bytes: bytes as Buffer, parsed: { value } };
}

function main(port: NonNullable<typeof parentPort>): void {
  port.on('message', (job: JsonJob) => {
    const reply = read(job);
    port.postMessage(reply, 'bytes' in reply && reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []);
  });
  port.postMessage({ ready: true } satisfies JsonReply);
}

if (parentPort) main(parentPort);
