/**
 * Where a Bedrock backend's credential comes from, end to end against the SigV4-verifying stand-in:
 * the standard AWS credential chain (environment keys with a session token; a named profile of the
 * shared credentials file), a Bedrock API key as a bearer token, and a chain that finds nothing
 * (a 502 for the call, no request sent, no secret in the message). Also the Backend fields'
 * problems, reported with their paths, and the default runtime URL of a region.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../gateway/config/load.js';
import { renderHttpRoutes } from '../../../../gateway/config/render.js';
import { type BedrockStub, startBedrockStub } from '../../../helpers/providers/bedrock.js';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from '../../helpers.js';

const ENV_KEYS = { accessKeyId: 'AKIDFROMENV', secretAccessKey: 'env-secret-0123456789', sessionToken: 'env-session-token-0123456789' };
const INI_KEYS = { accessKeyId: 'AKIDFROMINI', secretAccessKey: 'ini-secret-0123456789' };
const API_KEY = 'bedrock-api-key-ABSKQmVkcm9jaw';
const SAVED = { ...process.env };

let b: BedrockStub;
let g: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-aws-'));
  writeFileSync(join(dir, 'credentials'), `[team-a]\naws_access_key_id = ${INI_KEYS.accessKeyId}\naws_secret_access_key = ${INI_KEYS.secretAccessKey}\n`);
  writeFileSync(join(dir, 'config'), '');
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: ENV_KEYS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ENV_KEYS.secretAccessKey,
    AWS_SESSION_TOKEN: ENV_KEYS.sessionToken,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    AWS_CONFIG_FILE: join(dir, 'config'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  b = await startBedrockStub({ credentials: [ENV_KEYS, INI_KEYS], apiKey: API_KEY });
  const rule = (model: string, backend: string) => `    - matches: [{ model: "${model}" }]\n      targets: [{ backend: ${backend}, model: "amazon.nova-lite-v1:0" }]\n      retry: { retries: 0 }`;
  g = await startGateway(
    config(
      docs(
        backendDoc('chain', 'bedrock', b.url, '  region: us-east-1'),
        backendDoc('profiled', 'bedrock', b.url, '  region: us-east-1\n  profile: team-a'),
        backendDoc('ghost', 'bedrock', b.url, '  region: us-east-1\n  profile: nobody-here'),
        backendDoc('keyed', 'bedrock', b.url, '  region: us-east-1\n  apiKey: { env: BEDROCK_KEY }'),
        `kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n${[rule('chain', 'chain'), rule('profiled', 'profiled'), rule('ghost', 'ghost'), rule('keyed', 'keyed')].join('\n')}`,
      ),
      { BEDROCK_KEY: API_KEY },
    ),
  );
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  await b?.close();
  for (const k of Object.keys(process.env)) if (!(k in SAVED)) delete process.env[k];
  Object.assign(process.env, SAVED);
});
beforeEach(() => b.reset());

const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('Bedrock credentials', () => {
  it('the standard chain: environment keys with their session token', async () => {
    expect((await ask('chain')).choices[0].message.content).toBe(DEFAULT_TEXT);
    const h = b.requests[0].headers;
    expect(String(h.authorization)).toContain(`Credential=${ENV_KEYS.accessKeyId}/`);
    expect(h['x-amz-security-token']).toBe(ENV_KEYS.sessionToken);
  });

  it('the chain for a named profile of the shared credentials file', async () => {
    expect((await ask('profiled')).choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(String(b.requests[0].headers.authorization)).toContain(`Credential=${INI_KEYS.accessKeyId}/`);
    expect(b.requests[0].headers['x-amz-security-token']).toBeUndefined();
  });

  it('a chain that finds nothing: 502, nothing sent upstream, no secret in the message', async () => {
    const err = (await ask('ghost').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(502);
    expect(JSON.stringify(err.error)).toMatch(/credential/);
    expect(b.requests).toHaveLength(0);
    const spans = JSON.stringify((await g.spans()).map((s) => [s.attributes, s.events]));
    for (const secret of [ENV_KEYS.secretAccessKey, ENV_KEYS.sessionToken, INI_KEYS.secretAccessKey]) expect(spans).not.toContain(secret);
  });

  it('a Bedrock API key goes as a bearer token, nothing signed; never in a span', async () => {
    expect((await ask('keyed')).choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(b.requests[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(b.requests[0].headers['x-amz-date']).toBeUndefined();
    expect(JSON.stringify((await g.spans()).map((s) => s.attributes))).not.toContain(API_KEY);
  });
});

describe('Bedrock Backend documents', () => {
  const problems = (spec: string, env: NodeJS.ProcessEnv = { K: 'k', S: 's' }) => {
    const r = parseConfig(
      docs(
        `kind: Backend\nmetadata: { name: br }\nspec:\n  provider: bedrock\n${spec}`,
        'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: "m" }]\n      targets: [{ backend: br }]',
      ),
      { env },
    );
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it.each([
    ['no region', '  api: converse', /spec\.region: the AWS region is required/],
    ['a region that is not one', '  region: mars', /an AWS region/],
    ['an api that is neither', '  region: us-east-1\n  api: chat', /api/],
    ['accessKeyId without secretAccessKey', '  region: us-east-1\n  accessKeyId: { env: K }', /secretAccessKey.*go together/],
    ['a sessionToken without keys', '  region: us-east-1\n  sessionToken: { env: S }', /sessionToken needs/],
    ['an apiKey with static keys', '  region: us-east-1\n  apiKey: { env: K }\n  accessKeyId: { env: K }\n  secretAccessKey: { env: S }', /either apiKey/],
    ['a profile with static keys', '  region: us-east-1\n  profile: p\n  accessKeyId: { env: K }\n  secretAccessKey: { env: S }', /profile is for the AWS credential chain/],
    ['an inline secret key', '  region: us-east-1\n  accessKeyId: { env: K }\n  secretAccessKey: "wJalrXUtnFEMI/K7MDENG"', /inline key is not allowed/],
    ['a field of another provider', '  region: us-east-1\n  deployment: d', /deployment/],
  ])('%s is a problem with its path', (_what, spec, message) => {
    const p = problems(spec);
    expect(p.join('\n')).toMatch(message);
    expect(p.join('\n')).not.toContain('wJalrXUtnFEMI');
  });

  it('the runtime URL of the region when none is given; renders to Gateway API like any backend', () => {
    const cfg = config(
      docs(
        'kind: Backend\nmetadata: { name: br }\nspec:\n  provider: bedrock\n  region: eu-central-1\n  accessKeyId: { env: K }\n  secretAccessKey: { env: S }',
        'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: "claude" }]\n      targets: [{ backend: br, model: "eu.anthropic.claude-sonnet-4-20250514-v1:0" }]',
      ),
      { K: 'AKID', S: 'secret' },
    );
    expect(cfg.backends.get('br')?.url).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com');
    expect(cfg.backends.get('br')?.options).toEqual({ region: 'eu-central-1', api: 'converse' });
    const rendered = JSON.stringify(renderHttpRoutes(cfg));
    expect(rendered).toContain('"name":"br"');
    expect(rendered).not.toContain('secret');
  });
});
