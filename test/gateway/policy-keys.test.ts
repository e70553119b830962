/**
 * ApiKeys through the real `openai` and `@anthropic-ai/sdk` clients against the gateway, routing
 * to loopback provider stand-ins: 401 for missing, malformed, unknown, revoked and expired keys
 * (in the client API's envelope), 403 outside a key's routes and models, revocation by hot
 * reload, the master key beside the ApiKeys, the pepper requirement, and no key or hash in any
 * span, log line, metric or error body.
 */
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config/load.js';
import { generateKey, hashKey } from '../../gateway/policy/keys.js';
import { buildGateway } from '../../gateway/server.js';
import { startAnthropicStub, startOpenAIStub, type AnthropicStub, type OpenAIStub } from '../helpers/providers/index.js';
import { fuzzParams } from '../security/fuzz.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from './helpers.js';

const PEPPER = 'pepper-for-tests-0123456789abcdefghij';
const MASTER = 'master-key-for-tests-0123';
const KEYS = { good: generateKey(), models: generateKey(), routes: generateKey(), revoked: generateKey(), expiring: generateKey(), other: generateKey() };
const HASHES = Object.values(KEYS).map((k) => hashKey(k, PEPPER));
/** Every secret that must never be shown: the keys, their hashes (and the hashes' hex alone), the pepper, the master key, the provider keys. */
const SECRETS = [...Object.values(KEYS), ...HASHES, ...HASHES.map((h) => h.slice('hmac-sha256:'.length)), PEPPER, MASTER, 'sk-upstream', 'sk-ant-upstream'];

const T0 = Date.parse('2026-12-05T12:00:00Z');
let now = T0;

let oai: OpenAIStub;
let ant: AnthropicStub;
let g: TestGateway;
let logs = '';
let dir: string;
let file: string;
const bodies: string[] = [];

const apiKey = (name: string, key: string, extra = '') => `kind: ApiKey\nmetadata: { name: ${name} }\nspec:\n  team: billing\n  hash: ${hashKey(key, PEPPER)}\n${extra}`;

function configText(opts: { revoke?: boolean; drop?: boolean } = {}): string {
  return docs(
    // A span per upstream attempt of every call, so that those spans' key and team are checked too.
    'kind: Gateway\nmetadata: { name: gw }\nspec:\n  telemetry: { attemptSpans: always }',
    backendDoc('openai', 'openai', oai.url, '  apiKey: { env: OPENAI_KEY }'),
    backendDoc('anthropic', 'anthropic', ant.url, '  apiKey: { env: ANTHROPIC_KEY }'),
    'kind: Route\nmetadata: { name: gpt }\nspec:\n  rules:\n    - matches: [{ model: gpt-4o }, { model: "gpt-*" }]\n      targets: [{ backend: openai }]',
    'kind: Route\nmetadata: { name: claude }\nspec:\n  rules:\n    - matches: [{ model: claude-sonnet-4 }, { model: "claude-*" }]\n      targets: [{ backend: anthropic }]',
    'kind: Team\nmetadata: { name: billing }\nspec:\n  defaults:\n    allowedModels: ["gpt-4o*", "claude-*"]',
    apiKey('good', KEYS.good, '  metadata: { owner: tests }'),
    apiKey('models-only', KEYS.models, '  allowedModels: [gpt-4o-mini]'),
    apiKey('claude-only', KEYS.routes, '  allowedRoutes: [claude]\n  allowedModels: []'),
    apiKey('revoked', KEYS.revoked, '  revoked: true'),
    apiKey('expiring', KEYS.expiring, `  expires: "${new Date(T0 + 60_000).toISOString()}"`),
    ...(opts.drop ? [] : [apiKey('other', KEYS.other, opts.revoke ? '  revoked: true' : '')]),
  );
}

const ENV = { OPENAI_KEY: 'sk-upstream', ANTHROPIC_KEY: 'sk-ant-upstream' };
const openai = (apiKey: string) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey, maxRetries: 0 });
const anthropic = (apiKey: string) => new Anthropic({ baseURL: g.url, apiKey, maxRetries: 0 });
const chat = (key: string, model = 'gpt-4o') => openai(key).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
const message = (key: string, model = 'claude-sonnet-4') => anthropic(key).messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

/** A raw call: status and body text (kept for the leak check). */
async function raw(path: string, headers: Record<string, string | undefined>, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const set = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
  const r = await fetch(`${g.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...set },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  bodies.push(text);
  return { status: r.status, json: JSON.parse(text) as Record<string, unknown> };
}

/** The SDK's error for a call that should fail, its body kept for the leak check. */
async function failure(p: Promise<unknown>): Promise<{ status: number; error: Record<string, unknown> }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as { status: number; error: Record<string, unknown> },
  );
  expect(err, 'the call should have failed').toBeDefined();
  bodies.push(JSON.stringify(err!.error));
  return err!;
}

beforeAll(async () => {
  oai = await startOpenAIStub({ apiKey: 'sk-upstream' });
  ant = await startAnthropicStub({ apiKey: 'sk-ant-upstream' });
  dir = mkdtempSync(join(tmpdir(), 'tg-keys-'));
  file = join(dir, 'gateway.yaml');
  writeFileSync(file, configText());
  const logger = pino(
    { level: 'debug' },
    textSink((t) => {
      logs += t;
    }),
  );
  g = await startGateway(config(configText(), ENV), { logger, keyPepper: PEPPER, masterKey: MASTER, clock: () => now });
  g.gw.watch(file, { debounceMs: 20, env: ENV });
});
afterAll(async () => {
  await g?.close();
  await oai?.close();
  await ant?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  now = T0;
  oai.reset();
  ant.reset();
});

describe('authentication', () => {
  it('a valid key is served through both SDKs (Bearer and x-api-key); the upstream gets the provider key only', async () => {
    const r = await chat(KEYS.good);
    expect(r.choices[0].message.content).toBeTruthy();
    const m = await message(KEYS.good);
    expect(m.content.length).toBeGreaterThan(0);
    expect(oai.requests[0].headers.authorization).toBe('Bearer sk-upstream');
    expect(ant.requests[0].headers['x-api-key']).toBe('sk-ant-upstream');
    expect(JSON.stringify([...oai.requests, ...ant.requests].map((q) => q.headers))).not.toContain(KEYS.good);
  });

  it("a key in Azure OpenAI's api-key header is checked as in Authorization or x-api-key, and never forwarded", async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    expect((await raw('/v1/chat/completions', { 'api-key': KEYS.good }, body)).status).toBe(200);
    expect(oai.requests[0].headers.authorization).toBe('Bearer sk-upstream');
    expect(oai.requests[0].headers['api-key']).toBeUndefined();
    expect(await raw('/v1/chat/completions', { 'api-key': KEYS.revoked }, body)).toMatchObject({
      status: 401,
      json: { error: { code: 'invalid_api_key', message: expect.stringMatching(/revoked/) } },
    });
    expect(await raw('/v1/chat/completions', { 'api-key': generateKey() }, body)).toMatchObject({ status: 401, json: { error: { message: expect.stringMatching(/not valid/) } } });
    // Its key's allowed models hold as for any other header: 403 outside them.
    expect((await raw('/v1/chat/completions', { 'api-key': KEYS.models }, body)).status).toBe(403);
    expect(oai.requests).toHaveLength(1);
  });

  it.each([
    { name: 'an unknown key', key: generateKey(), message: /not valid for this gateway/ },
    { name: 'a revoked key', key: KEYS.revoked, message: /has been revoked/ },
    { name: 'a key of another form', key: 'sk-proj-not-ours-0123456789', message: /not valid for this gateway/ },
  ])('$name: 401 invalid_api_key from the OpenAI SDK, authentication_error from the Anthropic SDK', async ({ key, message: text }) => {
    const e = await failure(chat(key));
    expect(e.status).toBe(401);
    expect(e.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', message: expect.stringMatching(text) });
    const a = await failure(message(key));
    expect(a.status).toBe(401);
    expect(a.error).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: expect.stringMatching(text) } });
    expect(oai.requests.length + ant.requests.length).toBe(0);
  });

  it('an expired key is refused from its expiry on, checked per request rather than at load', async () => {
    await chat(KEYS.expiring);
    now = T0 + 60_000;
    const e = await failure(chat(KEYS.expiring));
    expect(e).toMatchObject({ status: 401, error: { code: 'invalid_api_key', message: expect.stringMatching(/has expired/) } });
  });

  it.each([
    { name: 'no credential', headers: {} },
    { name: 'Basic instead of Bearer', headers: { authorization: `Basic ${Buffer.from(`u:${KEYS.good}`).toString('base64')}` } },
    { name: 'Bearer with nothing after it', headers: { authorization: 'Bearer ' } },
    { name: 'two words after Bearer', headers: { authorization: `Bearer ${KEYS.good} extra` } },
    { name: 'a key past 512 characters', headers: { authorization: `Bearer tg-${'A'.repeat(600)}` } },
    { name: 'an empty x-api-key', headers: { 'x-api-key': '' } },
    { name: 'an empty api-key', headers: { 'api-key': '' } },
  ])('malformed: $name is a 401, on every /v1 route, before the body is read', async ({ headers }) => {
    for (const [path, body] of [
      ['/v1/chat/completions', { model: 'gpt-4o', messages: [] }],
      ['/v1/embeddings', { model: 'gpt-4o', input: 'x' }],
      ['/v1/models', undefined],
    ] as const) {
      const r = await raw(path, headers, body);
      expect(r.status, path).toBe(401);
      expect(r.json, path).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
    }
    const m = await raw('/v1/messages', headers, { model: 'claude-sonnet-4', max_tokens: 5, messages: [] });
    expect(m).toMatchObject({ status: 401, json: { type: 'error', error: { type: 'authentication_error' } } });
    expect((await raw('/healthz', headers)).status).toBe(200);
  });

  it('the master key stays an admin credential beside the ApiKeys: every route and model', async () => {
    await chat(MASTER, 'gpt-4.1');
    await message(MASTER);
    const models = await openai(MASTER).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o', 'claude-sonnet-4']);
  });

  it('fast-check: any Authorization value gets a 401 or, for a valid key, an answer; never a crash', async () => {
    const valid = fc.constantFrom(`Bearer ${KEYS.good}`, `bearer  ${KEYS.good} `, `Bearer ${KEYS.other}`, MASTER);
    const header = fc.oneof(
      valid,
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('Bearer', 'Bearer  ', `Bearer ${KEYS.good}x`, `Bearer ${KEYS.revoked}`).map((s) => s),
    );
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        const r = await g.gw.app.inject({
          method: 'POST',
          url: '/v1/chat/completions',
          headers: { authorization: value, 'content-type': 'application/json' },
          payload: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
        });
        const ok = value === MASTER ? false : /^bearer\s+/i.test(value) && [KEYS.good, KEYS.other].includes(value.replace(/^bearer\s+/i, '').trim());
        bodies.push(r.body);
        expect(r.statusCode).toBe(ok ? 200 : 401);
      }),
      fuzzParams(150),
    );
  });
});

describe('authorization', () => {
  it('a key outside its allowed models: 403 key_model_access_denied (OpenAI SDK: PermissionDeniedError); team defaults apply to keys without their own', async () => {
    await chat(KEYS.models, 'gpt-4o-mini');
    const e = await failure(chat(KEYS.models, 'gpt-4o'));
    expect(e.constructor.name).toBe('PermissionDeniedError');
    expect(e).toMatchObject({ status: 403, error: { code: 'key_model_access_denied', param: 'model', message: expect.stringContaining('models-only') } });
    // good: the team's default allowedModels (gpt-4o*, claude-*).
    await chat(KEYS.good, 'gpt-4o-2024-08-06');
    expect((await failure(chat(KEYS.good, 'gpt-4.1'))).status).toBe(403);
    expect(oai.requests.map((q) => q.body.model)).toEqual(['gpt-4o-mini', 'gpt-4o-2024-08-06']);
  });

  it("a key outside its allowed routes: 403 permission_denied; on /v1/messages in Anthropic's envelope", async () => {
    await message(KEYS.routes);
    const e = await failure(chat(KEYS.routes, 'gpt-4o'));
    expect(e).toMatchObject({ status: 403, error: { code: 'permission_denied', message: expect.stringContaining('"gpt"') } });
    const a = await failure(message(KEYS.models));
    expect(a).toMatchObject({ status: 403, error: { type: 'error', error: { type: 'permission_error' } } });
  });

  it("a body without a model or an unknown model is still the handler's 400 / 404, not a 403", async () => {
    expect((await raw('/v1/chat/completions', { authorization: `Bearer ${KEYS.models}` }, { messages: [] })).status).toBe(400);
    expect((await raw('/v1/chat/completions', { authorization: `Bearer ${KEYS.models}` }, { model: 'nothing-serves-this', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404);
  });

  it('/v1/models lists only the models a key may use', async () => {
    const ids = (await openai(KEYS.routes).models.list()).data.map((m) => m.id);
    expect(ids).toEqual(['claude-sonnet-4']);
    expect((await openai(KEYS.good).models.list()).data.map((m) => m.id)).toEqual(['gpt-4o', 'claude-sonnet-4']);
  });
});

describe('hot reload', () => {
  // The watcher waits for the file to settle and parses it on a thread (its modules load from TypeScript here: seconds on a busy box).
  const RELOAD_MS = 30_000;
  it('revoking a key in the watched file refuses it on the next request; removing it too', { timeout: 3 * RELOAD_MS }, async () => {
    await chat(KEYS.other);
    writeFileSync(file, configText({ revoke: true }));
    await eventually(async () => (await raw('/v1/models', { authorization: `Bearer ${KEYS.other}` })).status === 401, RELOAD_MS);
    expect((await failure(chat(KEYS.other))).error).toMatchObject({ message: expect.stringMatching(/revoked/) });
    writeFileSync(file, configText({ drop: true }));
    await eventually(async () => /not valid/.test(JSON.stringify((await raw('/v1/models', { authorization: `Bearer ${KEYS.other}` })).json)), RELOAD_MS);
    await chat(KEYS.good);
    writeFileSync(file, configText());
    await eventually(async () => (await raw('/v1/models', { authorization: `Bearer ${KEYS.other}` })).status === 200, RELOAD_MS);
  });

  it('an applied reload takes effect on the very next request', async () => {
    await chat(KEYS.other);
    expect(g.gw.reload(parseConfig(configText({ revoke: true }), { env: ENV }))).toBe(true);
    expect((await failure(chat(KEYS.other))).status).toBe(401);
    expect(g.gw.reload(parseConfig(configText(), { env: ENV }))).toBe(true);
    await chat(KEYS.other);
  });
});

describe('the pepper', () => {
  const cfg = () => config(configText(), ENV);
  it('is required to start with ApiKeys, and at least 32 characters', () => {
    expect(() => buildGateway(cfg(), { logLevel: 'silent' })).toThrow(/has 6 ApiKey\(s\) but no key pepper: set TRACEGATE_KEY_PEPPER or --key-pepper-file/);
    expect(() => buildGateway(cfg(), { logLevel: 'silent', keyPepper: 'short' })).toThrow(/at least 32 characters/);
  });

  it('a reload that brings ApiKeys to a gateway without a pepper is refused; the last good config keeps serving', async () => {
    let out = '';
    const logger = pino(
      { level: 'info' },
      textSink((t) => {
        out += t;
      }),
    );
    const open = await startGateway(
      config(
        docs(
          backendDoc('openai', 'openai', oai.url, '  apiKey: { env: OPENAI_KEY }'),
          'kind: Route\nmetadata: { name: gpt }\nspec:\n  rules:\n    - matches: [{ model: "gpt-*" }]\n      targets: [{ backend: openai }]',
        ),
        ENV,
      ),
      { logger },
    );
    try {
      expect(open.gw.reload(parseConfig(configText(), { env: ENV }))).toBe(false);
      expect(out).toContain('no key pepper');
      const r = await fetch(`${open.url}/v1/models`);
      expect(r.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('spans', () => {
  it("every span of a call carries tracegate.key (the ApiKey name) and tracegate.team; the master key's none", async () => {
    g.exporter.reset();
    await chat(KEYS.good);
    await message(KEYS.good);
    const spans = await eventually(async () => {
      const all = await g.spans();
      return all.length >= 4 ? all : undefined;
    });
    for (const s of spans) expect([s.name, s.attributes['tracegate.key'], s.attributes['tracegate.team']]).toEqual([s.name, 'good', 'billing']);
    g.exporter.reset();
    await chat(MASTER);
    const admin = await eventually(async () => {
      const all = await g.spans();
      return all.length >= 2 ? all : undefined;
    });
    for (const s of admin) expect(s.attributes['tracegate.key']).toBeUndefined();
  });

  it('a 403 is a call span too: error status, the key, and which allowance refused it (tracegate.policy.*)', async () => {
    g.exporter.reset();
    await failure(chat(KEYS.models, 'gpt-4o'));
    await failure(message(KEYS.models));
    await failure(chat(KEYS.routes, 'gpt-4o'));
    const calls = await eventually(async () => {
      const all = await g.calls();
      return all.length >= 3 ? all : undefined;
    });
    expect(
      calls.map((c) => [
        c.status.code,
        c.attributes['http.response.status_code'],
        c.attributes['tracegate.key'],
        c.attributes['tracegate.policy.limit'],
        c.attributes['tracegate.policy.reason'],
        c.attributes['tracegate.refusal'],
      ]),
    ).toEqual([
      [2, 403, 'models-only', 'allowedModels', 'model', 'model'],
      [2, 403, 'models-only', 'allowedModels', 'model', 'model'],
      [2, 403, 'claude-only', 'allowedRoutes', 'route', 'route'],
    ]);
    expect(oai.requests.length + ant.requests.length).toBe(0);
  });
});

describe('secrets stay secret', () => {
  it('no key, hash, pepper or provider key in any span attribute, log line, /metrics or error body', async () => {
    await chat(KEYS.good);
    await failure(chat(KEYS.revoked));
    await failure(chat(KEYS.models, 'gpt-4o'));
    await failure(message(generateKey()));
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    for (const reason of ['missing', 'malformed', 'unknown', 'revoked', 'expired', 'model', 'route'])
      expect(metrics).toMatch(new RegExp(`^tracegate_gateway_auth_refusals_total\\{reason="${reason}"\\} [1-9]`, 'm'));
    const spans = JSON.stringify((await g.spans()).map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    expect(bodies.length).toBeGreaterThan(20);
    expect(logs.length).toBeGreaterThan(0);
    for (const [where, text] of [
      ['spans', spans],
      ['logs', logs],
      ['metrics', metrics],
      ['error bodies', bodies.join('\n')],
    ] as const) {
      for (const s of SECRETS) expect(text.includes(s), `${where} contain a secret`).toBe(false);
    }
  });
});
