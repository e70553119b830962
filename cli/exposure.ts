/**
 * Protected mode, as Redis has it: a server that listens beyond loopback must have its
 * authentication configured, or be told `--insecure`. Secrets come from the environment or from
 * files (flags would show them in `ps`).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { pepperProblem } from '../gateway/policy/keys.js';
import { UsageError } from './args.js';

/** 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and `localhost`: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    // The URL parser writes an IPv6 address in its shortest form (`0:0::1` → `::1`, `::ffff:7f00:1`).
    const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(canonical);
  }
  return false;
}

/** A secret from `--<flag> FILE` or the environment variable; undefined when neither is given. */
export function secretFrom(file: string | undefined, envVar: string, env: NodeJS.ProcessEnv, flag: string): string | undefined {
  if (file !== undefined) {
    let v: string;
    try {
      v = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new UsageError(`${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (v.length < 8) throw new UsageError(`${flag} ${file} holds ${v ? 'fewer than 8 characters' : 'nothing'}; use a secret of at least 8 characters`);
    return v;
  }
  const v = env[envVar]?.trim();
  if (v !== undefined && v !== '' && v.length < 8) throw new UsageError(`${envVar} is shorter than 8 characters; use a longer secret`);
  return v || undefined;
}

/** The ApiKeys' pepper from `--key-pepper-file FILE` or TRACEGATE_KEY_PEPPER; undefined when neither is given. */
export function keyPepperFrom(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const pepper = secretFrom(file, 'TRACEGATE_KEY_PEPPER', env, '--key-pepper-file');
  const problem = pepper === undefined ? undefined : pepperProblem(pepper);
  if (problem) throw new UsageError(`${file === undefined ? 'TRACEGATE_KEY_PEPPER' : `--key-pepper-file ${file}`}: ${problem}`);
  return pepper;
}

/**
 * What the gateway lacks to be authenticated beyond loopback: a master key, or ApiKeys in the
 * configuration with the pepper to check them. Empty when it has either.
 */
export function gatewayUnauthenticated(masterKey: string | undefined, apiKeys: number, pepper: string | undefined): [string, string][] {
  if (masterKey || (apiKeys > 0 && pepper)) return [];
  return [['the gateway master key or ApiKeys', 'TRACEGATE_MASTER_KEY or --master-key-file, or ApiKey documents with TRACEGATE_KEY_PEPPER or --key-pepper-file']];
}

/** The banner's line on whether, and how, the gateway authenticates its clients. */
export function authenticationLine(apiKeys: number, masterKey: boolean): string {
  if (apiKeys) return `authentication on: ${apiKeys} ApiKey(s)${masterKey ? ' and the master key' : ''} (send Authorization: Bearer <key>; tracegate keys create makes one)`;
  if (masterKey) return 'authentication on: the master key';
  return 'authentication off: no ApiKey in the configuration (anyone who reaches this port can call; tracegate keys create adds one)';
}

export interface Exposure {
  /** Every address the command binds. */
  hosts: string[];
  /** What would authenticate each surface: `[what, how to set it]`, for the ones not set. */
  missing: [surface: string, how: string][];
  insecure: boolean;
}

/** Throws the one-line refusal (exit code 2) when a non-loopback bind lacks authentication. */
export function checkExposure(e: Exposure): void {
  const open = [...new Set(e.hosts.filter((h) => !isLoopback(h)))];
  if (!open.length || !e.missing.length || e.insecure) return;
  const needs = e.missing.map(([surface, how]) => `${surface} (${how})`).join(', ');
  throw new UsageError(
    `refusing to listen on ${open.join(', ')} without authentication: set ${needs}, or pass --insecure to expose them unauthenticated (loopback, the default 127.0.0.1, needs neither)`,
  );
}
