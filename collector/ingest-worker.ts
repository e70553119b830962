/**
 * An ingest worker thread (started by ingest-pool.ts): builds its own processor from the
 * workerData, then answers each request body with the encoded rows, transferred, not copied.
 * Being a thread's entry module, it starts working when loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildIngest } from './ingest.js';
import type { IngestReply, IngestRequest, IngestWorkerInit } from './ingest-pool.js';

function main(port: NonNullable<typeof parentPort>, init: IngestWorkerInit): void {
  const ingest = buildIngest(init.processor, init.deps, true);
  port.on('message', (m: IngestRequest) => {
    const body = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
    let reply: IngestReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const result = ingest.run(body, m.encoding);
      if ('ok' in result) transfer.push(result.ok.rows.buffer as ArrayBuffer);
      reply = { id: m.id, result, counters: ingest.counters() };
    } catch (err) {
      reply = { id: m.id, error: err instanceof Error ? err.message : String(err), counters: ingest.counters() };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ ready: true } satisfies IngestReply);
}

if (parentPort) main(parentPort, workerData as IngestWorkerInit);
