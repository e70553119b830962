/**
 * A query thread of the embedded engine (started by stream-pool.ts). chDB's queryStream starts a
 * query synchronously: the engine's analysis (a scalar subquery, say) runs there, for as long as
 * max_execution_time. On this thread that holds only this thread's loop; the process's loop, where
 * the collector ingests, goes on. The thread runs one statement at a time on a session of its own
 * over the store's folder (the engine is one per process, so it sees the store's tables), posts the
 * result's chunks as the engine produces them and stops producing while more than `window` bytes
 * are unacknowledged. It closes its session after each statement, so an idle thread holds none,
 * and it never ends on its own: nothing it runs may throw out of it. Being a thread's entry
 * module, it starts working when loaded.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { drainPending, Session } from 'chdb';

export interface StreamWorkerInit {
  dataDir: string;
}

export interface RunMessage {
  op: 'run';
  id: number;
  /** `name = literal` settings SET on the session before `readonly = 1`. */
  settings: string[];
  database: string;
  sql: string;
  params: Record<string, string | null>;
  format: string;
  /** Bytes posted and not yet acknowledged past which the thread waits. */
  window: number;
}

/** What the process sends a query thread. There is no message that ends it (see stream-pool.ts). */
export type ToStreamWorker = RunMessage | { op: 'ack'; id: number; bytes: number } | { op: 'cancel'; id: number };

/** What a query thread sends: `ready` once chDB is loaded; per statement chunks, then `end` or `error`, then `free` once its session is closed. */
export type FromStreamWorker =
  | { kind: 'ready' }
  | { kind: 'chunk'; id: number; bytes: Uint8Array; rows: number }
  | { kind: 'end'; id: number }
  | { kind: 'error'; id: number; name: string; message: string }
  | { kind: 'free'; id: number };

type Port = NonNullable<typeof parentPort>;

interface Running {
  id: number;
  cancelled: boolean;
  /** Bytes posted, not yet acknowledged. */
  outstanding: number;
  /** Wakes the producer when credit comes back or the statement is cancelled. */
  wake?: () => void;
}

function main(port: Port, init: StreamWorkerInit): void {
  let current: Running | undefined;
  const poke = (r: Running) => {
    const wake = r.wake;
    r.wake = undefined;
    wake?.();
  };
  port.on('message', (m: ToStreamWorker) => {
    switch (m.op) {
      case 'run': {
        const r: Running = { id: m.id, cancelled: false, outstanding: 0 };
        current = r;
        void run(port, init, m, r).finally(() => {
          current = undefined;
          port.postMessage({ kind: 'free', id: m.id } satisfies FromStreamWorker);
        });
        break;
      }
      case 'ack':
        if (current?.id === m.id) {
          current.outstanding -= m.bytes;
          poke(current);
        }
        break;
      case 'cancel':
        if (current?.id === m.id) {
          current.cancelled = true;
          poke(current);
        }
        break;
      default: {
        const never: never = m;
        void never; // nothing may end this thread
      }
    }
  });
  port.postMessage({ kind: 'ready' } satisfies FromStreamWorker);
}

async function run(port: Port, init: StreamWorkerInit, m: RunMessage, r: Running): Promise<void> {
  let session: Session | undefined;
  let stream: ReturnType<Session['queryStream']> | undefined;
  try {
    session = new Session(init.dataDir);
    for (const setting of m.settings) session.query(`SET ${setting}`);
    session.query(`USE ${m.database}`);
    session.query('SET readonly = 1');
    if (r.cancelled) return;
    stream = Object.keys(m.params).length ? session.queryStreamBind(m.sql, m.params, { format: m.format }) : session.queryStream(m.sql, { format: m.format });
    for await (const chunk of stream) {
      if (r.cancelled) break;
      post(port, m.id, chunk.raw(), chunk.numRows);
      r.outstanding += chunk.numBytes;
      while (r.outstanding > m.window && !r.cancelled) await new Promise<void>((resolve) => (r.wake = resolve));
    }
    if (!r.cancelled) port.postMessage({ kind: 'end', id: m.id } satisfies FromStreamWorker);
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (!r.cancelled) port.postMessage({ kind: 'error', id: m.id, name: String(e?.name ?? 'Error'), message: String(e?.message ?? err) } satisfies FromStreamWorker);
  } finally {
    // The stream's fetch may still run on a libuv thread: cancel and close defer behind it, and
    // the drain waits for both, so the thread never ends with a connection still open.
    stream?.cancel();
    session?.close();
    await drainPending();
  }
}

/** Moves the chunk's memory to the process when it owns its whole buffer; copies it otherwise. */
function post(port: Port, id: number, bytes: Uint8Array, rows: number): void {
  const msg: FromStreamWorker = { kind: 'chunk', id, bytes, rows };
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    try {
      port.postMessage(msg, [bytes.buffer as ArrayBuffer]);
      return;
    } catch {
      // a buffer the engine owns cannot be moved; copied below
    }
  }
  port.postMessage({ ...msg, bytes: new Uint8Array(bytes) });
}

if (parentPort) main(parentPort, workerData as StreamWorkerInit);
