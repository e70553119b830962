/**
 * A redis-server of the test's own: a free 127.0.0.1 port, no persistence (a restart comes back
 * empty, as a Redis without a volume does), stopped by `stop()`. No test skips for want of it:
 * `.ci/run` installs Debian's redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface TestRedis {
  readonly port: number;
  /** The server's process id (the benchmark pins it to a CPU). */
  readonly pid: number | undefined;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** Kills the server (SIGKILL: like a crash, nothing saved). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setTimeout(500, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('PONG')) {
        sock.end();
        resolve(true);
      }
    });
  });
}

function launch(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], {
    stdio: 'ignore',
  });
}

async function waitUp(port: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is it installed? .ci/run installs it)`);
    if (Date.now() > until) throw new Error('redis-server did not answer within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function end(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await gone;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined = launch(port);
  await waitUp(port, child);
  return {
    port,
    get pid() {
      return child?.pid;
    },
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      await end(child, 'SIGKILL');
      child = undefined;
    },
    async restart() {
      await end(child, 'SIGKILL');
      child = launch(port);
      await waitUp(port, child);
    },
    async stop() {
      await end(child, 'SIGTERM');
      child = undefined;
    },
  };
}
