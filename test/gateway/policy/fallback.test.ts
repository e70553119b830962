/**
 * A fallback through the gateway's attempt loop (proxy/run.ts asks the call's reservation before
 * each candidate): a budget reserved at the first model's prices moves to the fallback's; a
 * fallback whose worst case does not fit is refused with the budget's 429, and the provider is
 * never called at its model. The real `openai` client against a loopback provider stand-in;
 * the first backend refuses connections.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIStub, type OpenAIStub } from '../../helpers/providers/index.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from '../helpers.js';
import { apiKeyDocs, keysFor, MODEL, PEPPER } from './fixtures.js';

/** $2.50 / $10 per million tokens: with max_tokens 1000 its worst case is about $0.01, gpt-4o-mini's about $0.0006. */
const DEAR = 'gpt-4o';
const LIMITS = { tight: 'budget: { dailyUsd: 0.005 }', ample: 'budget: { dailyUsd: 1 }' };
const KEYS = keysFor(LIMITS);

let stub: OpenAIStub;
let gw: TestGateway;

beforeAll(async () => {
  stub = await startOpenAIStub();
  const cfg = docs(
    'kind: Gateway\nmetadata: { name: g }\nspec:\n  telemetry: { otlpEndpoint: null }',
    // Nothing listens on port 9 of the loopback: every attempt there fails at once.
    backendDoc('down', 'openai', 'http://127.0.0.1:9'),
    backendDoc('up', 'openai', stub.url),
    `kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: ${MODEL} }]\n      targets: [{ backend: down }]\n      fallbacks: [{ backend: up, model: ${DEAR} }]\n      retry: { retries: 0 }`,
    ...apiKeyDocs(LIMITS, KEYS),
  );
  gw = await startGateway(config(cfg), { keyPepper: PEPPER });
});

afterAll(async () => {
  await gw?.close();
  await stub?.close();
});

const call = (key: keyof typeof LIMITS) =>
  new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEYS[key], maxRetries: 0 }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000 });

describe('budgets across a fallback', () => {
  it('a fallback that fits is served at its model; one whose worst case does not fit gets the budget 429', async () => {
    const served = await call('ample');
    expect(served.model).toBe(DEAR);
    expect(stub.requests).toHaveLength(1);

    const refused = await call('tight').then(
      () => undefined,
      (e: { status?: number; code?: string }) => e,
    );
    expect(refused).toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(stub.requests).toHaveLength(1); // the dearer model was never called for the tight key
  });
});
