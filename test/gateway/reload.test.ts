import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, docs, eventually } from './helpers.js';
import { startWatchedGateway, type WatchedGateway } from './watched.js';

let stub: OpenAIStub;
let g: WatchedGateway;
let client: OpenAI;
let dir: string;
let file: string;

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
  g = await startWatchedGateway(fileText(['one']), 'tg-reload-');
  ({ client, dir, file } = g);
});
afterAll(async () => {
  await g?.close();
  await stub?.close();
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
    writeFileSync(
      file,
      `${fileText(['four'])}---\napiVersion: tracegate.dev/v1alpha1\nkind: Route\nmetadata: { name: bad }\nspec:\n  rules:\n    - matches: [{ model: x }]\n      targets: [{ backend: missing }]\n`,
    );
    await eventually(() => (g.logs().includes('config refused') ? true : undefined));
    expect(g.logs()).toContain('Route/bad spec.rules[0].targets[0].backend: unknown backend \\"missing\\"');
    expect(g.logs()).toContain('the last good one keeps serving');
    expect(await works('three')).toBe(true);
    expect(await works('four')).toBe(false);
    expect(await g.gw.metrics.scrape()).toMatch(/tracegate_gateway_config_reloads_total\{result="refused"\} 1/);
  });
});
