/**
 * Where a running stack's SQL interface listens, recorded in the embedded store's folder: a
 * second process cannot open a folder chDB holds, so `tracegate sql`, `usage` and `trace` find
 * the interface here (any port) and read through it instead.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
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
