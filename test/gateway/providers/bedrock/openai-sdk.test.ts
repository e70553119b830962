/**
 * The `openai` SDK through tracegate to AWS Bedrock, on a loopback stand-in that verifies every
 * SigV4 signature: Converse and ConverseStream (Claude and Nova), InvokeModel for Claude
 * (`api: invoke`, temporary keys with a session token), tools over two turns, usage with cache
 * tokens, a ThrottlingException retried then answered, throttling on every try falling back to
 * another backend, and a throttlingException in the middle of a stream. Spans carry Bedrock's
 * telemetry names and never a credential.
 */
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexPrices, loadPriceTable } from '../../../../schemas/prices.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/index.js';
import { eventually } from '../../helpers.js';
import { CLAUDE, KEYS, NOVA, SECRETS, SESSION, useBedrockStack } from './bedrock-stack.js';

const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const prices = indexPrices(loadPriceTable());
const fast = '      retry: { retries: 2, backoff: { base: 1ms, max: 5ms } }';

const stack = useBedrockStack({
  stub: { usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 } },
  documents: [
    `kind: Route
metadata: { name: models }
spec:
  rules:
    - name: claude
      matches: [{ model: "claude-sonnet" }]
      targets: [{ backend: bedrock, model: "${CLAUDE}" }]
${fast}
    - name: nova
      matches: [{ model: "nova-pro" }]
      targets: [{ backend: bedrock, model: "${NOVA}" }]
    - name: invoke
      matches: [{ model: "claude-invoke" }]
      targets: [{ backend: bedrock-invoke, model: "eu.${CLAUDE}" }]
    - name: busy
      matches: [{ model: "busy" }]
      targets: [{ backend: bedrock, model: "${CLAUDE}" }]
      fallbacks: [{ backend: bedrock-invoke, model: "eu.${CLAUDE}" }]
${fast}`,
  ],
});
let client: OpenAI;
beforeAll(() => {
  client = new OpenAI({ baseURL: `${stack.g.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
});

const ask = (model: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ],
    ...extra,
  });

async function streamText(model: string, extra: Record<string, unknown> = {}) {
  const s = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra });
  let text = '';
  let finish: string | null | undefined;
  let usage: OpenAI.CompletionUsage | undefined | null;
  const calls: { name: string; args: string }[] = [];
  for await (const c of s) {
    const ch = c.choices[0];
    text += ch?.delta?.content ?? '';
    finish = ch?.finish_reason ?? finish;
    for (const t of ch?.delta?.tool_calls ?? []) {
      calls[t.index] ??= { name: '', args: '' };
      calls[t.index].name += t.function?.name ?? '';
      calls[t.index].args += t.function?.arguments ?? '';
    }
    if (c.usage) usage = c.usage;
  }
  return { text, finish, usage, calls };
}

async function lastSpan(model: string) {
  return eventually(async () => (await stack.g.calls()).filter((s) => s.attributes['gen_ai.request.model'] === model).at(-1));
}

describe('openai SDK → tracegate → Bedrock Converse', () => {
  it('chat: signed request, Converse body, usage with cache reads and writes in the prompt', async () => {
    const r = await ask('claude-sonnet', { temperature: 0.2, max_tokens: 50 });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 150, completion_tokens: 5, total_tokens: 155, prompt_tokens_details: { cached_tokens: 100 } });
    const rec = stack.b.requests[0];
    expect(rec.path).toBe(`/model/${encodeURIComponent(CLAUDE)}/converse`);
    expect(String(rec.headers.authorization)).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEYS.accessKeyId}/\\d{8}/us-west-2/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`),
    );
    expect(rec.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.body).toEqual({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 50, temperature: 0.2 } });
    expect(JSON.stringify(rec.headers)).not.toContain('client-key');
  });

  it('stream: ConverseStream decoded, text, finish and the usage chunk the client asked for', async () => {
    const r = await streamText('claude-sonnet', { stream_options: { include_usage: true } });
    expect(r.text).toBe(DEFAULT_TEXT);
    expect(r.finish).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 150, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 100 } });
    expect(stack.b.requests[0].path).toBe(`/model/${encodeURIComponent(CLAUDE)}/converse-stream`);
  });

  it('tools: a tool call, then the tool result answered with text, streamed and not', async () => {
    const first = await ask('nova-pro', { tools, tool_choice: 'required' });
    const call = first.choices[0].message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call.function).toEqual({ name: 'get_weather', arguments: DEFAULT_TOOL_ARGS });
    expect(stack.b.requests[0].body.toolConfig.toolChoice).toEqual({ any: {} });
    const second = await client.chat.completions.create({
      model: 'nova-pro',
      tools,
      messages: [{ role: 'user', content: 'Weather in Paris?' }, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18C' }],
    });
    expect(second.choices[0].message.content).toBe(DEFAULT_TEXT);
    const sent = stack.b.requests[1].body.messages;
    expect(sent[1].content[0].toolUse).toMatchObject({ toolUseId: call.id, name: 'get_weather' });
    expect(sent[2].content[0].toolResult).toEqual({ toolUseId: call.id, content: [{ text: '18C' }] });
    // A client that drops `tools` after the calls: Converse still gets the toolConfig it requires.
    const without = await client.chat.completions.create({
      model: 'nova-pro',
      messages: [{ role: 'user', content: 'Weather in Paris?' }, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '18C' }],
    });
    expect(without.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(stack.b.requests[2].body.toolConfig.tools[0].toolSpec.name).toBe('get_weather');
    const streamed = await streamText('nova-pro', { tools });
    expect(streamed.calls).toEqual([{ name: 'get_weather', args: DEFAULT_TOOL_ARGS }]);
    expect(streamed.finish).toBe('tool_calls');
  });

  it('spans: llm.provider aws, llm.system by model vendor, gen_ai.provider.name aws.bedrock; no credential anywhere', async () => {
    await ask('nova-pro');
    await ask('claude-sonnet');
    const nova = await lastSpan('nova-pro');
    const claude = await lastSpan('claude-sonnet');
    expect(nova.attributes).toMatchObject({ 'llm.provider': 'aws', 'llm.system': 'amazon', 'gen_ai.provider.name': 'aws.bedrock', 'tracegate.backend': 'bedrock' });
    expect(claude.attributes).toMatchObject({
      'llm.provider': 'aws',
      'llm.system': 'anthropic',
      'gen_ai.provider.name': 'aws.bedrock',
      'llm.token_count.prompt': 150,
      'llm.token_count.completion': 5,
      'llm.token_count.prompt_details.cache_read': 100,
      'llm.token_count.prompt_details.cache_write': 30,
    });
    // Cost is the collector's (schemas/prices.json); the model name it prices by finds a row.
    expect(prices.find(claude.attributes['llm.model_name'] as string)?.pattern).toBe('claude-sonnet-4*');
    expect(prices.find(nova.attributes['llm.model_name'] as string)?.pattern).toBe('nova-pro*');
    const all = JSON.stringify((await stack.g.spans()).map((s) => s.attributes));
    for (const secret of SECRETS) expect(all).not.toContain(secret);
    expect(all).not.toContain('AWS4-HMAC-SHA256');
  });
});

describe('openai SDK → tracegate → Bedrock InvokeModel (api: invoke, session credentials)', () => {
  it('chat and stream through the Anthropic body, signed with the session token', async () => {
    const r = await ask('claude-invoke', { max_tokens: 64 });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(r.usage).toMatchObject({ prompt_tokens: 150, prompt_tokens_details: { cached_tokens: 100 } });
    const rec = stack.b.requests[0];
    expect(rec.path).toBe(`/model/${encodeURIComponent(`eu.${CLAUDE}`)}/invoke`);
    expect(rec.headers['x-amz-security-token']).toBe(SESSION.sessionToken);
    expect(String(rec.headers.authorization)).toContain(`Credential=${SESSION.accessKeyId}/`);
    expect(String(rec.headers.authorization)).toContain('/eu-west-1/bedrock/aws4_request');
    expect(rec.body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, system: 'Be brief.' });
    expect(rec.body.model).toBeUndefined();
    const s = await streamText('claude-invoke', { stream_options: { include_usage: true } });
    expect(s.text).toBe(DEFAULT_TEXT);
    expect(s.usage).toMatchObject({ prompt_tokens: 150, completion_tokens: 5 });
    expect(stack.b.requests[1].path).toBe(`/model/${encodeURIComponent(`eu.${CLAUDE}`)}/invoke-with-response-stream`);
  });
});

describe('Bedrock errors through tracegate', () => {
  it('a ThrottlingException is retried with backoff, then answered', async () => {
    stack.b.failNextWith(1, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    const r = await ask('claude-sonnet');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(stack.b.requests).toHaveLength(2);
  });

  it('throttled on every try: a 429 with rate_limit_error for the client', async () => {
    stack.b.failNextWith(3, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    const err = await ask('claude-sonnet').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(stack.b.requests).toHaveLength(3);
  });

  it('throttled on every try of the target: the fallback backend answers', async () => {
    stack.b.failNextWith(3, 'ThrottlingException');
    const r = await ask('busy');
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    expect(stack.b.requests.map((q) => q.path.split('/').at(-1))).toEqual(['converse', 'converse', 'converse', 'invoke']);
  });

  it('a ValidationException is a 400, not retried', async () => {
    stack.b.failNextWith(1, 'ValidationException', 'The model returned the following errors: bad input');
    const err = await ask('claude-sonnet').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(stack.b.requests).toHaveLength(1);
  });

  it('a throttlingException in the middle of a stream ends it with an error the SDK raises', async () => {
    stack.b.streamNext({ exceptionAfter: 3, exception: 'throttlingException' });
    const s = await client.chat.completions.create({ model: 'claude-sonnet', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('Too many tokens');
    expect(text.length).toBeGreaterThan(0);
    const span = await lastSpan('claude-sonnet');
    expect(span.attributes['error.type']).toBeDefined();
  });
});
