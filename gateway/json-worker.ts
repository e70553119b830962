/**
 * A JSON thread (started by json-threads.ts): decodes a body, checks and parses it as the event
 * loop would (a request: checkJsonText, then JSON.parse, the same 400s; an answer: JSON.parse,
 * undefined when it is not JSON), and posts the text, the value and the bytes back. Being a
 * thread's entry module, it starts working when loaded.
 */
import { parentPort } from 'node:worker_threads';
import { GatewayError } from './errors.js';
import { checkJsonText, parseJsonText } from './handlers/body.js';
import { MAX_JSON_CONTAINERS, type JsonJob, type JsonReply } from './json-threads.js';
import { cutLongStrings, longStrings, SLICE_CHARS } from './json-slices.js';

const tooMany = (n: number, what: string) => `${what} holds ${n} JSON objects and arrays, more than the gateway parses (${MAX_JSON_CONTAINERS})`;

function read(job: JsonJob): JsonReply {
  const { id, bytes } = job;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  // Long strings of the value go back as ranges of the text (json-slices.ts), not as copies.
  const { found, long } = longStrings();
  if (job.kind === 'request') {
    try {
      const containers = checkJsonText(text, job.maxDepth, { long, longChars: SLICE_CHARS });
      if (containers > MAX_JSON_CONTAINERS) return { id, error: { code: 'invalid_json', message: tooMany(containers, 'the request body') } };
      const parsed = { value: parseJsonText(text) };
      return { id, text, bytes: bytes as Buffer, parsed, slices: cutLongStrings(text, parsed, found) };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      return { id, error: { code: err.code, message: err.message } };
    }
  }
  let containers: number;
  try {
    // A value this deep cannot be moved (cloning recurses) and one with a prototype key is not
    // (the clone would set it): parsing MBs on the event loop instead would stall every call, so
    // such a large answer is a 502, as one holding too many containers is.
    containers = checkJsonText(text, job.maxDepth, { long, longChars: SLICE_CHARS, source: 'answer' });
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return { id, error: { code: err.code, message: err.message } };
  }
  if (containers > MAX_JSON_CONTAINERS) return { id, error: { code: 'bad_upstream_response', message: tooMany(containers, 'the upstream answer') } };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined; // not JSON: the translator says so, as for a small answer
  }
  const parsed = { value };
  return { id, text, bytes: bytes as Buffer, parsed, slices: value === undefined ? [] : cutLongStrings(text, parsed, found) };
}

function main(port: NonNullable<typeof parentPort>): void {
  port.on('message', (job: JsonJob) => {
    const reply = read(job);
    port.postMessage(reply, 'bytes' in reply && reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []);
  });
  port.postMessage({ ready: true } satisfies JsonReply);
}

if (parentPort) main(parentPort);
