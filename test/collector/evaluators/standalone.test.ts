/**
 * Evaluators under `tracegate collector` (the collector alone, its own process): with
 * `--evaluators FILE --gateway URL` it scores what a separate gateway stored, calls judges through
 * that gateway and writes results through itself; its /metrics carries the evaluator counters.
 * Flags that cannot work are refused with a usage error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluatorFlags } from '../../../cli/commands/collector.js';
import { UsageError } from '../../../cli/args.js';
import { openStore } from '../../../common/store.js';
import { loadConfigFile } from '../../../gateway/config/load.js';
import { createSimulatedTransport } from '../../../gateway/providers/simulated.js';
import { buildGateway, type Gateway } from '../../../gateway/server.js';
import { otlpSpanProcessor } from '../../../gateway/telemetry/tracing.js';
import { docs, eventually } from '../../gateway/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tracegate-eval-collector-'));
const children: ChildProcess[] = [];
let gateway: Gateway | undefined;
afterAll(async () => {
  await gateway?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const CONFIG = docs(
  'kind: Backend\nmetadata: { name: sim }\nspec: { provider: simulated }',
  'kind: Route\nmetadata: { name: all }\nspec:\n  rules:\n    - matches: [{ model: "*" }]\n      targets: [{ backend: sim }]',
  'kind: Evaluator\nmetadata: { name: nonempty }\nspec: { type: code, check: length, min: 1 }',
  'kind: Evaluator\nmetadata: { name: judged }\nspec:\n  type: llm-judge\n  template: relevance\n  target: { models: ["tracegate-sim-*"] }\n  retries: 0\n  judge: { model: judge-sim }',
);

describe('tracegate collector --evaluators FILE --gateway URL', () => {
  it('refuses flags that cannot work', () => {
    expect(() => evaluatorFlags({ gateway: 'http://127.0.0.1:1/v1' })).toThrow(UsageError);
    expect(() => evaluatorFlags({ evaluators: 'x.yaml' })).toThrow(/--gateway/);
    expect(() => evaluatorFlags({ evaluators: 'x.yaml', gateway: 'not a url' })).toThrow(/must be a URL/);
    expect(() => evaluatorFlags({ evaluators: 'x.yaml', gateway: 'file:///etc/passwd' })).toThrow(/http\(s\)/);
    expect(evaluatorFlags({})).toBeUndefined();
    expect(evaluatorFlags({ evaluators: 'x.yaml', gateway: 'http://127.0.0.1:8080/v1/' })).toEqual({ file: 'x.yaml', gatewayUrl: 'http://127.0.0.1:8080/v1' });
  });

  it('scores the calls a separate gateway stored, judges included, and counts them on /metrics', async () => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, CONFIG);
    const gwPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/tracegate.ts',
        'collector',
        '--data',
        join(dir, 'data'),
        '--spool',
        join(dir, 'spool'),
        '--grpc-port',
        '0',
        '--http-port',
        '0',
        '--log-level',
        'warn',
        '--evaluators',
        file,
        '--gateway',
        `http://127.0.0.1:${gwPort}/v1`,
      ],
      { cwd: join(import.meta.dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const urls = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const g = /OTLP\/gRPC\s+([\d.]+:\d+)/.exec(out);
        const h = /OTLP\/HTTP\s+(http:\/\/[\d.]+:\d+)/.exec(out);
        if (g && h && /evaluators 2 from/.test(out)) resolve({ grpc: `http://${g[1]}`, http: h[1] });
      });
      child.on('exit', (code) => reject(new Error(`collector exited with ${code}`)));
    });
    const loaded = await loadConfigFile(file);
    if (!loaded.ok) throw new Error('config');
    gateway = buildGateway(loaded.config, {
      logLevel: 'silent',
      spanProcessor: otlpSpanProcessor(urls.grpc),
      simulated: createSimulatedTransport({ latency: { minMs: 0, maxMs: 0, perTokenMs: 0 } }),
    });
    await gateway.listen({ host: '127.0.0.1', port: gwPort });
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${gwPort}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: `hello ${i}` }] });
    await gateway.flush();
    const metric = (text: string, name: string, labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const text = await eventually(async () => {
      const t = await (await fetch(`${urls.http}/metrics`)).text();
      return metric(t, 'tracegate_evaluator_evaluations_total', 'evaluator="nonempty",status="ok"') === 2 && metric(t, 'tracegate_evaluator_evaluations_total', 'evaluator="judged",status="ok"') === 2
        ? t
        : undefined;
    }, 60_000);
    expect(metric(text, 'tracegate_evaluator_judge_calls_total', 'evaluator="judged",outcome="ok"')).toBe(2);
    await gateway.flush();
    // stopped with SIGTERM, it writes what it accepted; its store then holds the scores
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' });
    try {
      const rs = await store.client.query({
        query: "SELECT evaluator AS name, count() AS n FROM tracegate.evaluator_runs WHERE status = 'ok' GROUP BY name ORDER BY name",
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ name: string; n: string }>();
      expect(rows.map((r) => [r.name, Number(r.n)])).toEqual([
        ['judged', 2],
        ['nonempty', 2],
      ]);
    } finally {
      await store.close();
    }
  }, 120_000);
});
