/**
 * The fixture the Bedrock tests through tracegate share: a Bedrock stand-in that verifies SigV4
 * signatures (static keys, and temporary keys with their session token), and a gateway with two
 * Bedrock backends: `bedrock` (Converse, static keys) and `bedrock-invoke` (`api: invoke`, a
 * session). Started before a file's tests, closed after; the stand-in is reset before each test.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { GatewayDeps } from '../../../../gateway/server.js';
import { type BedrockStub, type BedrockStubOptions, startBedrockStub } from '../../../helpers/providers/bedrock.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from '../../helpers.js';

export const KEYS = { accessKeyId: 'AKIDGATEWAY', secretAccessKey: 'gateway-secret-key-0123456789' };
export const SESSION = { accessKeyId: 'ASIAGATEWAY', secretAccessKey: 'session-secret-key-0123456789', sessionToken: 'session-token-abcdefghijklmnopqrstuvwxyz' };
export const ENV = { AWS_KEY: KEYS.accessKeyId, AWS_SECRET: KEYS.secretAccessKey, S_KEY: SESSION.accessKeyId, S_SECRET: SESSION.secretAccessKey, S_TOKEN: SESSION.sessionToken };
export const CLAUDE = 'anthropic.claude-sonnet-4-20250514-v1:0';
export const NOVA = 'us.amazon.nova-pro-v1:0';
export const SECRETS = [KEYS.secretAccessKey, SESSION.secretAccessKey, SESSION.sessionToken];

export interface BedrockStack {
  b: BedrockStub;
  g: TestGateway;
}

export function bedrockBackends(url: string): string[] {
  return [
    backendDoc('bedrock', 'bedrock', url, '  region: us-west-2\n  accessKeyId: { env: AWS_KEY }\n  secretAccessKey: { env: AWS_SECRET }'),
    backendDoc('bedrock-invoke', 'bedrock', url, '  region: eu-west-1\n  api: invoke\n  accessKeyId: { env: S_KEY }\n  secretAccessKey: { env: S_SECRET }\n  sessionToken: { env: S_TOKEN }'),
  ];
}

export function useBedrockStack(opts: { documents: string[]; stub?: BedrockStubOptions; deps?: GatewayDeps }): BedrockStack {
  const s = {} as BedrockStack;
  beforeAll(async () => {
    s.b = await startBedrockStub({ credentials: [KEYS, SESSION], ...opts.stub });
    s.g = await startGateway(config(docs(...bedrockBackends(s.b.url), ...opts.documents), ENV), opts.deps);
  });
  afterAll(async () => {
    await s.g?.close();
    await s.b?.close();
  });
  beforeEach(() => s.b.reset());
  return s;
}
