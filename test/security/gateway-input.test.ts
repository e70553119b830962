/**
 * Gateway input, as an attacker sends it: the known crash classes through the real `tracegate
 * start` process (spawned with --unhandled-rejections=strict, so an exception that escaped would
 * end it), the original crash path (a telemetry timer serialising a deep value) with the depth
 * check switched off, Fastify's and Node's own refusals in the OpenAI envelope, bounded metric
 * labels, and fast-check over the body path (the event loop with the largest
 * bodies: test/alone/event-loop.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedTransport } from '../../gateway/providers/simulated.js';
import { buildGateway, type Gateway } from '../../gateway/server.js';
import { otlpSpanProcessor } from '../../gateway/telemetry/tracing.js';
import { config, docs, startGateway } from '../gateway/helpers.js';
import { canaryListener, type CanaryListener } from './canary.js';
import { fuzzParams } from './fuzz.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SIM = 'tracegate-sim-1';
const VALID = { model: SIM, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };
const nest = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
/** A valid request with `field` set to raw JSON text. */
const withField = (field: string, json: string) => JSON.stringify(VALID).replace(/}$/, `,${JSON.stringify(field)}:${json}}`);

interface Answer {
  status: number;
  headers: string;
  body: string;
}

/** Sends raw bytes over a fresh connection and reads the answer until the server closes it. */
function raw(base: string, bytes: string | Buffer, opts: { halfClose?: boolean } = {}): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolveAnswer, reject) => {
    const s = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      let body = text.slice(head.length + 4);
      if (/transfer-encoding: chunked/i.test(head)) body = body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '');
      resolveAnswer({ status: Number(head.split(' ')[1]), headers: head, body });
    });
    s.write(bytes, () => {
      if (opts.halfClose) s.end();
    });
  });
}

const request = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const h = { host: 'x', 'content-type': 'application/json', 'content-length': String(b.length), connection: 'close', ...headers };
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), b]);
};

function expectEnvelope(a: { status: number; body: string }, status: number, message?: RegExp): void {
  expect(a.status, a.body).toBe(status);
  const j = JSON.parse(a.body) as { error: { message: unknown; type: unknown; code: unknown } };
  expect(j.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.any(String) });
  if (message) expect(j.error.message).toMatch(message);
}

/** `tracegate start` as its own process, on free ports and a temporary store. */
interface Started {
  proc: ChildProcess;
  gateway: string;
  otlpGrpc: string;
  output(): string;
  stop(): Promise<void>;
}

async function startCli(): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-gwinput-'));
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  delete env.ANTHROPIC_API_KEY;
  const args = ['--unhandled-rejections=strict', '--import', 'tsx', 'cli/tracegate.ts', 'start', '--data', join(dir, 'data'), '--port', '0', '--grpc-port', '0', '--http-port', '0', '--sql-port', '0'];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (out += String(c)));
  const urls = await new Promise<{ gateway: string; grpc: string }>((ok, fail) => {
    const t = setInterval(() => {
      const gw = /gateway \(OpenAI API\)\s+(http:\/\/\S+)\/v1/.exec(out);
      const grpc = /collector OTLP\/gRPC\s+(http:\/\/\S+)/.exec(out);
      if (gw && grpc) {
        clearInterval(t);
        ok({ gateway: gw[1], grpc: grpc[1] });
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        fail(new Error(`tracegate start exited: ${out}`));
      }
    }, 50);
  });
  return {
    proc,
    gateway: urls.gateway,
    otlpGrpc: urls.grpc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function post(base: string, body: string | Buffer, path = '/v1/chat/completions'): Promise<Answer> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.status, headers: '', body: await r.text() };
}

/** The process is alive and answers both a health check and a valid call. */
async function stillServes(s: Started): Promise<void> {
  expect(s.proc.exitCode, s.output()).toBeNull();
  expect((await fetch(`${s.gateway}/healthz`)).status).toBe(200);
  const ok = await post(s.gateway, JSON.stringify(VALID));
  expect(ok.status, ok.body).toBe(200);
}

const metricValue = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 'NaN');

let cli: Started;
let canary: CanaryListener;

beforeAll(async () => {
  canary = await canaryListener();
  cli = await startCli();
}, 90_000);
afterAll(async () => {
  await cli?.stop();
  await canary?.close();
});

type Expect = 'ok' | 'ok-or-4xx' | { status: number; message: RegExp };
const DEEP = /nests deeper than 64 levels/;
const FORBIDDEN = /forbidden key/;
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

// Each the size of the original attack (12 KB) unless it says otherwise.
const CASES: [string, string | Buffer, Expect][] = [
  ['the original 12 KB request: deep nesting in an extra field', withField('extra', nest(6000)), { status: 400, message: DEEP }],
  ['deep nesting in messages content', JSON.stringify({ ...VALID, messages: [{ role: 'user', content: 'X' }] }).replace('"X"', nest(6000)), { status: 400, message: /\$\.messages\[0\]\.content/ }],
  ['deep nesting in tools', withField('tools', `[{"type":"function","function":{"name":"f","parameters":${nest(6000, '{}')}}}]`), { status: 400, message: DEEP }],
  ['deep nesting in metadata', withField('metadata', `{"a":${nest(6000)}}`), { status: 400, message: /\$\.metadata\.a/ }],
  ['deep nesting in response_format', withField('response_format', `{"type":"json_schema","json_schema":${nest(6000, '{}')}}`), { status: 400, message: DEEP }],
  ['objects nested past the limit', withField('extra', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`), { status: 400, message: DEEP }],
  ['nesting exactly at the limit (64 levels)', withField('extra', nest(63)), 'ok'],
  ['the deepest body the 4 MB limit allows', withField('extra', nest(2_000_000)), { status: 400, message: DEEP }],
  [
    'huge numbers',
    withField('extra', '[1e400,-1e400,-0,18446744073709551616,123456789012345678901234567890123456789012345678901234567890]').replace('"max_tokens":4', '"max_tokens":4,"temperature":1e400'),
    'ok-or-4xx',
  ],
  ['a long digit string as max_tokens', JSON.stringify(VALID).replace('"max_tokens":4', `"max_tokens":${'9'.repeat(5000)}`), 'ok-or-4xx'],
  ['-0 and 2**64 as parameters', JSON.stringify(VALID).replace('"max_tokens":4', '"max_tokens":4,"top_p":-0,"seed":18446744073709551616'), 'ok-or-4xx'],
  ['the same object repeated many times', withField('tools', JSON.stringify(Array.from({ length: 2000 }, () => ({ type: 'function', function: { name: 'f', parameters: { $ref: '#/x' } } })))), 'ok'],
  ['$ref-like keys pointing at themselves', withField('extra', '{"$ref":"#","$id":"#","definitions":{"a":{"$ref":"#/definitions/a"}}}'), 'ok'],
  ['a __proto__ key', withField('extra', '{"__proto__":{"polluted":true}}'), { status: 400, message: FORBIDDEN }],
  ['a __proto__ key spelt with escapes', withField('extra', '{"\\u005f_proto__":{"polluted":true}}'), { status: 400, message: FORBIDDEN }],
  ['constructor.prototype', withField('metadata', '{"constructor":{"prototype":{"polluted":true}}}'), { status: 400, message: FORBIDDEN }],
  ['constructor and prototype keys apart', withField('metadata', '{"constructor":1,"prototype":2}'), 'ok'],
  [
    'invalid UTF-8 in every string',
    bytes('{"model":"tracegate-sim-1","messages":[{"role":"user","name":"', [0xff, 0xfe], '","content":"', [0xc0, 0xaf, 0x80, 0xed, 0xa0, 0x80], '"}],"user":"', [0xf8, 0x88], '","max_tokens":4}'),
    'ok',
  ],
  ['invalid UTF-8 in the model name', bytes('{"model":"tracegate-sim-', [0xff], '","messages":[{"role":"user","content":"hi"}]}'), 'ok-or-4xx'],
  [
    'lone surrogates in every string',
    '{"model":"tracegate-sim-\\ud800","messages":[{"role":"user\\udc00","name":"\\ud800","content":"\\ud800\\udfff\\udc00"}],"user":"\\ud800","max_tokens":4}',
    'ok-or-4xx',
  ],
  ['a model name of 1 MB', JSON.stringify({ ...VALID, model: `tracegate-sim-${'x'.repeat(1 << 20)}` }), { status: 400, message: /model: must be at most/ }],
];

describe('tracegate start (its own process, --unhandled-rejections=strict) survives the known crash classes', () => {
  it.each(CASES)('%s', async (_name, body, want) => {
    const a = await post(cli.gateway, body);
    if (want === 'ok') expect(a.status, a.body).toBe(200);
    else if (want === 'ok-or-4xx') {
      if (a.status !== 200) expectEnvelope(a, a.status);
      expect(a.status === 200 || (a.status >= 400 && a.status < 500), a.body).toBe(true);
    } else expectEnvelope(a, want.status, want.message);
    await stillServes(cli);
  });

  it('is still alive after the span export timers have run, with nothing contained and no connection elsewhere', async () => {
    // The burst timer (20 ms) and the batch timer (1 s) are where the original crash came from.
    await new Promise((r) => setTimeout(r, 1500));
    await stillServes(cli);
    const m = await (await fetch(`${cli.gateway}/metrics`)).text();
    for (const c of ['telemetry', 'metrics', 'tokenizer', 'logging']) expect(metricValue(m, new RegExp(`tracegate_gateway_internal_errors_total\\{component="${c}"\\} (\\d+)`))).toBe(0);
    expect(metricValue(m, /tracegate_gateway_spans_exported_total (\d+)/)).toBeGreaterThan(0);
    expect(canary.connections).toBe(0);
  });
});

const SIM_CONFIG = docs(
  'kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { otlpEndpoint: null }',
  'kind: Backend\nmetadata: { name: simulated }\nspec:\n  provider: simulated',
  'kind: Route\nmetadata: { name: default }\nspec:\n  rules:\n    - matches: [{ model: "named-model" }, { model: "tracegate-sim-*" }]\n      targets: [{ backend: simulated }]',
);
const fastSim = () => createSimulatedTransport({ latency: { minMs: 0, maxMs: 0, perTokenMs: 0 } });

describe('the original crash path, with the depth check switched off', () => {
  let gw: Gateway;
  let base: string;
  beforeAll(async () => {
    // Exactly as tracegate start wires it: the OTLP processor exporting to the collector.
    gw = buildGateway(config(SIM_CONFIG), { logLevel: 'silent', spanProcessor: otlpSpanProcessor(cli.otlpGrpc), simulated: fastSim(), maxJsonDepth: Number.MAX_SAFE_INTEGER });
    base = await gw.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => gw?.close());

  it('a deep value reaching the span export timer is contained and counted, and the next calls are exported', async () => {
    const a = await post(base, withField('extra', nest(6000)));
    expect(a.status === 200 || (a.status >= 400 && a.status !== 500), a.body).toBe(true);
    await new Promise((r) => setTimeout(r, 100)); // the burst timer encodes the span
    expect((await post(base, JSON.stringify(VALID))).status).toBe(200);
    await gw.flush();
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(metricValue(m, /tracegate_gateway_internal_errors_total\{component="telemetry"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, /tracegate_gateway_spans_exported_total (\d+)/)).toBeGreaterThanOrEqual(2);
    await stillServes(cli);
  });
});

describe("Fastify's and Node's own answers are in the OpenAI envelope", () => {
  it.each([
    ['431: headers past the limit', () => Buffer.from(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`), 431],
    ['400: malformed HTTP', () => Buffer.from('NOT HTTP AT ALL\r\n\r\n'), 400],
    ['400: bad percent-encoding in the path', () => request('/v1/chat/completions%', JSON.stringify(VALID)), 400],
    ['400: a truncated percent-escape', () => request('/v1/%E0%A4%A', JSON.stringify(VALID)), 400],
    ['404: unknown route', () => request('/v1/nothing-here', JSON.stringify(VALID)), 404],
    ['405: known route, wrong method', () => Buffer.from('GET /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'), 405],
    ['413: body past the limit (by content-length)', () => request('/v1/chat/completions', 'x', { 'content-length': String(64 * 1024 * 1024) }), 413],
    ['415: not JSON', () => request('/v1/chat/completions', 'model=x', { 'content-type': 'text/plain' }), 415],
    ['400: invalid JSON', () => request('/v1/chat/completions', '{"model":'), 400],
    ['400: empty body', () => request('/v1/chat/completions', ''), 400],
    ['400: a body longer than its content-length', () => request('/v1/chat/completions', `${JSON.stringify(VALID)}GARBAGE`, { 'content-length': '10' }), 400],
  ] as const)('%s', async (_name, make, status) => {
    const a = await raw(cli.gateway, make());
    expectEnvelope(a, status);
    await stillServes(cli);
  });

  it('408: a body shorter than its content-length, left hanging', async () => {
    const g = await startGateway(config(SIM_CONFIG), { simulated: fastSim(), requestTimeoutMs: 500 });
    try {
      const a = await raw(g.url, request('/v1/chat/completions', '{"model":"x"', { 'content-length': '100' }));
      expectEnvelope(a, 408, /did not arrive in time/);
      expect((await post(g.url, JSON.stringify(VALID))).status).toBe(200);
    } finally {
      await g.close();
    }
  });
});

describe('metric labels a client chooses are bounded', () => {
  it('10,000 distinct globbed and unknown model names add at most 50 label values plus "other"', async () => {
    const g = buildGateway(config(SIM_CONFIG), { logLevel: 'silent', simulated: fastSim() });
    try {
      const one = async (i: number) => {
        const model = i % 2 ? `tracegate-sim-${i}` : `unknown-${i}`;
        const r = await g.app.inject({ method: 'POST', url: `/v1/chat/completions?n=${i}`, payload: { model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 } });
        expect(r.statusCode).toBe(i % 2 ? 200 : 404);
      };
      for (let i = 0; i < 10_000; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => one(i + j)));
      await g.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { ...VALID, model: 'named-model' } });
      const m = (await g.app.inject({ url: '/metrics' })).body;
      const values = (label: string) => new Set([...m.matchAll(new RegExp(`${label}="([^"]*)"`, 'g'))].map((x) => x[1]));
      const models = values('gen_ai_request_model');
      expect(models.size).toBeLessThanOrEqual(52);
      expect(models.has('other')).toBe(true);
      expect(models.has('named-model')).toBe(true);
      expect(values('endpoint').size).toBeLessThanOrEqual(5);
      expect(values('route').size).toBeLessThanOrEqual(2);
    } finally {
      await g.close();
    }
  });
});

describe("fast-check: the JSON body path always answers with a success or a 4xx in its API's envelope", () => {
  let g: Gateway;
  beforeAll(() => {
    g = buildGateway(config(SIM_CONFIG), { logLevel: 'silent', simulated: fastSim() });
  });
  afterAll(() => g?.close());

  const send = async (payload: string | Buffer) => {
    const r = await Promise.race([
      g.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, payload }),
      new Promise<never>((_r, fail) => setTimeout(() => fail(new Error('no answer in 10 s')), 10_000).unref()),
    ]);
    if (r.statusCode === 200) return;
    expect(r.statusCode, r.body).toBeGreaterThanOrEqual(400);
    expect(r.statusCode, r.body).toBeLessThan(500);
    expectEnvelope({ status: r.statusCode, body: r.body }, r.statusCode);
  };

  const validRequest = fc.record({
    model: fc.constantFrom(SIM, 'named-model', 'tracegate-sim-x', ''),
    messages: fc.array(
      fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool'), content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constant('text'), text: fc.string() }))) }),
      { maxLength: 3 },
    ),
    max_tokens: fc.integer({ min: 1, max: 8 }),
  });
  const mutated = fc
    .tuple(validRequest, fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 8 })), { maxLength: 4 }), fc.array(fc.string({ maxLength: 12 }), { maxLength: 2 }))
    .map(([req, sets, deletes]) => {
      const o: Record<string, unknown> = { ...req };
      for (const [k, v] of sets) Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
      for (const k of deletes) delete o[k];
      return JSON.stringify(o);
    });

  it('arbitrary JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 80 }), (v) => send(JSON.stringify(v) ?? 'null')),
      fuzzParams(150),
    );
  });
  it('arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (b) => send(Buffer.from(b))),
      fuzzParams(150),
    );
  });
  it('mutated valid chat requests', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, (s) => send(s)),
      fuzzParams(150),
    );
  });
  it('mutated requests cut or spliced at random places', async () => {
    const spliced = fc.tuple(mutated, fc.nat(), fc.string({ maxLength: 4 })).map(([s, at, ins]) => s.slice(0, at % (s.length + 1)) + ins + s.slice(at % (s.length + 1)));
    await fc.assert(
      fc.asyncProperty(spliced, (s) => send(s)),
      fuzzParams(150),
    );
  });
  // Every other JSON endpoint, each answering in its own API's envelope (OpenAI, Anthropic's
  // `{type: 'error', error}`, Google's `{error: {code, message, status}}`): a success or a 4xx
  // whose body is JSON with an error message, never a 5xx or no answer.
  const OTHER_ENDPOINTS = ['/v1/embeddings', '/v1/responses', '/v1/messages', `/v1beta/models/${SIM}:generateContent`, `/v1beta/models/${SIM}:streamGenerateContent`];
  const sendTo = async (url: string, payload: string | Buffer) => {
    const r = await Promise.race([
      g.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload }),
      new Promise<never>((_r, fail) => setTimeout(() => fail(new Error('no answer in 10 s')), 10_000).unref()),
    ]);
    if (r.statusCode === 200) return;
    expect(r.statusCode, `${url}: ${r.body}`).toBeGreaterThanOrEqual(400);
    expect(r.statusCode, `${url}: ${r.body}`).toBeLessThan(500);
    const j = JSON.parse(r.body) as { error?: { message?: unknown } };
    expect(typeof j.error?.message, `${url}: ${r.body}`).toBe('string');
  };
  it.each(OTHER_ENDPOINTS)('%s: arbitrary JSON values and bytes', async (url) => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 80 }).map((v) => JSON.stringify(v) ?? 'null'),
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
        ),
        (payload) => sendTo(url, payload),
      ),
      fuzzParams(100),
    );
  });

  it('contained nothing: no internal error was counted during the fuzzing', async () => {
    const m = (await g.app.inject({ url: '/metrics' })).body;
    expect(m).not.toMatch(/tracegate_gateway_internal_errors_total\{component="\w+"\} [1-9]/);
  });
});
