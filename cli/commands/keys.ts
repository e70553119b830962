/**
 * `tracegate keys create` makes a client key and the ApiKey document that lets it in;
 * `tracegate keys hash` turns a key made elsewhere into the hash that document holds. Both need
 * the pepper the gateway runs with. A key is never taken from argv (shell history, `ps`) and
 * never written to stdout, where `>> gateway.yaml` would put it in the configuration.
 */
import { stringify } from 'yaml';
import { API_VERSION, apiKeySpec } from '../../gateway/config/schema.js';
import { generateKey, hashKey, wellFormedKey } from '../../gateway/policy/keys.js';
import { parse, UsageError } from '../args.js';
import { keyPepperFrom } from '../exposure.js';

const CREATE_OPTIONS = {
  name: { type: 'string' },
  team: { type: 'string' },
  expires: { type: 'string' },
  'allowed-models': { type: 'string', multiple: true },
  'allowed-routes': { type: 'string', multiple: true },
  'key-pepper-file': { type: 'string' },
} as const;

const HASH_OPTIONS = { 'key-pepper-file': { type: 'string' } } as const;

export const KEYS_HELP = `Usage:
  tracegate keys create --name N --team T [--expires 30d|RFC3339] [--allowed-models GLOB,...] [--allowed-routes GLOB,...]
      prints the new key once (on stderr) and the ApiKey document to add to the configuration (on stdout)
  tracegate keys hash < key.txt
      reads a key from stdin and prints its hash, for keys made elsewhere
Both need the gateway's key pepper: TRACEGATE_KEY_PEPPER or --key-pepper-file F (at least 32 characters).
`;

export interface KeysIo {
  stdin: AsyncIterable<Buffer | string> & { isTTY?: boolean };
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
  now: () => number;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DAY_MS = 86_400_000;

function pepper(file: string | undefined, env: NodeJS.ProcessEnv): string {
  const p = keyPepperFrom(file, env);
  if (p === undefined) throw new UsageError('keys need the pepper the gateway runs with: set TRACEGATE_KEY_PEPPER or --key-pepper-file F (at least 32 characters; openssl rand -base64 48 makes one)');
  return p;
}

/** `30d`, `12h`, `90m`, or an RFC 3339 time: the ISO time the key expires. */
export function expiryOf(raw: string, nowMs: number): string {
  const rel = /^(\d{1,5})([dhm])$/.exec(raw.trim());
  if (rel) return new Date(nowMs + Number(rel[1]) * { d: DAY_MS, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm']).toISOString();
  const r = apiKeySpec.shape.expires.safeParse(raw);
  if (!r.success) throw new UsageError(`--expires "${raw}" is neither a duration (30d, 12h, 90m) nor an RFC 3339 time with its offset (2026-12-31T23:59:59Z)`);
  if (Date.parse(raw) <= nowMs) throw new UsageError(`--expires ${raw} is in the past`);
  return raw;
}

const globList = (values: string[] | undefined) =>
  values
    ?.flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);

async function create(args: string[], io: KeysIo): Promise<number> {
  const { values } = parse(args, CREATE_OPTIONS);
  if (!values.name || !NAME.test(values.name)) throw new UsageError('--name N: lower-case letters, digits and "-" (the ApiKey document\'s name, shown on spans as tracegate.key)');
  if (!values.team || !NAME.test(values.team)) throw new UsageError('--team T: the Team the key belongs to (lower-case letters, digits and "-")');
  const p = pepper(values['key-pepper-file'], io.env);
  const key = generateKey();
  const spec: Record<string, unknown> = { team: values.team, hash: hashKey(key, p) };
  if (values.expires !== undefined) spec.expires = expiryOf(values.expires, io.now());
  const models = globList(values['allowed-models']);
  const routes = globList(values['allowed-routes']);
  if (routes?.length) spec.allowedRoutes = routes;
  if (models?.length) spec.allowedModels = models;
  const doc = { apiVersion: API_VERSION, kind: 'ApiKey', metadata: { name: values.name }, spec };
  io.stderr.write(`tracegate: the new key for ${values.name} follows; it is shown this once and cannot be recovered (only its hash is kept):\n${key}\n`);
  io.stderr.write(`tracegate: add the document on stdout to the configuration (and a Team named ${values.team} if there is none)\n`);
  io.stdout.write(`---\n${stringify(doc)}`);
  return 0;
}

/** The first line of stdin, without its line end. */
async function firstLine(stdin: KeysIo['stdin']): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split(/\r?\n/, 1)[0].trim();
}

async function hash(args: string[], io: KeysIo): Promise<number> {
  const { values } = parse(args, HASH_OPTIONS);
  const p = pepper(values['key-pepper-file'], io.env);
  if (io.stdin.isTTY) io.stderr.write('paste the key and press Enter (it is not echoed anywhere else):\n');
  const key = await firstLine(io.stdin);
  if (!wellFormedKey(key)) throw new UsageError('keys hash reads one key from stdin (printable characters, no spaces, at most 512): e.g. tracegate keys hash < key.txt');
  io.stdout.write(`${hashKey(key, p)}\n`);
  return 0;
}

export async function runKeys(args: string[], io: Partial<KeysIo> = {}): Promise<number> {
  const full: KeysIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, now: Date.now, ...io };
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create':
      return create(rest, full);
    case 'hash':
      return hash(rest, full);
    case undefined:
    case 'help':
    case '--help':
      full.stdout.write(KEYS_HELP);
      return 0;
    default:
      throw new UsageError(`unknown keys command "${sub}": create or hash`);
  }
}
