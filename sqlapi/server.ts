/**
 * The read-only ClickHouse HTTP interface over tracegate's store (default 127.0.0.1:8123), so
 * `curl`, `@clickhouse/client`, `tracegate sql` and Grafana's ClickHouse data source read the
 * embedded store while the collector holds it. Each statement is checked by the engine's own
 * parser against the allowlists (readonly.ts, ast.ts), then runs on a read-only session of its
 * own with the interface's limits (engine.ts); its result is streamed to the client as the
 * engine produces it, and cancelled (KILLed) when the client goes away.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliCompress, createDeflate, createGzip, constants as zc } from 'node:zlib';
import type { Store } from '../common/store.js';
import { parseSqlInterfaceConfig, type SqlInterfaceConfigInput } from './config.js';
import { ChError, toChError } from './errors.js';
import { checkCredentials, credentialsOf, parseQuery, readBody, type ParsedQuery } from './request.js';
import { contentTypeFor } from './statement.js';
import { checkReadOnly } from './readonly.js';
import { embeddedEngine, serverEngine, type ReadEngine, type ReadSession, type StreamProgress } from './engine.js';
import { sessionSettings } from './settings.js';
import { announce, removeMarker, withdraw, writeMarker } from './marker.js';
import { cutWithException, exceptionBlock } from './exception.js';

/** The logging surface used (pino's, fields first). */
export interface SqlInterfaceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SqlInterfaceOptions extends SqlInterfaceConfigInput {
  /** The embedded store's queries run on sessions of their own over its folder; a server's as per-query settings. */
  store: Pick<Store, 'client' | 'target'>;
  logger?: SqlInterfaceLogger;
  /**
   * The embedded store's folder: while listening, the interface's URL is recorded there
   * (marker.ts) so the CLI's read commands find it when the folder is busy.
   */
  markerDir?: string;
  /** Announce the URL per user (marker.ts announce()), for read commands run without --data. */
  announce?: boolean;
}

export interface SqlInterface {
  /** Starts listening; resolves with the bound address. Fails with a one-line message if the port is taken. */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Stops accepting, waits for running queries, closes connections and every session it opened. Idempotent. Never closes the store. */
  close(): Promise<void>;
}

const ENGINE_VERSION_FALLBACK = '26';
/**
 * Output held before the headers go: an error within it still gets its status, and a result that
 * ends within it a complete summary (a server's response buffer works the same way).
 */
const HOLD_BYTES = 1024 * 1024;
const NOOP_LOGGER: SqlInterfaceLogger = { info() {}, warn() {}, debug() {} };

export function buildSqlInterface(options: SqlInterfaceOptions): SqlInterface {
  const { store, logger: givenLogger, markerDir, announce: announceIt, ...rest } = options;
  const config = parseSqlInterfaceConfig(rest);
  const logger = givenLogger ?? NOOP_LOGGER;
  const inflight = new Set<Promise<void>>();
  const engine: ReadEngine = store.target.kind === 'embedded' ? embeddedEngine(store.target.dataDir, { threads: config.maxConcurrentQueries }) : serverEngine(store);
  const database = store.target.database;
  let running = 0;
  let version: string | undefined;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;

  const baseHeaders = (): Record<string, string> => ({
    'X-ClickHouse-Server-Display-Name': config.displayName,
    'X-ClickHouse-Timezone': 'UTC',
    'Keep-Alive': 'timeout=10',
  });

  async function engineVersion(): Promise<string> {
    if (version) return version;
    try {
      const rs = await store.client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      version = (await rs.json<{ v: string }>())[0]?.v ?? ENGINE_VERSION_FALLBACK;
    } catch {
      version = ENGINE_VERSION_FALLBACK;
    }
    return version;
  }

  function sendError(res: ServerResponse, err: ChError, queryId?: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = err.render(version ?? ENGINE_VERSION_FALLBACK);
    res.writeHead(err.status, {
      ...baseHeaders(),
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(err.code),
      ...(queryId ? { 'X-ClickHouse-Query-Id': queryId } : {}),
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  function sendOk(res: ServerResponse, method: string): void {
    res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': 4 });
    res.end(method === 'HEAD' ? undefined : 'Ok.\n');
  }

  async function runQuery(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const creds = credentialsOf(req.headers, url.searchParams);
    checkCredentials(creds, config);
    const bytes = req.method === 'POST' ? await readBody(req, config.maxQueryBytes) : undefined;
    const body = bytes ? bytes.toString('utf8') : '';
    // bytes, as the limit says (a URL's query is text: '€' is 3 of them)
    if (Buffer.byteLength(url.searchParams.get('query') ?? '') + (bytes?.length ?? 0) > config.maxQueryBytes) {
      throw ChError.of('QUERY_IS_TOO_LARGE', `Query is too large (more than ${config.maxQueryBytes} bytes)`);
    }
    const parsed = parseQuery(url.searchParams, body, headerOf(req, 'accept-encoding'), headerOf(req, 'x-clickhouse-format'));
    const queryId = parsed.queryId ?? randomUUID();
    if (running >= config.maxConcurrentQueries) {
      throw ChError.of('TOO_MANY_SIMULTANEOUS_QUERIES', `Too many simultaneous queries. Maximum: ${config.maxConcurrentQueries}`);
    }
    running += 1;
    const marker = randomUUID();
    const abort = new AbortController();
    const gone = () => {
      if (res.writableFinished || abort.signal.aborted) return;
      abort.abort();
      // The stream stops between chunks; the kill stops a chunk being computed.
      engine.kill(marker).catch((err: unknown) => logger.warn({ queryId, err: (err as Error).message }, 'sql interface: cannot kill a query'));
    };
    res.on('close', gone);
    let session: ReadSession | undefined;
    try {
      await engineVersion();
      session = await engine.open(sessionSettings(config, parsed.settings, database), database);
      const checked = await checkReadOnly(session, parsed.text, { database, defaultFormat: parsed.defaultFormat, params: parsed.queryParams });
      let seen: StreamProgress = { rows: 0, bytes: 0 };
      const progress = (p: StreamProgress) => (seen = { ...p });
      const chunks = session.stream(`${checked.sql}\n/* tracegate-sql ${marker} */`, { format: checked.format, params: parsed.queryParams, signal: abort.signal, progress });
      const summary = () => summaryOf(seen, performance.now() - started);
      const bytes = await respond(res, parsed, queryId, checked.format, chunks, summary);
      logger.debug({ queryId, user: creds.user, format: checked.format, bytes, ms: Math.round(performance.now() - started) }, 'sql interface query');
    } catch (err) {
      const chErr = toChError(err);
      if (chErr.status >= 500 && chErr.code !== 164 && chErr.code !== 394) logger.warn({ queryId, code: chErr.code, type: chErr.type }, 'sql interface query failed');
      sendError(res, chErr, queryId);
    } finally {
      session?.close();
      running -= 1;
    }
  }

  /**
   * Streams the output as the engine produces it. Up to HOLD_BYTES is held before the headers,
   * so an error that comes early still gets its ClickHouse status; a later one is written into
   * the body as a server writes it (exception.ts) and the response is cut, so no client takes
   * the part it got for a whole result.
   */
  async function respond(res: ServerResponse, parsed: ParsedQuery, queryId: string, format: string, chunks: AsyncIterable<Buffer>, summary: () => string): Promise<number> {
    const it = chunks[Symbol.asyncIterator]();
    const held: Buffer[] = [];
    let heldBytes = 0;
    let ended = false;
    while (heldBytes < HOLD_BYTES) {
      const step = await it.next();
      if (step.done) {
        ended = true;
        break;
      }
      held.push(step.value);
      heldBytes += step.value.length;
    }
    const tag = parsed.exceptionTagging ? randomBytes(6).toString('base64url').replace(/[-_]/g, 'x') : undefined;
    const headers: Record<string, string | number> = {
      ...baseHeaders(),
      'Content-Type': contentTypeFor(format),
      'X-ClickHouse-Format': format,
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Summary': summary(),
      ...(tag ? { 'X-ClickHouse-Exception-Tag': tag } : {}),
    };
    const enc = parsed.responseEncoding;
    if (enc) headers['Content-Encoding'] = enc;
    res.writeHead(200, headers);
    const level = parsed.compressionLevel ?? 3;
    const out: Writable =
      enc === undefined ? res : enc === 'br' ? createBrotliCompress({ params: { [zc.BROTLI_PARAM_QUALITY]: level } }) : enc === 'gzip' ? createGzip({ level }) : createDeflate({ level });
    const done = out === res ? Promise.resolve() : pipeline(out as Transform, res);
    let bytes = 0;
    const write = async (chunk: Buffer) => {
      bytes += chunk.length;
      if (!out.write(chunk)) await drained(out, res);
    };
    try {
      for (const chunk of held) await write(chunk);
      if (!ended) for (let step = await it.next(); !step.done; step = await it.next()) await write(step.value);
    } catch (err) {
      if (res.destroyed) throw err;
      const chErr = toChError(err);
      logger.warn({ queryId, code: chErr.code, type: chErr.type, bytes }, 'sql interface query failed after its headers');
      cutWithException(out, res, exceptionBlock(chErr.render(version ?? ENGINE_VERSION_FALLBACK), tag));
      await done.catch(() => {});
      return bytes;
    }
    out.end();
    await done;
    return bytes;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, ChError.of('BAD_ARGUMENTS', 'the request URL cannot be parsed'));
      return;
    }
    const method = req.method ?? 'GET';
    if (url.pathname === '/ping' || url.pathname === '/replicas_status') {
      if (method === 'GET' || method === 'HEAD') return sendOk(res, method);
    } else if (url.pathname === '/') {
      if (method === 'HEAD' || (method === 'GET' && !url.searchParams.has('query'))) return sendOk(res, method);
      if (method === 'GET' || method === 'POST') return runQuery(req, res, url);
    } else {
      res.writeHead(404, { ...baseHeaders(), 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(`There is no handle ${url.pathname.slice(0, 100)}\n\nUse / or /ping for health checks.\nSend queries to / (GET or POST); this interface only reads.\n`);
      return;
    }
    res.setHeader('Allow', 'GET, POST, HEAD');
    sendError(res, new ChError(1, 'UNSUPPORTED_METHOD', `HTTP method ${method.slice(0, 16)} is not supported here`));
  }

  function track(req: IncomingMessage, res: ServerResponse): void {
    const p = handle(req, res).catch((err: unknown) => sendError(res, toChError(err)));
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  return {
    listen() {
      if (server) throw new Error('the SQL interface is already listening');
      const srv = createServer({ requestTimeout: 300_000, headersTimeout: 30_000, keepAliveTimeout: 10_000 }, track);
      server = srv;
      const bound = new Promise<{ host: string; port: number; url: string }>((resolve, reject) => {
        srv.once('error', (err: NodeJS.ErrnoException) => {
          server = undefined;
          reject(listenError(err, config.host, config.port));
        });
        srv.listen(config.port, config.host, () => {
          const addr = srv.address() as AddressInfo;
          const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          const url = `http://${host}:${addr.port}`;
          if (markerDir) writeMarker(markerDir, url);
          if (announceIt) announce({ url, ...(store.target.kind === 'embedded' ? { dataDir: store.target.dataDir } : {}) });
          logger.info({ host: addr.address, port: addr.port }, 'read-only ClickHouse HTTP interface listening');
          resolve({ host: addr.address, port: addr.port, url });
        });
      });
      // The query threads load chDB while the port binds; the first query does not wait for them.
      return Promise.all([bound, engine.start()]).then(
        ([at]) => at,
        async (err: unknown) => {
          await engine.close();
          throw err;
        },
      );
    },
    close() {
      closing ??= (async () => {
        const srv = server;
        if (!srv) return;
        if (markerDir) removeMarker(markerDir);
        if (announceIt) withdraw();
        const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
        srv.closeIdleConnections();
        await Promise.allSettled([...inflight]);
        srv.closeAllConnections();
        await closed;
        await engine.close();
      })();
      return closing;
    },
  };
}

/**
 * X-ClickHouse-Summary as of the headers: what the interface knows for certain. It never writes;
 * the result's rows and bytes so far come from the engine's chunks; what the engine read only
 * where it says (a ClickHouse server does, chDB's stream does not), so no field is a placeholder.
 */
function summaryOf(p: StreamProgress, ms: number): string {
  return JSON.stringify({
    ...(p.read ? { read_rows: String(p.read.rows), read_bytes: String(p.read.bytes) } : {}),
    written_rows: '0',
    written_bytes: '0',
    result_rows: String(p.rows),
    result_bytes: String(p.bytes),
    elapsed_ns: String(Math.round(ms * 1e6)),
  });
}

/** Resolves when `out` drains; rejects when the client went away first. */
function drained(out: Writable, res: ServerResponse): Promise<void> {
  const gone = () => ChError.of('QUERY_WAS_CANCELLED', 'the client went away; the query was cancelled');
  if (res.destroyed) return Promise.reject(gone());
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('error', settle);
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(gone());
    out.on('drain', onDrain);
    out.on('error', settle);
    res.on('close', onClose);
  });
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  const message =
    err.code === 'EADDRINUSE'
      ? `the SQL interface cannot listen on ${where}: the port is in use (another tracegate or a ClickHouse server?); choose another port or stop that process`
      : err.code === 'EACCES'
        ? `the SQL interface may not listen on ${where}: permission denied; choose a port above 1024`
        : `the SQL interface cannot listen on ${where}: ${err.message}`;
  return Object.assign(new Error(message), { code: err.code });
}
