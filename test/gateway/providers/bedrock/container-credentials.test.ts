/**
 * Temporary credentials from the standard chain's container endpoint (ECS / EKS Pod Identity:
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, here a loopback server): fetched once and kept while they
 * are good, refreshed before they expire (within five minutes of it the chain fetches new ones in
 * the background and the next call signs with them), the session token sent with each call.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BedrockStub, startBedrockStub } from '../../../helpers/providers/bedrock.js';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../../helpers.js';

const FIRST = { accessKeyId: 'ASIAFIRST', secretAccessKey: 'first-secret-0123456789', sessionToken: 'first-token-0123456789' };
const SECOND = { accessKeyId: 'ASIASECOND', secretAccessKey: 'second-secret-0123456789', sessionToken: 'second-token-0123456789' };
const SAVED = { ...process.env };
const CHAIN_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];

let b: BedrockStub;
let g: TestGateway;
let client: OpenAI;
let creds: Server;
/** What the endpoint hands out next, and when it expires. */
let issue: { keys: typeof FIRST; expiresInMs: number } = { keys: FIRST, expiresInMs: 4 * 60_000 };
let fetches = 0;

beforeAll(async () => {
  creds = createServer((_req, res) => {
    fetches++;
    const { keys, expiresInMs } = issue;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ AccessKeyId: keys.accessKeyId, SecretAccessKey: keys.secretAccessKey, Token: keys.sessionToken, Expiration: new Date(Date.now() + expiresInMs).toISOString() }));
  });
  await new Promise<void>((r) => creds.listen(0, '127.0.0.1', r));
  for (const k of CHAIN_VARS) delete process.env[k];
  Object.assign(process.env, {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(creds.address() as AddressInfo).port}/v2/credentials`,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  b = await startBedrockStub({ credentials: [FIRST, SECOND] });
  g = await startGateway(
    config(
      docs(
        backendDoc('bedrock', 'bedrock', b.url, '  region: ap-southeast-2'),
        'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: "nova" }]\n      targets: [{ backend: bedrock, model: "apac.amazon.nova-micro-v1:0" }]\n      retry: { retries: 0 }',
      ),
    ),
  );
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  await b?.close();
  await new Promise((r) => creds?.close(r));
  for (const k of Object.keys(process.env)) if (!(k in SAVED)) delete process.env[k];
  Object.assign(process.env, SAVED);
});

const ask = async () => (await client.chat.completions.create({ model: 'nova', messages: [{ role: 'user', content: 'hi' }] })).choices[0].message.content;
const signedBy = (i: number) => /Credential=([A-Z0-9]+)\//.exec(String(b.requests[i].headers.authorization))?.[1];

describe('Bedrock with container credentials from the standard chain', () => {
  it('fetched once, kept while good, refreshed before they expire', async () => {
    // Credentials 4 minutes from expiry are already due for refresh (the chain's 5-minute margin).
    expect(await ask()).toBe(DEFAULT_TEXT);
    expect(fetches).toBe(1);
    expect(signedBy(0)).toBe(FIRST.accessKeyId);
    expect(b.requests[0].headers['x-amz-security-token']).toBe(FIRST.sessionToken);
    issue = { keys: SECOND, expiresInMs: 60 * 60_000 };
    // This call still signs with the first keys (still valid) while the refresh runs.
    expect(await ask()).toBe(DEFAULT_TEXT);
    await eventually(() => fetches === 2 || undefined);
    expect(await ask()).toBe(DEFAULT_TEXT);
    expect(signedBy(2)).toBe(SECOND.accessKeyId);
    expect(b.requests[2].headers['x-amz-security-token']).toBe(SECOND.sessionToken);
    // Good for an hour: no more fetches.
    for (let i = 0; i < 3; i++) expect(await ask()).toBe(DEFAULT_TEXT);
    expect(fetches).toBe(2);
    expect(String(b.requests[0].headers.authorization)).toContain('/ap-southeast-2/bedrock/aws4_request');
  });
});
