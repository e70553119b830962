import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../gateway/config/load.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, docs, eventually, startGateway, type TestGateway } from './helpers.js';

let stub: OpenAIStub;
let g: TestGateway;
let client: OpenAI;
let dir: string;
let file: string;
let logs = '';

const routeFor = (models: string[]) => `kind: Route
metadata: { name: main }
spec:
  rules:
    - matches: [${models.map((m) => `{ model: ${m} }`).join(', ')}]
      targets: [{ backend: up }]`;
const fileText = (models: string[]) => docs(backendDoc('up', 'openai', stub.url), routeFor(models));

const works = (model: string) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  stub = await startOpenAIStub();
  dir = mkdtempSync(join(tmpdir(), 'tg-reload-'));
  file = join(dir, 'gateway.yaml');
  writeFileSync(file, fileText(['one']));
  const r = await loadConfigFile(file);
  if (!r.ok) throw new Error('bad fixture');
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => ((logs += String(c)), cb()) }));
  g = await startGateway(r.config, { logger });
  g.gw.watch(file, { debounceMs: 20 });
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hot reload', () => {
  it('serves a valid new file once it is written', async () => {
    expect(await works('two')).toBe(false);
    writeFileSync(file, fileText(['one', 'two']));
    await eventually(async () => (await works('two')) || undefined);
    expect(await works('one')).toBe(true);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['one', 'two']);
  });

  it('follows editors that write a new file and rename it over the old one', async () => {
    const tmp = join(dir, '.gateway.yaml.swp');
    writeFileSync(tmp, fileText(['three']));
    renameSync(tmp, file);
    await eventually(async () => (await works('three')) || undefined);
    expect(await works('one')).toBe(false);
  });

  it('refuses an invalid file with each problem and its path in the log, and keeps serving the last good one', async () => {
    writeFileSync(file, `${fileText(['four'])}---\napiVersion: tracegate.dev/v1alpha1\nkind: Route\nmetadata: { name: bad }\nspec:\n  rules:\n    - matches: [{ model: x }]\n      targets: [{ backend: missing }]\n`);
    await eventually(() => (logs.includes('config refused') ? true : undefined));
    expect(logs).toContain('Route/bad spec.rules[0].targets[0].backend: unknown backend \\"missing\\"');
    expect(logs).toContain('the last good one keeps serving');
    expect(await works('three')).toBe(true);
    expect(await works('four')).toBe(false);
    expect(await g.gw.metrics.scrape()).toMatch(/tracegate_gateway_config_reloads_total\{result="refused"\} 1/);
  });
});
