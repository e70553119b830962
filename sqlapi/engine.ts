/**
 * Where the interface's statements run. On the embedded engine every query gets its own chDB
 * session on the store's folder (about 2 ms to open): its limits and the client's allowed
 * settings are SET on that session, then `readonly = 1`, so the engine itself refuses writes,
 * table functions that are not read-only, and any later change of a setting, while the
 * collector's session is untouched (the settings trap is per session). The check (format,
 * EXPLAIN AST) runs on a libuv thread; the statement itself runs on a query thread
 * (stream-pool.ts) when the engine has one, streamed back chunk by chunk, else with queryAsync
 * (the CLI on a store folder: the whole result, bounded by max_result_bytes). A query can be
 * killed from outside when its client goes away.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../common/store.js';
import { ChError } from './errors.js';
import { RESULT_LIMITS, settingName } from './settings.js';
import { streamPool, type StreamPool, type StreamProgress } from './stream-pool.js';

export type { StreamProgress };

export interface ReadSession {
  /** The statement as the engine's parser prints it, one line; parse errors are the engine's (code 62). */
  format(text: string): Promise<string>;
  /** EXPLAIN AST of a statement `format` returned: parser only, nothing analysed or run. */
  explainAst(canonical: string, params: Record<string, string | null>): Promise<string>;
  /** Runs the statement; chunks of the output format's bytes as they come. `progress` hears of each. */
  stream(sql: string, opts: StreamOptions): AsyncIterable<Buffer>;
  close(): void;
}

export interface StreamOptions {
  format: string;
  params: Record<string, string | null>;
  signal: AbortSignal;
  /** The result so far, after each chunk. */
  progress?: (p: StreamProgress) => void;
}

export interface ReadEngine {
  /** A session with these `name = literal` settings applied, then made read-only. */
  open(settings: string[], database: string): Promise<ReadSession>;
  /** Stops every running statement whose text holds `marker`. */
  kill(marker: string): Promise<void>;
  /** Starts the query threads, if the engine has them; resolves when they can take a query. */
  start(): Promise<void>;
  /** Cancels its statements still on query threads and waits until their sessions are closed. Idempotent. */
  close(): Promise<void>;
}

/** A chDB error's `Code: N. DB::Exception: … (NAME)` as a ChError. */
export function engineError(err: unknown): ChError {
  if (err instanceof ChError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const m = /Code: (\d+)\. DB::Exception: ([\s\S]*?)\.? \(([A-Z_]+)\)/.exec(text);
  if (m) return new ChError(Number(m[1]), m[3], m[2].replace(/: In scope SELECT formatQuerySingleLine[\s\S]*$/, '').replace(/^(Code: \d+\. DB::Exception: )+/, ''));
  const name = (err as { name?: string })?.name;
  if (name === 'ChdbBindError') return ChError.of('BAD_ARGUMENTS', `cannot bind a query parameter: ${text.slice(0, 200)}`);
  if (name === 'AbortError' || /aborted/i.test(text)) return ChError.of('QUERY_WAS_CANCELLED', 'Query was cancelled');
  return ChError.of('STD_EXCEPTION', 'the query failed inside the engine');
}

type ChdbSession = import('chdb').Session;

/** Bytes written to the response at a time when a whole result was held (queryAsync). */
const CHUNK = 1024 * 1024;

/**
 * The embedded engine over `dataDir`. With `threads`, statements stream from that many query
 * threads (the interface's concurrency limit); without, they run with queryAsync.
 */
export function embeddedEngine(dataDir: string, opts: { threads?: number } = {}): ReadEngine {
  let chdb: typeof import('chdb') | undefined;
  const load = async () => (chdb ??= await import('chdb'));
  const pool = opts.threads ? streamPool(dataDir, opts.threads) : undefined;
  return {
    async open(settings, database) {
      const { Session } = await load();
      const s = new Session(dataDir);
      // With query threads, this session only checks the statement (format, EXPLAIN AST), whose
      // output grows with the text; the result's limits are the thread session's, for the result.
      const own = pool ? settings.filter((setting) => !RESULT_LIMITS.has(settingName(setting))) : settings;
      try {
        for (const setting of own) await s.queryAsync(`SET ${setting}`);
        await s.queryAsync(`USE ${database}`);
        await s.queryAsync('SET readonly = 1');
      } catch (err) {
        s.close();
        throw engineError(err);
      }
      return chdbSession(s, pool && { pool, settings, database });
    },
    async kill(marker) {
      if (!/^[\w-]+$/.test(marker)) return;
      const { Session } = await load();
      const s = new Session(dataDir);
      try {
        await s.queryAsync(`KILL QUERY WHERE query LIKE '%${marker}%' AND query NOT LIKE '%KILL QUERY%' ASYNC`);
      } finally {
        s.close();
      }
    },
    start: async () => pool?.start(),
    close: async () => pool?.close(),
  };
}

function chdbSession(s: ChdbSession, threads?: { pool: StreamPool; settings: string[]; database: string }): ReadSession {
  return {
    async format(text) {
      try {
        const r = await s.queryBindAsync('SELECT formatQuerySingleLine({q:String})', { q: text }, { format: 'TSVRaw' });
        return r.text().replace(/\n$/, '');
      } catch (err) {
        throw engineError(err);
      }
    },
    async explainAst(canonical, params) {
      try {
        const sql = `EXPLAIN AST ${canonical}`;
        return (await (Object.keys(params).length ? s.queryBindAsync(sql, params, { format: 'TSV' }) : s.queryAsync(sql, { format: 'TSV' }))).text();
      } catch (err) {
        throw engineError(err);
      }
    },
    async *stream(sql, { format, params, signal, progress }) {
      try {
        if (threads) {
          // On a query thread: its queryStream holds that thread's loop, never this one.
          yield* threads.pool.stream({ settings: threads.settings, database: threads.database, sql, params, format }, { signal, progress });
          return;
        }
        const opts = { format, signal };
        const result = await (Object.keys(params).length ? s.queryBindAsync(sql, params, opts) : s.queryAsync(sql, opts));
        const raw = result.bytes();
        const all = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        for (let at = 0; at < all.length; at += CHUNK) yield all.subarray(at, at + CHUNK);
      } catch (err) {
        throw engineError(err);
      }
    },
    close: () => s.close(),
  };
}

/**
 * A ClickHouse server behind the store: each statement carries its limits as per-query
 * settings (an HTTP request's settings do not outlive it), and kill() uses the query id.
 */
export function serverEngine(store: Pick<Store, 'client'>): ReadEngine {
  const client = store.client;
  return {
    async open(settings) {
      const perQuery = Object.fromEntries(settings.map((s) => s.split(' = ', 2)).map(([k, v]) => [k, v.replace(/^'|'$/g, '')]));
      return {
        async format(text) {
          const rs = await client.query({ query: 'SELECT formatQuerySingleLine({q:String}) AS f', query_params: { q: text }, format: 'JSONEachRow' }).catch((e) => Promise.reject(engineError(e)));
          return (await rs.json<{ f: string }>())[0]?.f ?? '';
        },
        async explainAst(canonical, params) {
          const rs = await client.query({ query: `EXPLAIN AST ${canonical}`, format: 'TabSeparated', query_params: params }).catch((e) => Promise.reject(engineError(e)));
          return rs.text();
        },
        async *stream(sql, { params, signal, progress }) {
          const marker = /tracegate-sql ([\w-]+)/.exec(sql)?.[1] ?? randomUUID();
          const result = await client
            .exec({ query: sql, query_id: marker, abort_signal: signal, clickhouse_settings: { ...perQuery, readonly: '2' }, ...(Object.keys(params).length ? { query_params: params } : {}) })
            .catch((e) => Promise.reject(engineError(e)));
          // The server's own summary, as of its headers.
          const read = result.summary && { rows: Number(result.summary.read_rows), bytes: Number(result.summary.read_bytes) };
          progress?.({ rows: Number(result.summary?.result_rows ?? 0), bytes: 0, ...(read ? { read } : {}) });
          for await (const chunk of result.stream as AsyncIterable<Buffer>) yield chunk;
        },
        close() {},
      };
    },
    async kill(marker) {
      await client.command({ query: 'KILL QUERY WHERE query_id = {id:String} ASYNC', query_params: { id: marker } });
    },
    start: async () => {},
    close: async () => {},
  };
}
