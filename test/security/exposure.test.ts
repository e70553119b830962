/**
 * Exposure, as Redis' protected mode: `tracegate start`, `gateway` and `collector` refuse to
 * listen beyond loopback without authentication (exit code 2, one line naming what is missing
 * and the two ways out), accept with the secrets or `--insecure`, and with authentication every
 * data route refuses a request without credentials: the gateway with a 401 in the OpenAI
 * envelope, the collector with a 401 (UNAUTHENTICATED on OTLP/gRPC), the SQL interface with
 * ClickHouse's 516.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/args.js';
import { collectorConfigFrom, runCollector } from '../../cli/commands/collector.js';
import { runGateway } from '../../cli/commands/gateway.js';
import { checkExposure, isLoopback } from '../../cli/exposure.js';
import { startStack, type Stack } from '../../cli/stack.js';
import { describeStack, exampleModel, runStart } from '../../cli/commands/start.js';
import * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { buildGateway, type Gateway } from '../../gateway/server.js';
import { backendDoc, config, docs } from '../gateway/helpers.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { grpcExport } from '../collector/helpers.js';
import { encodeRequest, ids } from '../collector/otlp-encode.js';
import { canaryListener, type CanaryListener } from './canary.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'mk-0123456789abcdef';
const TOKEN = 'ct-0123456789abcdef';
const PASSWORD = 'pw-0123456789abcdef';
const SECRET_ENV = ['TRACEGATE_MASTER_KEY', 'TRACEGATE_COLLECTOR_TOKEN', 'TRACEGATE_SQL_PASSWORD', 'TRACEGATE_SQL_USER'];

let dir: string;
let canary: CanaryListener;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `tracegate <args>` as a child process. With `until`, it is stopped (SIGTERM) once its output
 * matches, and `onUp` runs first with that output.
 */
function tracegate(args: string[], env: Record<string, string> = {}, until?: RegExp, onUp?: (out: string) => Promise<void>): Promise<Run> {
  const base = { ...process.env };
  for (const k of [...SECRET_ENV, 'CLICKHOUSE_URL', 'TRACEGATE_DATA']) delete base[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/tracegate.ts', ...args], { cwd: ROOT, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    let up = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (until && !up && until.test(stdout)) {
        up = true;
        void (onUp ?? (async () => {}))(stdout)
          .catch((err: Error) => (stderr += `test: ${err.message}`))
          .finally(() => child.kill('SIGTERM'));
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const gatewayFile = () => {
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    docs(
      'kind: Gateway\nmetadata: { name: g }\nspec:\n  telemetry: { otlpEndpoint: null }',
      'kind: Backend\nmetadata: { name: sim }\nspec:\n  provider: simulated',
      'kind: Route\nmetadata: { name: main }\nspec:\n  rules:\n    - matches: [{ model: "tracegate-sim-*" }]\n      targets: [{ backend: sim }]',
    ),
  );
  return file;
};

/** The refusal: exit code 2 and exactly one line that names each missing secret and --insecure. */
function expectRefused(run: Run, names: string[]): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tracegate: refusing to listen on .+ without authentication: set .+, or pass --insecure/);
  for (const n of names) expect(lines[0]).toContain(n);
  expect(canary.connections).toBe(0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-sec-exposure-'));
  canary = await canaryListener();
});
afterAll(async () => {
  await canary?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loopback is the only address that needs no authentication', () => {
  it('127.0.0.0/8, ::1 and localhost are loopback; 0.0.0.0, ::, LAN addresses and other names are not', () => {
    for (const h of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '::2']) expect(isLoopback(h), h).toBe(false);
    expect(() => checkExposure({ hosts: ['127.0.0.1', '::1'], missing: [['the gateway master key', 'X']], insecure: false })).not.toThrow();
    expect(() => checkExposure({ hosts: ['192.168.1.20'], missing: [['the gateway master key', 'X']], insecure: false })).toThrow(/refusing to listen on 192\.168\.1\.20/);
  });
});

/** Runs `fn` with these environment variables set (and the secret ones cleared otherwise). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(SECRET_ENV.map((k) => [k, process.env[k]]));
  for (const k of SECRET_ENV) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const k of SECRET_ENV) delete process.env[k];
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
}

/** The same refusal, from the command's function in this process (the CLI turns it into exit code 2). */
async function refusedInProcess(run: () => Promise<number>, names: string[]): Promise<void> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(message).toMatch(/^refusing to listen on .+ without authentication: set .+, or pass --insecure/);
  for (const n of names) expect(message).toContain(n);
  expect(canary.connections).toBe(0);
}

describe('refused at start without authentication (exit code 2, one line)', () => {
  it('tracegate start --host 0.0.0.0 names all three secrets (a child process: exit code 2, one line on stderr)', async () => {
    const run = await tracegate(['start', '--host', '0.0.0.0', '--data', join(dir, 'refused')]);
    expectRefused(run, ['TRACEGATE_MASTER_KEY or --master-key-file', 'TRACEGATE_COLLECTOR_TOKEN or --collector-token-file', 'TRACEGATE_SQL_PASSWORD or --sql-password-file']);
  });

  it('tracegate start --host :: with only the master key names the other two', async () => {
    await withEnv({ TRACEGATE_MASTER_KEY: KEY }, () => refusedInProcess(() => runStart(['--host', '::', '--data', join(dir, 'refused')]), ['the collector token', 'the SQL password']));
  });

  it('tracegate gateway --host <a LAN address>', async () => {
    await withEnv({}, () => refusedInProcess(() => runGateway(['--config', gatewayFile(), '--host', '192.168.77.1']), ['the gateway master key']));
  });

  it('tracegate gateway with listen.host 0.0.0.0 in its config file', async () => {
    const file = join(dir, 'open.yaml');
    writeFileSync(file, docs('kind: Gateway\nmetadata: { name: g }\nspec:\n  listen: { host: 0.0.0.0, port: 0 }\n  allowEmpty: true'));
    await withEnv({}, () => refusedInProcess(() => runGateway(['--config', file]), ['the gateway master key']));
  });

  it('tracegate collector --http-host 0.0.0.0', async () => {
    await withEnv({}, () =>
      refusedInProcess(() => runCollector(['--http-host', '0.0.0.0', '--grpc-port', '0', '--http-port', '0', '--data', join(dir, 'refused')]), ['TRACEGATE_COLLECTOR_TOKEN or --collector-token-file']),
    );
  });

  it('a secret file that cannot be read is a usage error, not a start without it', async () => {
    const err = await runGateway(['--config', gatewayFile(), '--host', '0.0.0.0', '--master-key-file', join(dir, 'missing-key')]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/--master-key-file .*missing-key cannot be read \(ENOENT\)/);
  });
});

describe('accepted with --insecure or with the secrets', () => {
  const port = (out: string) => Number(/listening on http:\/\/[^ ]+:(\d+)/.exec(out)![1]);

  it('tracegate gateway --host 0.0.0.0 --insecure listens without a key', async () => {
    const run = await tracegate(['gateway', '--config', gatewayFile(), '--host', '0.0.0.0', '--port', '0', '--insecure', '--log-level', 'silent'], {}, /listening on/, async (out) => {
      const r = await fetch(`http://127.0.0.1:${port(out)}/v1/models`);
      expect(r.status).toBe(200);
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('listening on');
  });

  it('tracegate gateway --host 0.0.0.0 with --master-key-file: /v1 needs the key, /healthz is open', async () => {
    const keyFile = join(dir, 'master-key');
    writeFileSync(keyFile, `${KEY}\n`);
    const run = await tracegate(['gateway', '--config', gatewayFile(), '--host', '0.0.0.0', '--port', '0', '--master-key-file', keyFile, '--log-level', 'silent'], {}, /listening on/, async (out) => {
      const base = `http://127.0.0.1:${port(out)}`;
      const r = await fetch(`${base}/v1/models`);
      expect(r.status).toBe(401);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      expect((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    });
    expect(run.stderr).toBe('');
  });

  it('tracegate collector on 0.0.0.0 with TRACEGATE_COLLECTOR_TOKEN or --collector-token-file, or --insecure, is accepted', () => {
    const open = { 'grpc-host': '0.0.0.0', 'http-host': '0.0.0.0' };
    expect(collectorConfigFrom(open, { TRACEGATE_COLLECTOR_TOKEN: TOKEN }).authToken).toBe(TOKEN);
    const tokenFile = join(dir, 'collector-token');
    writeFileSync(tokenFile, TOKEN);
    expect(collectorConfigFrom({ ...open, 'collector-token-file': tokenFile }, {}).authToken).toBe(TOKEN);
    expect(collectorConfigFrom({ ...open, insecure: true }, {}).authToken).toBeUndefined();
    expect(() => collectorConfigFrom(open, {})).toThrow(/refusing to listen on 0\.0\.0\.0/);
  });
});

describe('tracegate start beyond loopback with all three secrets: each surface refuses a request without them', () => {
  let stack: Stack;
  const local = (url: string) => url.replace(/\/\/(0\.0\.0\.0|\[::\])/, '//127.0.0.1');

  beforeAll(async () => {
    stack = await startStack({
      target: { kind: 'embedded', dataDir: join(dir, 'stack-data'), database: 'tracegate' },
      host: '0.0.0.0',
      ports: { gateway: 0, grpc: 0, http: 0, sql: 0 },
      spoolDir: join(dir, 'stack-spool'),
      logLevel: 'silent',
      simulatedLatency: { minMs: 0, maxMs: 0, perTokenMs: 0 },
      auth: { masterKey: KEY, collectorToken: TOKEN, sqlUser: 'grafana', sqlPassword: PASSWORD },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('gateway: 401 in the OpenAI envelope without the key or with another, the Anthropic envelope on /v1/messages, 200 with it', async () => {
    const gw = local(stack.urls.gateway);
    const body = JSON.stringify({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'hi' }] });
    const headers = { 'content-type': 'application/json' };
    for (const auth of [{}, { authorization: 'Bearer wrong-key-0123456789' }, { authorization: `Basic ${KEY}` }, { 'x-api-key': 'nope' }] as Record<string, string>[]) {
      const r = await fetch(`${gw}/v1/chat/completions`, { method: 'POST', headers: { ...headers, ...auth }, body });
      expect(r.status).toBe(401);
      const j = (await r.json()) as { error: { type: string; code: string; message: string } };
      expect(j.error.code).toBe('invalid_api_key');
      expect(j.error.message).not.toContain(KEY);
    }
    const m = await fetch(`${gw}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ model: 'tracegate-sim-1', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(m.status).toBe(401);
    expect(await m.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const client = new OpenAI({ baseURL: `${gw}/v1`, apiKey: KEY, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0].message.content).toBeTruthy();
    expect((await fetch(`${gw}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw}/metrics`)).status).toBe(200);
    // The gateway's own spans carry the collector's token: they are stored, not refused.
    await stack.gateway.flush();
    await stack.collector.idle(10_000);
    const rs = await stack.store.client.query({ query: "SELECT count() AS n FROM tracegate.otel_traces WHERE ServiceName = 'tracegate-gateway'", format: 'JSONEachRow' });
    expect(Number((await rs.json<{ n: string }>())[0].n)).toBeGreaterThan(0);
  });

  it('collector: 401 on OTLP/HTTP, feedback and usage without the token; health open', async () => {
    const base = local(stack.urls.otlpHttp);
    for (const [method, path] of [
      ['POST', '/v1/traces'],
      ['POST', '/v1/feedback'],
      ['GET', '/v1/usage'],
    ] as const) {
      const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect(r.status, path).toBe(401);
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  /** One span made by the SDK and sent by the real OTLP/gRPC exporter: its result code (0 success, 1 failure). */
  async function exportOverGrpc(service: string, token?: string): Promise<number> {
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const exporter = new GrpcExporter({ url: stack.urls.otlpGrpc, metadata });
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(memory)] });
    provider.getTracer('t').startSpan('exported').end();
    const code = await new Promise<number>((resolve) => exporter.export(memory.getFinishedSpans(), (r) => resolve(r.code)));
    await exporter.shutdown();
    await provider.shutdown();
    trace.disable();
    return code;
  }
  const storedSpans = async (service: string) => {
    const rs = await stack.store.client.query({ query: 'SELECT count() AS n FROM tracegate.otel_traces WHERE ServiceName = {s:String}', query_params: { s: service }, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0].n);
  };

  it('collector: UNAUTHENTICATED on OTLP/gRPC without the token or with another, stored with it', async () => {
    const body = encodeRequest('exposure-grpc-raw', [{ ...ids(), name: 'refused' }]);
    for (const token of [undefined, 'ct-wrong-0123456789', `${TOKEN}x`]) {
      const r = await grpcExport(stack.urls.otlpGrpc, body, token);
      expect(r.code, String(token)).toBe(grpc.status.UNAUTHENTICATED);
      expect(r.details).toMatch(/bearer token/);
    }
    expect(await exportOverGrpc('exposure-grpc-none')).toBe(1);
    expect(await exportOverGrpc('exposure-grpc-wrong', 'ct-wrong-0123456789')).toBe(1);
    expect(await exportOverGrpc('exposure-grpc', TOKEN)).toBe(0);
    expect((await grpcExport(stack.urls.otlpGrpc, encodeRequest('exposure-grpc-raw-ok', [{ ...ids(), name: 'accepted' }]), TOKEN)).code).toBe(grpc.status.OK);
    await stack.collector.idle(10_000);
    expect(await storedSpans('exposure-grpc')).toBe(1);
    expect(await storedSpans('exposure-grpc-raw-ok')).toBe(1);
    for (const refused of ['exposure-grpc-raw', 'exposure-grpc-none', 'exposure-grpc-wrong']) expect(await storedSpans(refused), refused).toBe(0);
    expect(canary.connections).toBe(0);
  });

  it('SQL interface: 516 AUTHENTICATION_FAILED without the password or with another, rows with it', async () => {
    const sql = local(stack.urls.sql);
    for (const auth of [{}, { authorization: `Basic ${Buffer.from('grafana:wrong').toString('base64')}` }, { 'x-clickhouse-user': 'default', 'x-clickhouse-key': PASSWORD }] as Record<
      string,
      string
    >[]) {
      const r = await fetch(`${sql}/?query=${encodeURIComponent('SELECT 1')}`, { headers: auth });
      expect(r.headers.get('x-clickhouse-exception-code')).toBe('516');
      expect(await r.text()).toContain('AUTHENTICATION_FAILED');
    }
    const ok = await fetch(`${sql}/?query=${encodeURIComponent('SELECT 41 + 1')}`, { headers: { 'x-clickhouse-user': 'grafana', 'x-clickhouse-key': PASSWORD } });
    expect(ok.status).toBe(200);
    expect((await ok.text()).trim()).toBe('42');
  });

  it("the start banner's curl names a served model and the master key by its variable, never its value", () => {
    const banner = describeStack(stack, { kind: 'embedded', dataDir: join(dir, 'stack-data'), database: 'tracegate' });
    expect(banner).toContain('-H "Authorization: Bearer $TRACEGATE_MASTER_KEY"');
    expect(banner).toContain('"model":"tracegate-sim-1"');
    expect(banner).not.toContain(KEY);
    expect(canary.connections).toBe(0);
  });
});

describe("the start banner's example model", () => {
  const routes = (rules: string) =>
    config(
      docs(
        'kind: Backend\nmetadata: { name: sim }\nspec:\n  provider: simulated',
        'kind: Backend\nmetadata: { name: off }\nspec:\n  provider: openai\n  url: https://api.openai.com/v1\n  apiKey: { env: NOT_SET, optional: true }',
        `kind: Route\nmetadata: { name: main }\nspec:\n  rules:\n${rules}`,
      ),
    );
  it('is an exact model the configuration serves, skipping rules whose backends are disabled, else a glob filled in', () => {
    expect(
      exampleModel(routes('    - matches: [{ model: "gpt-*" }]\n      targets: [{ backend: off }]\n    - matches: [{ model: "team-*" }, { model: house-model }]\n      targets: [{ backend: sim }]')),
    ).toBe('house-model');
    expect(exampleModel(routes('    - matches: [{ model: "team-?-*" }]\n      targets: [{ backend: sim }]'))).toBe('team-1-1');
  });
});

describe('the master key never reaches a log line, a span or an upstream', () => {
  let stub: OpenAIStub;
  let gw: Gateway;
  let url: string;
  const exporter = new InMemorySpanExporter();
  let logs = '';

  beforeAll(async () => {
    stub = await startOpenAIStub({ apiKey: 'sk-upstream-key' });
    const logger = pino(
      { level: 'debug' },
      textSink((t) => {
        logs += t;
      }),
    );
    const cfg = config(
      docs(
        backendDoc('up', 'openai', stub.url, '  apiKey: { env: UP_KEY }'),
        'kind: Route\nmetadata: { name: main }\nspec:\n  rules:\n    - matches: [{ model: m }]\n      targets: [{ backend: up }]',
      ),
      { UP_KEY: 'sk-upstream-key' },
    );
    gw = buildGateway(cfg, { logger, spanExporter: exporter, simpleSpanProcessor: true, masterKey: KEY });
    url = await gw.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await stub?.close();
  });

  it('a call with the key succeeds; the key is in no span attribute, log line or upstream header', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    await expect(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong-0123456789', maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    await gw.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(0);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(KEY);
    expect(logs).not.toContain(KEY);
    expect(stub.requests.at(-1)?.headers.authorization).toBe('Bearer sk-upstream-key');
    expect(JSON.stringify(stub.requests.map((r) => r.headers))).not.toContain(KEY);
  });
});
