/**
 * Evaluators under `tracegate start`: the worker runs beside the collector, scores what the
 * gateway stored, is reloaded with the configuration file (an Evaluator added while running
 * starts scoring, a broken file changes nothing), and its counters are on the collector's
 * /metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../cli/stack.js';
import { docs, eventually } from '../../gateway/helpers.js';

let dir: string;
let file: string;
let stack: Stack;

const BASE = [
  'kind: Backend\nmetadata: { name: sim }\nspec: { provider: simulated }',
  'kind: Route\nmetadata: { name: all }\nspec:\n  rules:\n    - matches: [{ model: "*" }]\n      targets: [{ backend: sim }]',
  'kind: Evaluator\nmetadata: { name: nonempty }\nspec: { type: code, check: length, min: 1 }',
  // A judge through the stack's own gateway, with authentication off: its calls carry no key and
  // no purpose, and are still never scored (they are known by their traces).
  'kind: Evaluator\nmetadata: { name: judged }\nspec:\n  type: llm-judge\n  template: relevance\n  target: { models: ["tracegate-sim-*"] }\n  retries: 0\n  judge: { model: judge-sim }',
];
const ADDED = 'kind: Evaluator\nmetadata: { name: short }\nspec: { type: code, check: length, max: 5 }';

async function scalar(query: string): Promise<number> {
  const rs = await stack.store.client.query({ query, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0].n);
}

async function count(name: string): Promise<number> {
  const rs = await stack.store.client.query({ query: 'SELECT count() AS n FROM tracegate.evaluations WHERE name = {n:String}', query_params: { n: name }, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0].n);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tracegate-eval-stack-'));
  file = join(dir, 'gateway.yaml');
  writeFileSync(file, docs(...BASE));
  stack = await startStack({
    target: { kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' },
    configFile: file,
    host: '127.0.0.1',
    ports: { gateway: 0, grpc: 0, http: 0, sql: 0 },
    logLevel: 'silent',
    simulatedLatency: { minMs: 0, maxMs: 0, perTokenMs: 0 },
  });
  const client = new OpenAI({ baseURL: `${stack.urls.gateway}/v1`, apiKey: 'k', maxRetries: 0 });
  for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: `hello ${i}` }] });
  await stack.gateway.flush();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('evaluators in the stack', () => {
  it('score the stored calls without being asked, and never the judge calls', async () => {
    await eventually(async () => ((await count('nonempty')) === 3 ? true : undefined), 45_000);
    await eventually(async () => ((await scalar("SELECT count() AS n FROM tracegate.evaluator_runs WHERE evaluator = 'judged'")) === 3 ? true : undefined), 45_000);
    // The three judge calls are stored LLM spans (model judge-sim); none is scored, now or later.
    await eventually(async () => ((await scalar("SELECT count() AS n FROM tracegate.llm_spans WHERE model = 'judge-sim'")) === 3 ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 8000));
    expect(await count('nonempty')).toBe(3);
    expect(await scalar("SELECT count() AS n FROM tracegate.evaluator_runs WHERE span_id IN (SELECT span_id FROM tracegate.llm_spans WHERE model = 'judge-sim')")).toBe(0);
  }, 90_000);

  it('an Evaluator added to the file while running starts scoring; a broken file changes nothing', async () => {
    // Refused whole: the valid Evaluator beside the broken one does not start either.
    writeFileSync(file, docs(...BASE, ADDED, 'kind: Evaluator\nmetadata: { name: broken }\nspec: { type: code, check: regex }'));
    await new Promise((r) => setTimeout(r, 9000));
    expect(await count('short')).toBe(0);
    writeFileSync(file, docs(...BASE, ADDED));
    await eventually(async () => ((await count('short')) === 3 ? true : undefined), 45_000);
    // The simulated answers are longer than 5 characters.
    const rs = await stack.store.client.query({ query: "SELECT uniqExact(label) AS labels, any(label) AS first_label FROM tracegate.evaluations WHERE name = 'short'", format: 'JSONEachRow' });
    const row = (await rs.json<{ labels: string | number; first_label: string }>())[0];
    expect([Number(row.labels), row.first_label]).toEqual([1, 'fail']);
    expect(await count('nonempty')).toBe(3);
  }, 60_000);

  it("the worker's counters are on the collector's /metrics", async () => {
    const text = await (await fetch(`${stack.urls.otlpHttp}/metrics`)).text();
    expect(text).toContain('tracegate_collector_received_spans_total');
    expect(text).toContain('tracegate_evaluator_evaluations_total{evaluator="nonempty",status="ok"} 3');
    expect(text).toContain('tracegate_evaluator_evaluations_total{evaluator="short",status="ok"} 3');
    expect(text).toMatch(/tracegate_evaluator_backlog\{evaluator="short"\} 0/);
  });
});
