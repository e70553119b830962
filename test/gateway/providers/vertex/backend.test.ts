/**
 * Vertex AI backends: their document (project and region, the default endpoint host, credentials
 * that cannot be an apiKey), tokens from the metadata server, and credentials that cannot be had
 * (a token endpoint that hangs or answers 10 MB, a key file that is not one): the call fails
 * with a clear, bounded error, the reason is in the span and the log, and no secret is anywhere.
 */
import pino from 'pino';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../gateway/config/load.js';
import { textSink } from '../../../helpers/text-sink.js';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { type GeminiStub, startGeminiStub } from '../../../helpers/providers/gemini.js';
import { type GoogleAuthStub, startGoogleAuthStub } from '../../../helpers/providers/gemini_auth.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../../helpers.js';

const route = (backend: string) => `kind: Route
metadata: { name: r }
spec:
  rules:
    - matches: [{ model: "gemini-*" }]
      targets: [{ backend: ${backend} }]
      retry: { retries: 0 }
      timeouts: { attempt: 1s }`;

describe('the Backend document', () => {
  const problems = (text: string) => {
    const r = parseConfig(docs(text, route('v')), { env: { SA: '{}' } });
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it('needs a project; a region picks the endpoint; an apiKey is refused; a field of another provider too', () => {
    expect(problems('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: vertex')).toEqual([expect.stringMatching(/^Backend\/v spec\.project: /)]);
    expect(problems('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: vertex\n  project: p\n  apiKey: { env: SA }')).toEqual([
      expect.stringMatching(/spec\.apiKey: vertex backends authenticate with OAuth2 access tokens/),
    ]);
    expect(problems('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: vertex\n  project: p\n  deployment: x')).toEqual([expect.stringMatching(/deployment/)]);
    const c = config(docs('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: vertex\n  project: p\n  location: europe-west4', route('v')));
    expect(c.backends.get('v')?.url).toBe('https://europe-west4-aiplatform.googleapis.com');
    const global = config(docs('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: vertex\n  project: p\n  location: global', route('v')));
    expect(global.backends.get('v')?.url).toBe('https://aiplatform.googleapis.com');
    const gemini = config(docs('kind: Backend\nmetadata: { name: v }\nspec:\n  provider: gemini\n  apiKey: { env: SA }', route('v')), { SA: 'AIza' });
    expect(gemini.backends.get('v')?.url).toBe('https://generativelanguage.googleapis.com');
  });
});

describe('credentials on loopback', () => {
  let auth: GoogleAuthStub;
  let vtx: GeminiStub;
  let g: TestGateway;
  let client: OpenAI;
  let logText = '';
  let sa = '';

  beforeAll(async () => {
    auth = await startGoogleAuthStub();
    vtx = await startGeminiStub({ acceptToken: (t) => auth.tokens.has(t) });
    sa = auth.serviceAccount();
    const broken = auth.serviceAccount('broken@example-project.iam.gserviceaccount.com').replace('"private_key":"-----BEGIN PRIVATE KEY-----', '"private_key":"-----BEGIN PRIVATE KEY-----AAAA');
    const cfg = config(
      docs(
        backendDoc('meta', 'vertex', vtx.url, `  project: p\n  location: us-central1\n  metadataUrl: "${auth.metadataUrl}"`),
        backendDoc('sa', 'vertex', vtx.url, '  project: p\n  serviceAccount: { env: SA }'),
        backendDoc('bad', 'vertex', vtx.url, '  project: p\n  serviceAccount: { env: BROKEN }'),
        backendDoc('big', 'vertex', vtx.url, `  project: p\n  metadataUrl: "${auth.metadataUrl}"`),
        `kind: Route
metadata: { name: r }
spec:
  rules:
${['meta', 'sa', 'bad', 'big'].map((b) => `    - matches: [{ model: "${b}-gemini" }]\n      targets: [{ backend: ${b}, model: gemini-2.5-flash }]\n      retry: { retries: 0 }\n      timeouts: { attempt: ${b === 'sa' ? '1500ms' : '20s'} }`).join('\n')}`,
      ),
      { SA: sa, BROKEN: broken },
    );
    const logger = pino(
      { level: 'debug' },
      textSink((t) => {
        logText += t;
      }),
    );
    g = await startGateway(cfg, { logger });
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client', maxRetries: 0 });
  });
  afterAll(async () => {
    await g?.close();
    await vtx?.close();
    await auth?.close();
  });
  beforeEach(() => {
    auth.reset();
    vtx.reset();
    g.exporter.reset();
  });

  const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
  const failed = async (model: string) => (await ask(model).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  const spanStatus = async () => (await eventually(async () => (await g.calls())[0])).status.message ?? '';

  it('tokens from the metadata server, fetched once', async () => {
    expect((await ask('meta-gemini')).choices[0].message.content).toBe(DEFAULT_TEXT);
    expect((await ask('meta-gemini')).choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(auth.requests.map((r) => `${r.method} ${r.path} ${r.headers['metadata-flavor']}`)).toEqual(['GET /computeMetadata/v1/instance/service-accounts/default/token Google']);
  });

  it('a token Vertex refuses (401) is forgotten: the next call fetches a new one', async () => {
    expect((await ask('meta-gemini')).choices[0].message.content).toBe(DEFAULT_TEXT);
    const before = auth.requests.length;
    vtx.failNext(1, 401);
    const err = await failed('meta-gemini');
    expect([err.status, err.code]).toEqual([502, 'upstream_auth_failed']);
    expect(auth.requests.length).toBe(before);
    expect((await ask('meta-gemini')).choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(auth.requests.length).toBe(before + 1);
  });

  it('a token endpoint that hangs: calls time out in their own time, sharing one token request', async () => {
    auth.hangNext(1);
    const started = Date.now();
    const errs = await Promise.all([failed('sa-gemini'), failed('sa-gemini')]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(errs.map((e) => e.status)).toEqual([504, 504]);
    expect(auth.requests).toHaveLength(1);
    expect(vtx.requests).toHaveLength(0);
  });

  it('a token endpoint that answers 10 MB: a 502, the reason in the span', async () => {
    // A backend no call has used yet: no token is kept for it.
    auth.set({
      respond: async (ex) => {
        await ex.json(200, { access_token: 'x'.repeat(10 * 1024 * 1024) });
      },
    });
    try {
      const err = await failed('big-gemini');
      expect(err.status).toBe(502);
      expect(err.message).toMatch(/could not get a credential/);
      expect(await spanStatus()).toMatch(/the metadata server answered more than 65536 bytes/);
    } finally {
      auth.set({ respond: undefined });
    }
  });

  it('a key file that is not one: 502, the reason in span and log, no key material anywhere', async () => {
    const err = await failed('bad-gemini');
    expect(err.status).toBe(502);
    expect(err.message).not.toMatch(/PRIVATE KEY/);
    expect(await spanStatus()).toMatch(/private_key of service account broken@example-project\.iam\.gserviceaccount\.com is not a PEM private key/);
    const spans = JSON.stringify((await g.spans()).map((s) => [s.attributes, s.status, s.events]));
    for (const secret of ['BEGIN PRIVATE KEY', JSON.parse(sa).private_key.slice(40, 80)]) {
      expect(spans).not.toContain(secret);
      expect(logText).not.toContain(secret);
    }
    expect(vtx.requests).toHaveLength(0);
  });
});
