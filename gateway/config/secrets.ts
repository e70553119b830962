import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecretRef } from './schema.js';

export interface SecretSources {
  env: NodeJS.ProcessEnv;
  /** Folder that relative `file:` paths are read from (the config file's). */
  baseDir: string;
  readFile?: (path: string) => string;
}

export type SecretResult = { ok: true; value: string } | { ok: false; missing: boolean; message: string };

/** Largest secret file read: a key or token is well under 1 KB, a PEM key a few KB. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** A secret file that is there but is not one: a FIFO, a device, a folder, or too large. */
class NotASecretFile extends Error {}

/**
 * Reads a regular file of at most MAX_SECRET_BYTES. A configuration may name any path: opening a
 * FIFO would wait for a writer forever, and /dev/zero would be read until memory ran out.
 */
function readSecretFile(path: string): string {
  // O_NONBLOCK: a FIFO opens at once (and is then refused); no effect on a regular file.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotASecretFile(`secret file ${path} is not a regular file`);
    if (st.size > MAX_SECRET_BYTES) throw new NotASecretFile(`secret file ${path} is larger than ${MAX_SECRET_BYTES / 1024} KB`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Reads a key from its environment variable or file. The value never appears in a message. */
export function resolveSecret(ref: SecretRef, src: SecretSources): SecretResult {
  if ('env' in ref) {
    const v = src.env[ref.env]?.trim();
    return v ? { ok: true, value: v } : { ok: false, missing: true, message: `environment variable ${ref.env} is not set` };
  }
  const path = isAbsolute(ref.file) ? ref.file : resolve(src.baseDir, ref.file);
  try {
    const v = (src.readFile ?? readSecretFile)(path).trim();
    return v ? { ok: true, value: v } : { ok: false, missing: true, message: `secret file ${path} is empty` };
  } catch (err) {
    if (err instanceof NotASecretFile) return { ok: false, missing: false, message: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', message: `cannot read secret file ${path} (${code ?? 'error'})` };
  }
}

/**
 * A document's credential: resolved into `keys` under the document's name, or, when it is optional
 * and absent, the reason the document cannot serve (`disabled`); any other failure is a problem at
 * the document's `spec.apiKey`.
 */
export function resolveCredential(
  ref: SecretRef | undefined,
  src: SecretSources,
  into: { keys: Map<string, string>; name: string; label: string },
  problem: (message: string) => void,
): string | undefined {
  if (!ref) return undefined;
  const r = resolveSecret(ref, src);
  if (r.ok) into.keys.set(into.name, r.value);
  else if (ref.optional && r.missing) return `no ${into.label}: ${r.message}`;
  else problem(r.message);
  return undefined;
}
