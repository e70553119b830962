/**
 * One table over every provider: the same OpenAI chat call (answered, streamed, and failed) through
 * tracegate to each provider's loopback stand-in gives spans with the same OpenInference and GenAI
 * attributes: the provider's names, the response model, tokens in tracegate's convention (prompt
 * with cache reads and writes, completion with reasoning), the finish reason, a cost from
 * schemas/prices.json, and an error span for an upstream 400. A new provider adds a row (its
 * stand-in, its Backend document, what its names and usage are).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCost, indexPrices, loadPriceTable } from '../../../schemas/prices.js';
import { type BedrockStub, startBedrockStub } from '../../helpers/providers/bedrock.js';
import { type GeminiStub, startGeminiStub } from '../../helpers/providers/gemini.js';
import { type GoogleAuthStub, startGoogleAuthStub } from '../../helpers/providers/gemini_auth.js';
import { type AnthropicStub, DEFAULT_TEXT, type OpenAIStub, startAnthropicStub, startOpenAIStub, type StubServer, type StubUsage } from '../../helpers/providers/index.js';
import { backendDoc, config, docs, eventually, startGateway, type TestGateway } from '../helpers.js';

const USAGE: StubUsage = { input: 12, output: 7, cacheRead: 4, cacheWrite: 2, reasoning: 3 };
const prices = indexPrices(loadPriceTable());

interface Row {
  provider: string;
  /** The model the client asks for; the route sends it to this row's backend. */
  model: string;
  names: { 'llm.provider': string; 'llm.system': string; 'gen_ai.provider.name': string };
  /** Token attributes the span must carry, from USAGE in this provider's own counting. */
  tokens: Record<string, number>;
  /** Its Backend document (the stand-in's URL given). */
  backend: (url: string) => string;
  /** Which stand-in answers it. */
  stub: () => StubServer;
}

let openai: OpenAIStub;
let anthropic: AnthropicStub;
let gemini: GeminiStub;
let vertex: GeminiStub;
let auth: GoogleAuthStub;
let bedrock: BedrockStub;
const AWS = { accessKeyId: 'AKIDTABLE', secretAccessKey: 'table-secret' };
let g: TestGateway;
let client: OpenAI;

// OpenAI's stand-in: prompt = input + cache reads, completion includes reasoning.
const OPENAI_TOKENS = {
  'llm.token_count.prompt': 16,
  'llm.token_count.completion': 7,
  'llm.token_count.total': 23,
  'llm.token_count.prompt_details.cache_read': 4,
  'llm.token_count.completion_details.reasoning': 3,
};
// Anthropic counts cache reads and writes apart from input: prompt = 12 + 4 + 2.
const ANTHROPIC_TOKENS = {
  'llm.token_count.prompt': 18,
  'llm.token_count.completion': 7,
  'llm.token_count.total': 25,
  'llm.token_count.prompt_details.cache_read': 4,
  'llm.token_count.prompt_details.cache_write': 2,
};
// Gemini: promptTokenCount includes cached content; thoughts are apart from candidates (4 + 3).
const GEMINI_TOKENS = OPENAI_TOKENS;

const ROWS: Row[] = [
  {
    provider: 'openai',
    model: 'gpt-4o',
    names: { 'llm.provider': 'openai', 'llm.system': 'openai', 'gen_ai.provider.name': 'openai' },
    tokens: OPENAI_TOKENS,
    backend: (url) => backendDoc('openai', 'openai', `${url}`, '  apiKey: { env: K }'),
    stub: () => openai,
  },
  {
    provider: 'azure',
    model: 'gpt-4o-mini',
    names: { 'llm.provider': 'azure', 'llm.system': 'openai', 'gen_ai.provider.name': 'azure.ai.openai' },
    tokens: OPENAI_TOKENS,
    backend: (url) => backendDoc('azure', 'azure', url.replace(/\/v1$/, ''), '  apiKey: { env: K }'),
    stub: () => openai,
  },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    names: { 'llm.provider': 'anthropic', 'llm.system': 'anthropic', 'gen_ai.provider.name': 'anthropic' },
    tokens: ANTHROPIC_TOKENS,
    backend: (url) => backendDoc('anthropic', 'anthropic', url, '  apiKey: { env: K }'),
    stub: () => anthropic,
  },
  {
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    names: { 'llm.provider': 'google', 'llm.system': 'vertexai', 'gen_ai.provider.name': 'gcp.gemini' },
    tokens: GEMINI_TOKENS,
    backend: (url) => backendDoc('gemini', 'gemini', url, '  apiKey: { env: K }'),
    stub: () => gemini,
  },
  {
    provider: 'vertex',
    model: 'gemini-2.5-pro',
    names: { 'llm.provider': 'google', 'llm.system': 'vertexai', 'gen_ai.provider.name': 'gcp.vertex_ai' },
    tokens: GEMINI_TOKENS,
    backend: (url) => backendDoc('vertex', 'vertex', url, '  project: p\n  location: us-east5\n  serviceAccount: { env: SA }'),
    stub: () => vertex,
  },
  {
    provider: 'vertex',
    model: 'claude-opus-4@20250514',
    names: { 'llm.provider': 'google', 'llm.system': 'anthropic', 'gen_ai.provider.name': 'gcp.vertex_ai' },
    tokens: ANTHROPIC_TOKENS,
    backend: () => '',
    stub: () => vertex,
  },
  {
    // Converse counts fresh input apart from cache reads and writes, as Anthropic does; no reasoning count.
    provider: 'bedrock',
    model: 'anthropic.claude-sonnet-4-20250514-v1:0',
    names: { 'llm.provider': 'aws', 'llm.system': 'anthropic', 'gen_ai.provider.name': 'aws.bedrock' },
    tokens: ANTHROPIC_TOKENS,
    stub: () => bedrock,
    backend: (url) => backendDoc('bedrock', 'bedrock', url, '  region: us-east-1\n  accessKeyId: { env: AWS_KEY }\n  secretAccessKey: { env: AWS_SECRET }'),
  },
  {
    provider: 'bedrock',
    model: 'us.amazon.nova-pro-v1:0',
    names: { 'llm.provider': 'aws', 'llm.system': 'amazon', 'gen_ai.provider.name': 'aws.bedrock' },
    tokens: ANTHROPIC_TOKENS,
    backend: () => '',
    stub: () => bedrock,
  },
];

const nameOf = (r: Row) => `${r.provider} ${r.model}`;

beforeAll(async () => {
  openai = await startOpenAIStub({ apiKey: 'k', usage: USAGE });
  anthropic = await startAnthropicStub({ apiKey: 'k', usage: USAGE });
  gemini = await startGeminiStub({ apiKey: 'k', usage: USAGE });
  auth = await startGoogleAuthStub();
  vertex = await startGeminiStub({ acceptToken: (t) => auth.tokens.has(t), usage: USAGE });
  bedrock = await startBedrockStub({ credentials: [AWS], usage: USAGE });
  const urls: Record<string, string> = { openai: openai.url, azure: openai.url, anthropic: anthropic.url, gemini: gemini.url, vertex: vertex.url, bedrock: bedrock.url };
  const backends = [...new Set(ROWS.map((r) => r.provider))].map((p) => (ROWS.find((r) => r.provider === p) as Row).backend(urls[p]));
  const rules = ROWS.map((r) => `    - matches: [{ model: "${r.model}" }]\n      targets: [{ backend: ${r.provider} }]\n      retry: { retries: 0 }`);
  const cfg = config(docs(...backends, `kind: Route\nmetadata: { name: table }\nspec:\n  rules:\n${rules.join('\n')}`), {
    K: 'k',
    SA: auth.serviceAccount(),
    AWS_KEY: AWS.accessKeyId,
    AWS_SECRET: AWS.secretAccessKey,
  });
  g = await startGateway(cfg);
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'client', maxRetries: 0 });
});
afterAll(async () => {
  await g?.close();
  for (const s of [openai, anthropic, gemini, vertex, auth, bedrock]) await s?.close();
});

async function spanOf(model: string, since: number): Promise<ReadableSpan> {
  return eventually(async () => (await g.calls()).slice(since).find((s) => s.attributes['gen_ai.request.model'] === model));
}

function expectCommon(span: ReadableSpan, row: Row): void {
  expect(span.attributes).toMatchObject({
    'openinference.span.kind': 'LLM',
    'gen_ai.operation.name': 'chat',
    'tracegate.backend': row.provider,
    ...row.names,
    ...row.tokens,
    'gen_ai.usage.input_tokens': row.tokens['llm.token_count.prompt'],
    'gen_ai.usage.output_tokens': row.tokens['llm.token_count.completion'],
    'gen_ai.response.finish_reasons': ['stop'],
  });
  expect(span.attributes['llm.model_name']).toBeTypeOf('string');
  const price = prices.find(span.attributes['llm.model_name'] as string);
  expect(price, `a price for ${String(span.attributes['llm.model_name'])}`).toBeDefined();
  const a = span.attributes;
  const cost = computeCost(price!, {
    prompt: a['llm.token_count.prompt'] as number,
    completion: a['llm.token_count.completion'] as number,
    cacheRead: a['llm.token_count.prompt_details.cache_read'] as number | undefined,
    cacheWrite: a['llm.token_count.prompt_details.cache_write'] as number | undefined,
    reasoning: a['llm.token_count.completion_details.reasoning'] as number | undefined,
  });
  expect(cost.total).toBeGreaterThan(0);
}

describe.each(ROWS)('$provider $model', (row) => {
  it('an answered call', async () => {
    const since = (await g.calls()).length;
    const r = await client.chat.completions.create({ model: row.model, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expectCommon(await spanOf(row.model, since), row);
  });

  it('a streamed call', async () => {
    const since = (await g.calls()).length;
    const s = await client.chat.completions.create({ model: row.model, messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(DEFAULT_TEXT);
    const span = await spanOf(row.model, since);
    expectCommon(span, row);
    expect(span.attributes['tracegate.streaming']).toBe(true);
    expect(span.attributes['tracegate.time_to_first_token_ms']).toBeGreaterThan(0);
  });

  it('an upstream 400: an error span with the status', async () => {
    row.stub().failNext(1, 400);
    const since = (await g.calls()).length;
    const err = await client.chat.completions.create({ model: row.model, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err, nameOf(row)).toBeInstanceOf(OpenAI.BadRequestError);
    const span = await spanOf(row.model, since);
    expect(span.status.code).toBe(2);
    expect(span.attributes).toMatchObject({ 'error.type': '400', 'http.response.status_code': 400, ...row.names });
  });
});
