import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecretRef } from './schema.js';

export interface SecretSources {
  env: NodeJS.ProcessEnv;
  /** Folder that relative `file:` paths are read from (the config file's). */
  baseDir: string;
  readFile?: (path: string) => string;
}

export type SecretResult = { ok: true; value: string } | { ok: false; missing: boolean; message: string };

/** Reads a key from its environment variable or file. The value never appears in a message. */
export function resolveSecret(ref: SecretRef, src: SecretSources): SecretResult {
  if ('env' in ref) {
    const v = src.env[ref.env]?.trim();
    return v ? { ok: true, value: v } : { ok: false, missing: true, message: `environment variable ${ref.env} is not set` };
  }
  const path = isAbsolute(ref.file) ? ref.file : resolve(src.baseDir, ref.file);
  try {
    const v = (src.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path).trim();
    return v ? { ok: true, value: v } : { ok: false, missing: true, message: `secret file ${path} is empty` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, missing: code === 'ENOENT', message: `cannot read secret file ${path} (${code ?? 'error'})` };
  }
}
