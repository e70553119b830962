/**
 * `tracegate keys create` / `keys hash`: the created document authenticates its key through a
 * real gateway, `keys hash` gives the same hash from stdin, both need the pepper; `tracegate
 * gateway` / `start` refuse to start ApiKeys without it, in one line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../cli/args.js';
import { runGateway } from '../../cli/commands/gateway.js';
import { expiryOf, runKeys } from '../../cli/commands/keys.js';
import { authenticationLine, gatewayUnauthenticated } from '../../cli/exposure.js';
import { checkStackExposure, startStack, type StackOptions } from '../../cli/stack.js';
import { createSimulatedTransport } from '../../gateway/providers/simulated.js';
import { config, docs, startGateway } from '../gateway/helpers.js';

const PEPPER = 'a-pepper-of-at-least-32-characters-000';
const NOW = Date.parse('2026-12-05T12:00:00Z');
const SIM = 'kind: Backend\nmetadata: { name: sim }\nspec:\n  provider: simulated';
const ROUTE = 'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: "tracegate-sim-*" }]\n      targets: [{ backend: sim }]';
const TEAM = 'kind: Team\nmetadata: { name: billing }';
const dir = mkdtempSync(join(tmpdir(), 'tg-keys-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function keys(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runKeys(args, {
    env: opts.env ?? { TRACEGATE_KEY_PEPPER: PEPPER },
    stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    now: () => NOW,
  });
  return { code, stdout, stderr };
}

describe('tracegate keys', () => {
  it('create prints the key once on stderr and an ApiKey document on stdout that authenticates it; hash agrees', async () => {
    const run = await keys(['create', '--name', 'ci-bot', '--team', 'billing', '--expires', '30d', '--allowed-models', 'tracegate-sim-*,gpt-4o', '--allowed-models', 'claude-*']);
    expect(run.code).toBe(0);
    const key = /^(tg-[A-Za-z0-9]{43})$/m.exec(run.stderr)?.[1];
    expect(key).toBeDefined();
    expect(run.stderr).toMatch(/shown this once/);
    expect(run.stdout).not.toContain(key);
    const doc = parseYaml(run.stdout.replace(/^---\n/, '')) as { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
    expect(doc).toMatchObject({ apiVersion: 'tracegate.dev/v1alpha1', kind: 'ApiKey', metadata: { name: 'ci-bot' } });
    expect(doc.spec).toEqual({
      team: 'billing',
      hash: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
      expires: '2027-01-04T12:00:00.000Z',
      allowedModels: ['tracegate-sim-*', 'gpt-4o', 'claude-*'],
    });

    const hashed = await keys(['hash'], { stdin: `${key}\n` });
    expect(hashed).toEqual({ code: 0, stdout: `${doc.spec.hash}\n`, stderr: '' });

    const cfg = config(`${docs(SIM, ROUTE, TEAM)}${run.stdout}`);
    const g = await startGateway(cfg, { keyPepper: PEPPER, simulated: createSimulatedTransport({ latency: { minMs: 0, maxMs: 0, perTokenMs: 0 } }) });
    try {
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key!, maxRetries: 0 });
      const r = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.choices[0].message.content).toBeTruthy();
      await expect(new OpenAI({ baseURL: `${g.url}/v1`, apiKey: `${key}x`, maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    } finally {
      await g.close();
    }
  });

  it('two keys are never the same; an expiry is a duration or an RFC 3339 time in the future', async () => {
    const a = await keys(['create', '--name', 'a', '--team', 't']);
    const b = await keys(['create', '--name', 'a', '--team', 't']);
    expect(a.stderr).not.toBe(b.stderr);
    expect(expiryOf('12h', NOW)).toBe('2026-12-06T00:00:00.000Z');
    expect(expiryOf('2027-03-01T00:00:00+01:00', NOW)).toBe('2027-03-01T00:00:00+01:00');
    expect(() => expiryOf('2020-01-01T00:00:00Z', NOW)).toThrow(/in the past/);
    expect(() => expiryOf('next week', NOW)).toThrow(/neither a duration/);
  });

  it.each([
    { name: 'create without a pepper', args: ['create', '--name', 'a', '--team', 't'], env: {}, want: /need the pepper the gateway runs with: set TRACEGATE_KEY_PEPPER or --key-pepper-file/ },
    { name: 'hash without a pepper', args: ['hash'], env: {}, want: /need the pepper/ },
    { name: 'a short pepper', args: ['hash'], env: { TRACEGATE_KEY_PEPPER: 'short-but-8-chars' }, want: /at least 32 characters/ },
    { name: 'a pepper file that is not there', args: ['hash', '--key-pepper-file', '/nonexistent/pepper'], env: {}, want: /--key-pepper-file \/nonexistent\/pepper cannot be read/ },
    { name: 'create without a team', args: ['create', '--name', 'a'], env: undefined, want: /--team T/ },
    { name: 'a name that is not a document name', args: ['create', '--name', 'Bad Name', '--team', 't'], env: undefined, want: /--name N/ },
  ])('$name: a usage error', async ({ args, env, want }) => {
    const err = await keys(args, { env, stdin: 'tg-x\n' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(want);
  });

  it('hash refuses an empty or spaced stdin, and reads only the first line', async () => {
    await expect(keys(['hash'], { stdin: '' })).rejects.toThrow(/reads one key from stdin/);
    await expect(keys(['hash'], { stdin: 'two words\n' })).rejects.toThrow(/reads one key from stdin/);
    const one = await keys(['hash'], { stdin: 'tg-abc\nsecond line\n' });
    expect(one.stdout).toBe((await keys(['hash'], { stdin: 'tg-abc' })).stdout);
  });
});

describe('starting with ApiKeys', () => {
  const file = join(dir, 'keys.yaml');
  writeFileSync(file, docs(SIM, ROUTE, TEAM, `kind: ApiKey\nmetadata: { name: k }\nspec:\n  team: billing\n  hash: hmac-sha256:${'0'.repeat(64)}`));

  it('tracegate gateway refuses without the pepper, in one line', async () => {
    const saved = process.env.TRACEGATE_KEY_PEPPER;
    delete process.env.TRACEGATE_KEY_PEPPER;
    try {
      const err = await runGateway(['--config', file, '--port', '0']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/has 1 ApiKey\(s\) but no key pepper: set TRACEGATE_KEY_PEPPER or --key-pepper-file/);
      expect((err as Error).message).not.toContain('\n');
    } finally {
      if (saved !== undefined) process.env.TRACEGATE_KEY_PEPPER = saved;
    }
  });

  it('tracegate start refuses without the pepper before opening the store', async () => {
    const err = await startStack({
      target: { kind: 'embedded', dataDir: join(dir, 'never'), database: 'tracegate' },
      configFile: file,
      host: '127.0.0.1',
      ports: { gateway: 0, grpc: 0, http: 0, sql: 0 },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/keys\.yaml: the configuration has 1 ApiKey\(s\) but no key pepper/);
  });

  it('beyond loopback, ApiKeys with their pepper authenticate the gateway as the master key does', () => {
    expect(gatewayUnauthenticated(undefined, 2, PEPPER)).toEqual([]);
    expect(gatewayUnauthenticated('master-key-123', 0, undefined)).toEqual([]);
    expect(gatewayUnauthenticated(undefined, 0, PEPPER)).toHaveLength(1);
    expect(gatewayUnauthenticated(undefined, 2, undefined)).toHaveLength(1);
    const opts = (auth: StackOptions['auth']): StackOptions => ({
      target: { kind: 'embedded', dataDir: dir, database: 'tracegate' },
      host: '0.0.0.0',
      ports: { gateway: 0, grpc: 0, http: 0, sql: 0 },
      auth,
    });
    const others = { collectorToken: 'collector-token-1', sqlPassword: 'sql-password-1' };
    expect(() => checkStackExposure(opts({ ...others, keyPepper: PEPPER }), 1)).not.toThrow();
    expect(() => checkStackExposure(opts({ ...others, keyPepper: PEPPER }), 0)).toThrow(
      /the gateway master key or ApiKeys \(TRACEGATE_MASTER_KEY or --master-key-file, or ApiKey documents with TRACEGATE_KEY_PEPPER/,
    );
  });

  it('the banner says whether authentication is on', () => {
    expect(authenticationLine(0, false)).toMatch(/^authentication off: no ApiKey in the configuration/);
    expect(authenticationLine(2, true)).toMatch(/^authentication on: 2 ApiKey\(s\) and the master key/);
    expect(authenticationLine(0, true)).toBe('authentication on: the master key');
  });
});
