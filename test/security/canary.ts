/**
 * What every security case asserts besides the answer: that nothing was reached outside the
 * port under attack. A canary listener on loopback must receive no connection, and a canary
 * file holds a secret that must never appear in an answer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface CanaryListener {
  host: string;
  port: number;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Connections accepted so far (each is closed at once). */
  readonly connections: number;
  close(): Promise<void>;
}

/** A TCP listener on 127.0.0.1 that counts connections: a test asserts it stays at zero. */
export async function canaryListener(): Promise<CanaryListener> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface CanaryFile {
  dir: string;
  path: string;
  /** A random secret the file holds: it must never appear in an answer. */
  secret: string;
}

/** A file with a random secret in a new temporary folder. */
export function canaryFile(name = 'canary.txt'): CanaryFile {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-canary-'));
  const secret = `canary-${randomBytes(12).toString('hex')}`;
  const path = join(dir, name);
  writeFileSync(path, `${secret}\n`);
  return { dir, path, secret };
}
