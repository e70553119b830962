/**
 * `@anthropic-ai/sdk` through tracegate's Messages endpoint to Claude on Bedrock (InvokeModel,
 * signed): the message and its usage as Anthropic's API gives them, the stream as Anthropic's own
 * events (the SDK's `finalMessage()` assembles it), tools, `anthropic-beta` carried into the body,
 * and Bedrock errors in Anthropic's envelope (a ThrottlingException retried, then a 429
 * RateLimitError; a stream exception as an `error` event).
 */
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/index.js';
import { eventually } from '../../helpers.js';
import { CLAUDE, KEYS, useBedrockStack } from './bedrock-stack.js';

const stack = useBedrockStack({
  stub: { usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 }, anthropicModel: 'claude-sonnet-4-20250514' },
  documents: [
    `kind: Route
metadata: { name: claude }
spec:
  rules:
    - matches: [{ model: "claude-sonnet-4" }]
      targets: [{ backend: bedrock, model: "us.${CLAUDE}" }]
      retry: { retries: 1, backoff: { base: 1ms, max: 5ms } }`,
  ],
});
let client: Anthropic;
beforeAll(() => {
  client = new Anthropic({ baseURL: stack.g.url, apiKey: 'client-key', maxRetries: 0 });
});

describe('@anthropic-ai/sdk → tracegate /v1/messages → Claude on Bedrock (InvokeModel)', () => {
  it('a message: Anthropic usage as it came, the InvokeModel body signed', async () => {
    const m = await client.messages.create({ model: 'claude-sonnet-4', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });
    expect(m.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(m.model).toBe('claude-sonnet-4-20250514');
    expect(m.usage).toMatchObject({ input_tokens: 20, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 30 });
    const rec = stack.b.requests[0];
    expect(rec.path).toBe(`/model/${encodeURIComponent(`us.${CLAUDE}`)}/invoke`);
    expect(rec.body).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });
    expect(String(rec.headers.authorization)).toContain(`Credential=${KEYS.accessKeyId}/`);
    expect(rec.headers['x-api-key']).toBeUndefined();
    const span = await eventually(async () => (await stack.g.calls()).at(-1));
    expect(span.attributes).toMatchObject({ 'llm.provider': 'aws', 'llm.system': 'anthropic', 'gen_ai.provider.name': 'aws.bedrock', 'llm.token_count.prompt': 150 });
  });

  it('a stream: Anthropic events the SDK assembles; tools; anthropic-beta in the body', async () => {
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    const s = client.messages.stream(
      { model: 'claude-sonnet-4', max_tokens: 100, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] },
      { headers: { 'anthropic-beta': 'token-efficient-tools-2025-02-19' } },
    );
    const m = await s.finalMessage();
    expect(m.stop_reason).toBe('tool_use');
    const use = m.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
    expect(use.input).toEqual(JSON.parse(DEFAULT_TOOL_ARGS));
    expect(m.usage).toMatchObject({ output_tokens: 5 });
    const rec = stack.b.requests[0];
    expect(rec.path).toBe(`/model/${encodeURIComponent(`us.${CLAUDE}`)}/invoke-with-response-stream`);
    expect(rec.body.anthropic_beta).toEqual(['token-efficient-tools-2025-02-19']);
    expect(rec.body.stream).toBeUndefined();
  });

  it('a ThrottlingException is retried; on every try the SDK gets a 429 RateLimitError in Anthropic’s envelope', async () => {
    stack.b.failNextWith(1, 'ThrottlingException');
    const ok = await client.messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.content[0]).toMatchObject({ type: 'text' });
    stack.b.reset();
    stack.b.failNextWith(2, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    const err = await client.messages.create({ model: 'claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('a stream exception reaches the SDK as an error event', async () => {
    stack.b.streamNext({ exceptionAfter: 4, exception: 'modelStreamErrorException' });
    const s = client.messages.stream({ model: 'claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const err = await s.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
  });
});
