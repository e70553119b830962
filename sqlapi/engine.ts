/**
 * Where the interface's statements run. On the embedded engine every query gets its own chDB
 * session on the store's folder (about 2 ms to open): its limits and the client's allowed
 * settings are SET on that session, then `readonly = 1`, so the engine itself refuses writes,
 * table functions that are not read-only, and any later change of a setting, while the
 * collector's session is untouched (the settings trap is per session). The whole statement runs
 * off the event loop; its result (at most max_result_bytes) is written out in chunks, and a
 * query can be killed from outside when its client goes away.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../common/store.js';
import { ChError } from './errors.js';

export interface ReadSession {
  /** The statement as the engine's parser prints it, one line; parse errors are the engine's (code 62). */
  format(text: string): Promise<string>;
  /** EXPLAIN AST of a statement `format` returned: parser only, nothing analysed or run. */
  explainAst(canonical: string, params: Record<string, string | null>): Promise<string>;
  /** Runs the statement; chunks of the output format's bytes. `marker` lets kill() find it. */
  stream(sql: string, opts: { format: string; params: Record<string, string | null>; signal: AbortSignal }): AsyncIterable<Buffer>;
  close(): void;
}

export interface ReadEngine {
  /** A session with these `name = literal` settings applied, then made read-only. */
  open(settings: string[], database: string): Promise<ReadSession>;
  /** Stops every running statement whose text holds `marker`. */
  kill(marker: string): Promise<void>;
}

/** A chDB error's `Code: N. DB::Exception: … (NAME)` as a ChError. */
export function engineError(err: unknown): ChError {
  if (err instanceof ChError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const m = /Code: (\d+)\. DB::Exception: ([\s\S]*?)\.? \(([A-Z_]+)\)/.exec(text);
  if (m) return new ChError(Number(m[1]), m[3], m[2].replace(/: In scope SELECT formatQuerySingleLine[\s\S]*$/, '').replace(/^(Code: \d+\. DB::Exception: )+/, ''));
  if ((err as { name?: string })?.name === 'AbortError' || /aborted/i.test(text)) return ChError.of('QUERY_WAS_CANCELLED', 'Query was cancelled');
  return ChError.of('STD_EXCEPTION', 'the query failed inside the engine');
}

type ChdbSession = import('chdb').Session;

/** Bytes written to the response at a time. */
const CHUNK = 1024 * 1024;

export function embeddedEngine(dataDir: string): ReadEngine {
  let chdb: typeof import('chdb') | undefined;
  const load = async () => (chdb ??= await import('chdb'));
  return {
    async open(settings, database) {
      const { Session } = await load();
      const s = new Session(dataDir);
      try {
        for (const setting of settings) await s.queryAsync(`SET ${setting}`);
        await s.queryAsync(`USE ${database}`);
        await s.queryAsync('SET readonly = 1');
      } catch (err) {
        s.close();
        throw engineError(err);
      }
      return chdbSession(s);
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
  };
}

function chdbSession(s: ChdbSession): ReadSession {
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
    async *stream(sql, { format, params, signal }) {
      // queryAsync, not queryStream: a stream's start runs the engine's analysis on the event
      // loop (a scalar subquery ran 4 s there, stalling the collector); queryAsync runs all of
      // it on a libuv thread. The result is bounded by max_result_bytes; kill() stops it.
      const opts = { format, signal };
      let result: Awaited<ReturnType<ChdbSession['queryAsync']>>;
      try {
        result = await (Object.keys(params).length ? s.queryBindAsync(sql, params, opts) : s.queryAsync(sql, opts));
      } catch (err) {
        throw engineError(err);
      }
      const raw = result.bytes();
      const all = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let at = 0; at < all.length; at += CHUNK) yield all.subarray(at, at + CHUNK);
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
        async *stream(sql, { params, signal }) {
          const marker = /tracegate-sql ([\w-]+)/.exec(sql)?.[1] ?? randomUUID();
          const result = await client
            .exec({ query: sql, query_id: marker, abort_signal: signal, clickhouse_settings: { ...perQuery, readonly: '2' }, ...(Object.keys(params).length ? { query_params: params } : {}) })
            .catch((e) => Promise.reject(engineError(e)));
          for await (const chunk of result.stream as AsyncIterable<Buffer>) yield chunk;
        },
        close() {},
      };
    },
    async kill(marker) {
      await client.command({ query: 'KILL QUERY WHERE query_id = {id:String} ASYNC', query_params: { id: marker } });
    },
  };
}
