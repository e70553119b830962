/**
 * The read-only ClickHouse HTTP interface over tracegate's store (default 127.0.0.1:8123), so
 * `curl`, `@clickhouse/client`, `tracegate sql` and Grafana's ClickHouse data source read the
 * embedded store while the collector holds it. It runs statements through the SAME store
 * client the collector writes with (one engine per process) and returns the bytes the engine
 * produced in the requested format. Read-only is decided by looking at each statement; no
 * setting ever reaches the engine's session (a session `readonly` would stop the collector's
 * writes for good).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliCompress, createDeflate, createGzip, constants as zc } from 'node:zlib';
import type { Store } from '../common/store.js';
import { parseSqlInterfaceConfig, type SqlInterfaceConfigInput } from './config.js';
import { ChError, toChError } from './errors.js';
import { checkCredentials, credentialsOf, parseQuery, readBody, type ParsedQuery } from './request.js';
import { contentTypeFor } from './statement.js';
import { checkReadOnly } from './readonly.js';
import { embeddedEngine, serverEngine, type ReadEngine, type ReadSession } from './engine.js';
import { sessionSettings } from './settings.js';
import { announce, removeMarker, withdraw, writeMarker } from './marker.js';

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
  /** Stops accepting, waits for running queries, then closes connections. Idempotent. Never closes the store. */
  close(): Promise<void>;
}

const ENGINE_VERSION_FALLBACK = '26';
const EMPTY_SUMMARY = JSON.stringify({ read_rows: '0', read_bytes: '0', written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0', elapsed_ns: '0' });
const NOOP_LOGGER: SqlInterfaceLogger = { info() {}, warn() {}, debug() {} };

export function buildSqlInterface(options: SqlInterfaceOptions): SqlInterface {
  const { store, logger: givenLogger, markerDir, announce: announceIt, ...rest } = options;
  const config = parseSqlInterfaceConfig(rest);
  const logger = givenLogger ?? NOOP_LOGGER;
  const inflight = new Set<Promise<void>>();
  const engine: ReadEngine = store.target.kind === 'embedded' ? embeddedEngine(store.target.dataDir) : serverEngine(store);
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
    const body = req.method === 'POST' ? (await readBody(req, config.maxQueryBytes)).toString('utf8') : '';
    if ((url.searchParams.get('query')?.length ?? 0) + body.length > config.maxQueryBytes) {
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
      session = await engine.open(sessionSettings(config, parsed.settings), database);
      const checked = await checkReadOnly(session, parsed.text, { database, defaultFormat: parsed.defaultFormat, params: parsed.queryParams });
      const chunks = session.stream(`${checked.sql}\n/* tracegate-sql ${marker} */`, { format: checked.format, params: parsed.queryParams, signal: abort.signal });
      const bytes = await respond(res, parsed, queryId, checked.format, chunks);
      logger.debug({ queryId, user: creds.user, format: checked.format, bytes, ms: Math.round(performance.now() - started) }, 'sql interface query');
    } catch (err) {
      const chErr = toChError(err);
      if (chErr.status >= 500 && chErr.code !== 164) logger.warn({ queryId, code: chErr.code, type: chErr.type }, 'sql interface query failed');
      sendError(res, chErr, queryId);
    } finally {
      session?.close();
      running -= 1;
    }
  }

  /**
   * Streams the output: the first chunk is awaited before the headers, so an error that comes
   * at once still gets its ClickHouse status; a later one cuts the response (as a server does).
   */
  async function respond(res: ServerResponse, parsed: ParsedQuery, queryId: string, format: string, chunks: AsyncIterable<Buffer>): Promise<number> {
    const it = chunks[Symbol.asyncIterator]();
    const first = await it.next();
    const headers: Record<string, string | number> = {
      ...baseHeaders(),
      'Content-Type': contentTypeFor(format),
      'X-ClickHouse-Format': format,
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Summary': EMPTY_SUMMARY,
    };
    const enc = parsed.responseEncoding;
    if (enc) headers['Content-Encoding'] = enc;
    res.writeHead(200, headers);
    const level = parsed.compressionLevel ?? 3;
    const out: Writable =
      enc === undefined ? res : enc === 'br' ? createBrotliCompress({ params: { [zc.BROTLI_PARAM_QUALITY]: level } }) : enc === 'gzip' ? createGzip({ level }) : createDeflate({ level });
    const done = out === res ? Promise.resolve() : pipeline(out as Transform, res);
    let bytes = 0;
    for (let step = first; !step.done; step = await it.next()) {
      bytes += step.value.length;
      if (!out.write(step.value)) await once(out, 'drain');
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
      return new Promise((resolve, reject) => {
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
      })();
      return closing;
    },
  };
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
