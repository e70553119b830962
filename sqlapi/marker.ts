/**
 * Where a running stack's SQL interface listens, recorded in the embedded store's folder: a
 * second process cannot open a folder chDB holds, so `tracegate sql`, `usage` and `trace` find
 * the interface here (any port) and read through it instead.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const MARKER_FILE = 'tracegate-sql-interface.json';

export interface SqlInterfaceMarker {
  url: string;
  pid: number;
}

export function writeMarker(dir: string, url: string): void {
  writeFileSync(join(dir, MARKER_FILE), `${JSON.stringify({ url, pid: process.pid })}\n`, { mode: 0o644 });
}

/** Removes the marker if this process wrote it. */
export function removeMarker(dir: string): void {
  const m = readMarker(dir);
  if (m && m.pid === process.pid) rmSync(join(dir, MARKER_FILE), { force: true });
}

export function readMarker(dir: string): SqlInterfaceMarker | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')) as Partial<SqlInterfaceMarker>;
    if (typeof parsed.url === 'string' && /^https?:\/\//.test(parsed.url) && typeof parsed.pid === 'number') return { url: parsed.url, pid: parsed.pid };
  } catch {
    /* no marker, or not ours */
  }
  return undefined;
}

/**
 * The per-user announcement of the running stack: a read command run without --data finds the
 * stack `tracegate start` started instead of opening another (empty) folder. In
 * $TRACEGATE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/tracegate, else ~/.tracegate; mode 0600.
 */
export interface Announcement {
  pid: number;
  url: string;
  dataDir?: string;
}

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRACEGATE_RUNTIME_DIR) return env.TRACEGATE_RUNTIME_DIR;
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'tracegate') : join(homedir(), '.tracegate');
}

const ANNOUNCEMENT = 'running.json';

export function announce(a: Omit<Announcement, 'pid'>, env: NodeJS.ProcessEnv = process.env): void {
  const dir = runtimeDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, ANNOUNCEMENT);
  writeFileSync(file, `${JSON.stringify({ ...a, pid: process.pid })}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Removes the announcement if this process made it. */
export function withdraw(env: NodeJS.ProcessEnv = process.env): void {
  const a = readAnnouncement(env, () => true);
  if (a && a.pid === process.pid) rmSync(join(runtimeDir(env), ANNOUNCEMENT), { force: true });
}

/** The announcement of a live stack; a stale one (its process gone) is ignored. */
export function readAnnouncement(env: NodeJS.ProcessEnv = process.env, alive: (pid: number) => boolean = pidAlive): Announcement | undefined {
  try {
    const a = JSON.parse(readFileSync(join(runtimeDir(env), ANNOUNCEMENT), 'utf8')) as Partial<Announcement>;
    if (typeof a.pid !== 'number' || typeof a.url !== 'string' || !/^https?:\/\//.test(a.url) || !alive(a.pid)) return undefined;
    return { pid: a.pid, url: a.url, ...(typeof a.dataDir === 'string' ? { dataDir: a.dataDir } : {}) };
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
