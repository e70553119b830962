/**
 * Configuration is parsed on a worker thread with a time limit: the same answers as in-thread,
 * a refusal past the limit, and a watched gateway that keeps its event loop, its /healthz and its
 * last good configuration while a file that takes the YAML parser seconds is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { textSink } from '../helpers/text-sink.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../cli/commands/validate.js';
import { MAX_CONFIG_BYTES } from '../../gateway/config/guard.js';
import { loadConfigFile, MAX_PROBLEMS, parseConfig } from '../../gateway/config/load.js';
import type { ConfigResult } from '../../gateway/config/model.js';
import { parseConfigInWorker, PARSE_TIMEOUT_MS } from '../../gateway/config/parse-thread.js';
import { watchConfigFile } from '../../gateway/config/watch.js';
import { hashKey } from '../../gateway/policy/keys.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, docs, eventually } from './helpers.js';
import { startWatchedGateway, type WatchedGateway } from './watched.js';

/**
 * One mapping of ~25k keys, just under the size bound and within every guard: the YAML parser is
 * quadratic in a mapping's keys and takes 2.5-7 s for it on the project's 2-CPU box.
 */
function slowText(): string {
  const lines: string[] = [];
  for (let size = 0, i = 0; size + 12 < MAX_CONFIG_BYTES; i++) {
    lines.push(`k${i}: 1`);
    size += lines[i].length + 1;
  }
  return lines.join('\n');
}

const ROUTE = `kind: Route
metadata: { name: main }
spec:
  rules:
    - matches: [{ model: one }]
      targets: [{ backend: up }]`;

let stub: OpenAIStub;
let dir: string;
const good = () => docs(backendDoc('up', 'openai', stub.url, '  apiKey: { env: UP_KEY }'), ROUTE);

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

  /**
   * Polls /healthz and a call on the old configuration until `done`, the event loop's delay
   * measured meanwhile (10 ms resolution).
   */
  async function serving(done: () => Promise<boolean>) {
    const seen = { maxMs: 0, healthy: 0, unhealthy: 0, served: 0 };
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
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
    delay.disable();
    seen.maxMs = delay.max / 1e6;
    return seen;
  }

  /**
   * On a quiet box the bound is 50 ms; the shared 2-CPU box this runs on often stalls an idle loop
   * past that by itself (other processes holding both CPUs, 60-600 ms measured). So the reload is
   * tried up to three times, and when no try stays under 50 ms, a window of the same length without
   * a reload is measured after each: the best reload must then stay under twice the best of those,
   * and under a second in any case. The in-thread parse held the loop for 1.7-7 s: it fails both.
   */
  it('keeps the event loop under 50 ms of delay, answers /healthz and serves the old configuration', async () => {
    const BOUND_MS = 50;
    const reloadMs: number[] = [];
    const quietMs: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const refusedBefore = await reloads('refused');
      const logged = g.logs().length;
      const t = performance.now();
      // A different text each time: the watcher skips a text it has already reported.
      writeFileSync(g.file, `${slowText()}\n# ${attempt}`);
      const seen = await serving(async () => (await reloads('refused')) > refusedBefore);
      const tookMs = performance.now() - t;
      reloadMs.push(seen.maxMs);
      console.log(
        `slow reload ${attempt}: event-loop delay max ${seen.maxMs.toFixed(1)} ms over ${tookMs.toFixed(0)} ms; /healthz ${seen.healthy} ok, ${seen.unhealthy} failed; ${seen.served} calls served`,
      );
      expect(seen.unhealthy).toBe(0);
      expect(seen.healthy).toBeGreaterThan(0);
      expect(seen.served).toBe(seen.healthy);
      expect(await works()).toBe(true);
      expect(g.logs().slice(logged)).toContain('the last good one keeps serving');
      expect(await reloads('refused')).toBe(refusedBefore + 1);
      if (seen.maxMs < BOUND_MS) return;
      quietMs.push((await serving(async () => performance.now() - t > 2 * tookMs)).maxMs);
      console.log(`the same length without a reload: event-loop delay max ${quietMs.at(-1)!.toFixed(1)} ms`);
    }
    const best = Math.min(...reloadMs);
    expect(best, `reloads ${reloadMs.map(Math.round).join(', ')} ms; without one ${quietMs.map(Math.round).join(', ')} ms`).toBeLessThan(Math.min(1000, 2 * Math.min(...quietMs)));
  });

  it('still applies a normal file afterwards', async () => {
    const ok = await reloads('ok');
    writeFileSync(g.file, good().replace('model: one', 'model: three'));
    await eventually(async () => ((await reloads('ok')) > ok ? true : undefined), 20_000);
    expect(await g.client.chat.completions.create({ model: 'three', messages: [{ role: 'user', content: 'hi' }] })).toBeTruthy();
  });
});
