/**
 * The Bedrock stand-in is faithful: the AWS SDK (`@aws-sdk/client-bedrock-runtime`, which signs
 * with SigV4 and parses the event stream) talks to it as to Bedrock. A wrong secret, an unknown
 * key or a missing session token are refused as AWS refuses them.
 */
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BedrockStub, startBedrockStub } from '../../../helpers/providers/bedrock.js';
import { DEFAULT_TEXT, DEFAULT_TOOL_ARGS } from '../../../helpers/providers/reply.js';

const KEYS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const TEMP = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'token-of-the-session' };
const MODEL = 'anthropic.claude-sonnet-4-20250514-v1:0';
let b: BedrockStub;

// The client's default handler speaks HTTP/2 (for bidirectional streams); the stand-in, like the
// gateway's upstream transport, speaks HTTP/1.1, which the SDK supports through NodeHttpHandler.
const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = KEYS) =>
  new BedrockRuntimeClient({ endpoint: b.url, region: 'us-west-2', credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler() });

beforeAll(async () => {
  b = await startBedrockStub({ credentials: [KEYS, TEMP], usage: { input: 20, output: 5, cacheRead: 100, cacheWrite: 30 } });
});
afterAll(() => b.close());
beforeEach(() => b.reset());

describe('the AWS SDK against the Bedrock stand-in', () => {
  it('Converse: signed request accepted, answer and usage parsed', async () => {
    const out = await client().send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }], inferenceConfig: { maxTokens: 50 } }));
    expect(out.output?.message?.content?.[0]?.text).toBe(DEFAULT_TEXT);
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage).toMatchObject({ inputTokens: 20, outputTokens: 5, cacheReadInputTokens: 100, cacheWriteInputTokens: 30 });
    const rec = b.requests[0];
    expect(rec.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
    expect(String(rec.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDSTANDIN\/\d{8}\/us-west-2\/bedrock\/aws4_request/);
  });

  it('ConverseStream: the event stream is parsed by the SDK, tool use included', async () => {
    const out = await client().send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Weather in Paris?' }] }],
        toolConfig: { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }] },
      }),
    );
    const seen: string[] = [];
    let args = '';
    let usage: unknown;
    for await (const ev of out.stream!) {
      seen.push(Object.keys(ev).find((k) => k !== '$unknown')!);
      if (ev.contentBlockDelta?.delta?.toolUse) args += ev.contentBlockDelta.delta.toolUse.input;
      if (ev.metadata) usage = ev.metadata.usage;
    }
    expect(seen[0]).toBe('messageStart');
    expect(seen).toContain('contentBlockStart');
    expect(seen.slice(-2)).toEqual(['messageStop', 'metadata']);
    expect(JSON.parse(args)).toEqual(JSON.parse(DEFAULT_TOOL_ARGS));
    expect(usage).toMatchObject({ inputTokens: 20, outputTokens: 5 });
  });

  it('InvokeModel with a Claude body and session credentials', async () => {
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    const out = await client(TEMP).send(new InvokeModelCommand({ modelId: MODEL, body, contentType: 'application/json' }));
    const msg = JSON.parse(Buffer.from(out.body).toString('utf8'));
    expect(msg).toMatchObject({ type: 'message', content: [{ type: 'text', text: DEFAULT_TEXT }], usage: { input_tokens: 20 } });
    expect(b.requests[0].headers['x-amz-security-token']).toBe(TEMP.sessionToken);
  });

  it('InvokeModelWithResponseStream: chunks carry the Anthropic events', async () => {
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    const out = await client().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body, contentType: 'application/json' }));
    const types: string[] = [];
    let text = '';
    for await (const ev of out.body!) {
      const e = JSON.parse(Buffer.from(ev.chunk!.bytes!).toString('utf8'));
      types.push(e.type);
      if (e.delta?.type === 'text_delta') text += e.delta.text;
    }
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(text).toBe(DEFAULT_TEXT);
  });

  it('a stream exception reaches the SDK as its exception', async () => {
    b.streamNext({ exceptionAfter: 2, exception: 'throttlingException' });
    const out = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    await expect(
      (async () => {
        for await (const _ of out.stream!) {
          /* drain */
        }
      })(),
    ).rejects.toBeInstanceOf(ThrottlingException);
  });

  it('errors carry x-amzn-errortype: the SDK raises the typed exception', async () => {
    b.failNextWith(1, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    const err = await client()
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottlingException);
    expect((err as ThrottlingException).$metadata.httpStatusCode).toBe(429);
  });

  it('a body Bedrock would refuse is a ValidationException', async () => {
    const err = await client()
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'assistant', content: [{ text: 'Hi' }] }] }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationException);
  });

  it.each([
    ['a wrong secret', { ...KEYS, secretAccessKey: 'wrong' }, 'InvalidSignatureException'],
    ['an unknown key', { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }, 'UnrecognizedClientException'],
    ['a session key without its token', { accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey }, 'UnrecognizedClientException'],
  ])('%s is refused with 403 %s', async (_what, creds, type) => {
    const err = await client(creds)
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }))
      .catch((e: unknown) => e);
    expect((err as { name: string }).name).toBe(type);
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
  });
});
