/**
 * Configuration is parsed on a worker thread with a time limit: the same answers as in-thread,
 * a refusal past the limit, and a watched gateway that keeps its /healthz and its last good
 * configuration while a file that takes the YAML parser seconds is refused (its event loop:
 * test/alone/config-reload.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../cli/commands/validate.js';
import { loadConfigFile, MAX_PROBLEMS, parseConfig } from '../../gateway/config/load.js';
import type { ConfigResult } from '../../gateway/config/model.js';
import { parseConfigInWorker, PARSE_TIMEOUT_MS } from '../../gateway/config/parse-thread.js';
import { watchConfigFile } from '../../gateway/config/watch.js';
import { hashKey } from '../../gateway/policy/keys.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { docs, eventually } from './helpers.js';
import { oneRouteConfig, slowText, startWatchedGateway, type WatchedGateway } from './watched.js';

let stub: OpenAIStub;
let dir: string;
const good = () => oneRouteConfig(stub.url);

beforeAll(async () => {
  stub = await startOpenAIStub();
  dir = mkdtempSync(join(tmpdir(), 'tg-config-worker-'));
});
afterAll(async () => {
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parseConfigInWorker', () => {
  it('answers as parseConfig does: the frozen config with its keys, or every problem', async () => {
    const env = { UP_KEY: 'sk-up' };
    const inThread = parseConfig(good(), { env, file: 'gw.yaml' });
    const r = await parseConfigInWorker(good(), { env, file: 'gw.yaml' });
    expect(r).toEqual(inThread);
    if (!r.ok) throw new Error('expected a config');
    expect(r.config.keys.get('up')).toBe('sk-up');
    expect(Object.isFrozen(r.config.routes[0].rules[0])).toBe(true);
    const bad = good().replace('backend: up }', 'backend: nowhere }');
    expect(await parseConfigInWorker(bad, { env, file: 'gw.yaml' })).toEqual(parseConfig(bad, { env, file: 'gw.yaml' }));
    expect(await parseConfigInWorker('', {})).toEqual(parseConfig('', {}));
  });

  it('carries the compiled keys and teams across', async () => {
    const policy = `${good()}---\n${docs('kind: Team\nmetadata: { name: t }\nspec:\n  limits: { requestsPerMinute: 5 }', `kind: ApiKey\nmetadata: { name: k }\nspec:\n  team: t\n  hash: ${hashKey('tg-someone', 'p'.repeat(32))}`)}`;
    const r = await parseConfigInWorker(policy, { env: { UP_KEY: 'sk-up' } });
    expect(r).toEqual(parseConfig(policy, { env: { UP_KEY: 'sk-up' } }));
    expect(r.ok && r.config.apiKeys.get('k')?.identity.team).toBe('t');
  });

  it('lists at most MAX_PROBLEMS problems, each message cut at 500 characters', async () => {
    const emptyDocs = '---\na: 1\n'.repeat(200);
    const r = await parseConfigInWorker(emptyDocs, { file: 'many.yaml' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(MAX_PROBLEMS + 1);
    // At least one problem per document.
    expect(r.problems.at(-1)).toMatchObject({ path: 'file', file: 'many.yaml', message: expect.stringMatching(/^\d{3,} more problems not listed$/) });
    const unknownKeys = docs(`kind: Gateway\nmetadata: { name: g }\nspec:\n${Array.from({ length: 2000 }, (_, i) => `  k${i}: 1`).join('\n')}`);
    const one = parseConfig(unknownKeys);
    expect(one.ok || one.problems[0].message).toMatch(/^Unrecognized keys: "k0", "k1", .{400,}…$/);
  });

  it('reads file secrets beside the config file, as loadConfigFile always has', async () => {
    const file = join(dir, 'secret-ref.yaml');
    writeFileSync(join(dir, 'up.key'), 'sk-from-file\n');
    writeFileSync(file, good().replace('{ env: UP_KEY }', '{ file: up.key }'));
    const r = await loadConfigFile(file, { env: {} });
    expect(r.ok && r.config.keys.get('up')).toBe('sk-from-file');
  });

  it('refuses a text that takes longer than the limit', async () => {
    const r = await parseConfigInWorker(slowText(), { file: 'slow.yaml', timeoutMs: 100 });
    expect(r).toEqual({ ok: false, problems: [{ path: 'file', file: 'slow.yaml', message: 'configuration took longer than 100 ms to parse; refused' }] });
  });

  it('a cancelled parse answers at once with a refusal', async () => {
    const stop = new AbortController();
    const pending = parseConfigInWorker(slowText(), { signal: stop.signal, timeoutMs: 60_000 });
    stop.abort();
    expect(await pending).toMatchObject({ ok: false, problems: [{ message: 'the parse was cancelled' }] });
  });
});

describe('tracegate validate', () => {
  it('reports a file past the time limit in one line, exit code 1', async () => {
    const file = join(dir, 'slow.yaml');
    writeFileSync(file, slowText());
    let out = '';
    let err = '';
    // The default limit: the text takes the parser longer than 2 s here; a faster machine refuses it for its schema.
    const code = await runValidate(
      ['--config', file],
      textSink((s) => (out += s)),
      textSink((s) => (err += s)),
    );
    expect(code).toBe(1);
    expect(out).toBe('');
    if (err.includes('took longer')) expect(err).toBe(`${file} file: configuration took longer than ${PARSE_TIMEOUT_MS} ms to parse; refused\n`);
    else expect(err).toContain('document 1');
  });
});

describe('a watched file', () => {
  it('is parsed one version at a time: a slow version refused past the limit, the next one applied after it', async () => {
    const file = join(dir, 'watched.yaml');
    writeFileSync(file, good());
    const results: ConfigResult[] = [];
    const w = watchConfigFile(file, { env: { UP_KEY: 'k' }, debounceMs: 10, settleMs: 50, timeoutMs: 300, onResult: (r) => results.push(r) });
    try {
      writeFileSync(file, slowText());
      // Past the settle time, so the slow version is being parsed when the next one lands.
      await new Promise((r) => setTimeout(r, 400));
      writeFileSync(file, good().replace('model: one', 'model: two'));
      await eventually(() => results.some((r) => r.ok) || undefined, 20_000);
      expect(results.map((r) => (r.ok ? 'ok' : r.problems[0].message))).toEqual(['configuration took longer than 300 ms to parse; refused', 'ok']);
    } finally {
      w.close();
    }
  });
});

describe('a watched gateway while a slow file is refused', () => {
  let g: WatchedGateway;
  beforeAll(async () => {
    process.env.UP_KEY = 'sk-up';
    g = await startWatchedGateway(good(), 'tg-config-worker-gw-');
  });
  afterAll(async () => {
    await g?.close();
    delete process.env.UP_KEY;
  });

  const reloads = async (result: 'ok' | 'refused') => Number(new RegExp(`tracegate_gateway_config_reloads_total\\{result="${result}"\\} (\\d+)`).exec(await g.gw.metrics.scrape())?.[1] ?? 0);
  const works = () =>
    g.client.chat.completions.create({ model: 'one', messages: [{ role: 'user', content: 'hi' }] }).then(
      () => true,
      () => false,
    );

  /** Polls /healthz and a call on the old configuration until `done`. */
  async function serving(done: () => Promise<boolean>) {
    const seen = { healthy: 0, unhealthy: 0, served: 0 };
    await eventually(async () => {
      if (
        await fetch(`${g.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        seen.healthy++;
      else seen.unhealthy++;
      if (await works()) seen.served++;
      return (await done()) || undefined;
    }, 30_000);
    return seen;
  }

  // The event loop's delay meanwhile (under 50 ms) is measured by test/alone/config-reload.test.ts,
  // with no other test file sharing the CPUs.
  it('answers /healthz and serves the old configuration while the slow file is refused', async () => {
    const refusedBefore = await reloads('refused');
    const logged = g.logs().length;
    writeFileSync(g.file, slowText());
    const seen = await serving(async () => (await reloads('refused')) > refusedBefore);
    expect(seen.unhealthy).toBe(0);
    expect(seen.healthy).toBeGreaterThan(0);
    expect(seen.served).toBe(seen.healthy);
    expect(await works()).toBe(true);
    expect(g.logs().slice(logged)).toContain('the last good one keeps serving');
    expect(await reloads('refused')).toBe(refusedBefore + 1);
  });

  it('still applies a normal file afterwards', async () => {
    const ok = await reloads('ok');
    writeFileSync(g.file, good().replace('model: one', 'model: three'));
    await eventually(async () => ((await reloads('ok')) > ok ? true : undefined), 20_000);
    expect(await g.client.chat.completions.create({ model: 'three', messages: [{ role: 'user', content: 'hi' }] })).toBeTruthy();
  });
});
