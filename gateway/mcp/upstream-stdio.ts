/**
 * The MCP gateway's client of stdio MCP servers: the process an McpServer document names
 * (`command`, `args`, `env`, `cwd`; only the configuration's, never a caller's) is started at its
 * first use by this replica, initialized once by the gateway, and shared by every session, which
 * is why every request goes out under an id and progress token of the gateway's own
 * (upstream-pending.ts) and the process's other notifications (logs) are not passed on.
 *
 * A process is not trusted more than a remote server: a stdout line over
 * gateway.mcp.maxResponseBytes, or one that is not JSON-RPC, fails the requests in flight and the
 * process is killed; a process that exits is started again at its next use, after a backoff that
 * grows while it keeps failing. stderr is read and dropped (it may print its secrets). The child
 * gets the environment of the document only, besides PATH, HOME, USER, LANG and the like.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { backoffDelay, NO_JITTER, type Backoff } from '../../common/backoff.js';
import type { McpServerConfig } from '../config/model.js';
import { LATEST_PROTOCOL } from './initialize.js';
import { errorResponse, isRequest, isResponse, RPC, type JsonRpcMessage, type JsonRpcRequest } from './jsonrpc.js';
import { PendingRequests } from './upstream-pending.js';
import { parseServerJson, SERVER_REQUEST_REFUSED, upstreamError, type UpstreamAnswer, type UpstreamSend } from './upstream-common.js';

/** Variables of the gateway's own environment a stdio server inherits (the MCP SDK's list); nothing else. */
const INHERITED_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'LANG', 'TMPDIR'];
/** Restarts after a process that exited early: 250 ms doubling, at most 30 s. */
const RESTART: Backoff = { initialMs: 250, maxMs: 30_000, multiplier: 2, spread: NO_JITTER };
/** A process that ran this long before exiting starts again without waiting. */
const STABLE_MS = 60_000;
const KILL_GRACE_MS = 2000;

function childEnv(env: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of INHERITED_ENV) if (process.env[k] !== undefined) out[k] = process.env[k];
  return { ...out, ...env };
}

/** What identifies a process: a reload that changes any of it starts another. */
const fingerprint = (server: McpServerConfig, env: Readonly<Record<string, string>> | undefined) => JSON.stringify([server.stdio, env ?? {}]);

/** One stdio server's process across its restarts. */
class StdioServer {
  private child?: ChildProcessWithoutNullStreams;
  private ready?: Promise<Record<string, unknown>>;
  private pending = new PendingRequests('tg-');
  private failures = 0;
  private nextStart = 0;
  private startedAt = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** gateway.mcp.maxResponseBytes as of the latest request. */
  private maxBytes = 0;

  constructor(
    readonly server: McpServerConfig,
    readonly env: Readonly<Record<string, string>> | undefined,
    readonly key: string,
  ) {}

  /** The process's initialize result, starting it (after its backoff) when it is not running. */
  async initialized(s: UpstreamSend, signal: AbortSignal): Promise<Record<string, unknown>> {
    this.maxBytes = s.maxBytes;
    if (!this.ready) {
      const wait = this.nextStart - Date.now();
      if (wait > 0) await sleep(wait, signal);
      this.ready ??= this.start();
    }
    return await this.ready;
  }

  private async start(): Promise<Record<string, unknown>> {
    const stdio = this.server.stdio;
    if (!stdio) throw upstreamError(this.server.name, 'has no command');
    const child = spawn(stdio.command, [...stdio.args], { cwd: stdio.cwd, env: childEnv(this.env), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.pending = new PendingRequests('tg-');
    this.buffered = [];
    this.bufferedBytes = 0;
    this.startedAt = Date.now();
    const pending = this.pending;
    child.stdout.on('data', (chunk: Buffer) => this.onData(child, chunk));
    child.stderr.resume(); // dropped unread: a server may print its secrets there
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => this.stopped(child, pending, `could not be started (${(err as NodeJS.ErrnoException).code ?? err.name})`));
    child.on('exit', (code, sig) => this.stopped(child, pending, `exited (${sig ?? `code ${code}`})`));
    const init: JsonRpcRequest = {
      jsonrpc: '2.0',
      id: 'tracegate-init',
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL, capabilities: {}, clientInfo: { name: 'tracegate', version: '0.1.0' } },
    };
    const answer = await pending
      .call(init, null, AbortSignal.timeout(this.server.timeoutMs), (m) => this.write(child, m))
      .catch((err: Error) => {
        this.kill(child);
        throw err instanceof Error && err.message === 'aborted' ? upstreamError(this.server.name, `did not answer initialize within ${this.server.timeoutMs} ms`, RPC.REQUEST_TIMEOUT) : err;
      });
    if ('error' in answer) {
      this.kill(child);
      throw upstreamError(this.server.name, `refused initialize: ${answer.error.message}`);
    }
    this.write(child, { jsonrpc: '2.0', method: 'notifications/initialized' });
    return answer.result;
  }

  private write(child: ChildProcessWithoutNullStreams, m: JsonRpcMessage): void {
    if (child !== this.child || child.exitCode !== null) throw upstreamError(this.server.name, 'is not running');
    child.stdin.write(`${JSON.stringify(m)}\n`);
  }

  /** stdout, split into lines, each bounded in bytes and parsed as JSON-RPC. */
  private onData(child: ChildProcessWithoutNullStreams, chunk: Buffer): void {
    if (child !== this.child) return;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const line = Buffer.concat([...this.buffered, chunk.subarray(start, nl)]);
      this.buffered = [];
      this.bufferedBytes = 0;
      start = nl + 1;
      if (line.length > this.maxBytes) {
        this.broken(child, upstreamError(this.server.name, `wrote a line longer than ${this.maxBytes} bytes on stdout (gateway.mcp.maxResponseBytes)`, RPC.UPSTREAM_TOO_LARGE));
        return;
      }
      const text = line.toString('utf8').trim();
      if (!text) continue;
      try {
        for (const m of parseServerJson(this.server.name, text)) this.dispatch(child, m);
      } catch (err) {
        this.broken(child, err as ReturnType<typeof upstreamError>);
        return;
      }
    }
    const rest = chunk.subarray(start);
    this.bufferedBytes += rest.length;
    if (this.bufferedBytes > this.maxBytes)
      this.broken(child, upstreamError(this.server.name, `wrote more than ${this.maxBytes} bytes on stdout without a newline (gateway.mcp.maxResponseBytes)`, RPC.UPSTREAM_TOO_LARGE));
    else if (rest.length) this.buffered.push(rest);
  }

  private dispatch(child: ChildProcessWithoutNullStreams, m: JsonRpcMessage): void {
    if (isResponse(m)) this.pending.answer(m);
    else if (isRequest(m)) this.write(child, errorResponse(m.id, { code: RPC.METHOD_NOT_FOUND, message: SERVER_REQUEST_REFUSED }));
    else this.pending.notify(m); // a shared process's logs belong to no one session
  }

  /** The process said something it should not have: its requests fail and it is killed. */
  private broken(child: ChildProcessWithoutNullStreams, err: ReturnType<typeof upstreamError>): void {
    this.pending.failAll(err);
    this.kill(child);
  }

  private stopped(child: ChildProcessWithoutNullStreams, pending: PendingRequests, why: string): void {
    pending.failAll(upstreamError(this.server.name, why));
    this.detach(child);
  }

  /** The process is no longer the one requests go to: the next request starts another, after the backoff. */
  private detach(child: ChildProcessWithoutNullStreams): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = undefined;
    this.failures = Date.now() - this.startedAt >= STABLE_MS ? 0 : this.failures + 1;
    this.nextStart = this.failures === 0 ? 0 : Date.now() + backoffDelay(RESTART, this.failures - 1);
  }

  private kill(child: ChildProcessWithoutNullStreams): void {
    this.detach(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), KILL_GRACE_MS).unref();
  }

  async send(s: UpstreamSend, signal: AbortSignal): Promise<UpstreamAnswer> {
    const result = await this.initialized(s, signal);
    const m = s.message;
    const child = this.child;
    if (!child) throw upstreamError(this.server.name, 'is not running');
    if (isRequest(m)) {
      // The process was initialized by the gateway: a session's initialize is answered with its result.
      if (m.method === 'initialize') return { status: 200, session: s.session ?? `stdio-${randomUUID()}`, response: { jsonrpc: '2.0', id: m.id, result } };
      return { status: 200, response: await this.pending.call(m, s.session, signal, (out) => this.write(child, out), s.onNotification) };
    }
    if (isResponse(m) || m.method === 'notifications/initialized') return { status: 202 };
    const out = m.method === 'notifications/cancelled' ? this.pending.cancelled(m, s.session) : m;
    if (out) this.write(child, out);
    return { status: 202 };
  }

  stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.kill(child);
    return exited;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class StdioUpstreams {
  private readonly servers = new Map<string, StdioServer>();

  send(s: UpstreamSend, signal: AbortSignal): Promise<UpstreamAnswer> {
    const key = fingerprint(s.server, s.env);
    let p = this.servers.get(s.server.name);
    if (p && p.key !== key) {
      void p.stop();
      p = undefined;
    }
    if (!p) {
      p = new StdioServer(s.server, s.env, key);
      this.servers.set(s.server.name, p);
    }
    return p.send(s, signal);
  }

  /** Stops the processes of servers a reload removed or changed. */
  sync(servers: ReadonlyMap<string, McpServerConfig>, env: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined): void {
    for (const [name, p] of this.servers) {
      const now = servers.get(name);
      if (now?.transport === 'stdio' && fingerprint(now, env?.get(name)) === p.key) continue;
      this.servers.delete(name);
      void p.stop();
    }
  }

  async close(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((p) => p.stop()));
  }
}
