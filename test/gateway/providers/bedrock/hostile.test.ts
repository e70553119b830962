/**
 * A Bedrock upstream that misbehaves, through tracegate with the openai SDK: event-stream frames
 * with a bad CRC, a 4 GiB length prefix, a stream cut inside a frame, a stream that stops
 * sending, an answer of hundreds of MB, and an answer that never comes. Each is a bounded, clear
 * error for that call only (nothing past the limits is read or buffered), and the gateway serves
 * the next call.
 */
import { crc32 } from 'node:zlib';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventMessage } from '../../../helpers/providers/bedrock_wire.js';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { CLAUDE, useBedrockStack } from './bedrock-stack.js';

const stack = useBedrockStack({
  documents: [
    `kind: Route
metadata: { name: models }
spec:
  rules:
    - matches: [{ model: "claude" }]
      targets: [{ backend: bedrock, model: "${CLAUDE}" }]
      retry: { retries: 0 }
      timeouts: { request: 5s, attempt: 1500ms, streamIdle: 400ms }
    - matches: [{ model: "claude-big" }]
      targets: [{ backend: bedrock, model: "${CLAUDE}" }]
      retry: { retries: 0 }
      timeouts: { request: 60s, attempt: 60s }`,
  ],
});
let client: OpenAI;
beforeAll(() => {
  client = new OpenAI({ baseURL: `${stack.g.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20_000 });
});

const start = () => eventMessage('messageStart', { role: 'assistant' });
const text = (t: string, i = 1) => eventMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t } }, i);

/** The whole streamed call: text received and the error it ended with (undefined: ended well). */
async function streamed(): Promise<{ text: string; error?: InstanceType<typeof OpenAI.APIError> }> {
  let got = '';
  try {
    const s = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const c of s) got += c.choices[0]?.delta?.content ?? '';
    return { text: got };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { text: got, error: e };
  }
}

async function stillServes(): Promise<void> {
  const r = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
  expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
}

describe('a hostile Bedrock upstream', () => {
  it('a frame with a bad checksum before any output: a 502 for the call', async () => {
    const bad = start();
    bad[bad.length - 1] ^= 0xff;
    stack.b.streamNext({ raw: [bad] });
    const r = await streamed();
    expect(r.error?.status).toBe(502);
    expect(r.error?.message).toMatch(/malformed event stream/);
    await stillServes();
  });

  it('a frame with a bad checksum after some output: the stream ends with an error event', async () => {
    const bad = text('world');
    bad[20] ^= 0x55;
    stack.b.streamNext({ raw: [start(), text('Hello '), bad] });
    const r = await streamed();
    expect(r.text).toBe('Hello ');
    expect(r.error?.message).toMatch(/malformed event stream/);
    await stillServes();
  });

  it('a 4 GiB length prefix (with a valid prelude CRC) is refused at once, nothing buffered', async () => {
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(0xffffff00, 0);
    prelude.writeUInt32BE(0, 4);
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    stack.b.streamNext({ raw: [prelude, Buffer.alloc(1024, 1)] });
    const r = await streamed();
    expect(r.error?.status).toBe(502);
    expect(r.error?.code).toBe('upstream_event_too_large');
    await stillServes();
  });

  it('a stream cut inside a frame: an error, never a [DONE]', async () => {
    const whole = text('world');
    stack.b.streamNext({ raw: [start(), text('Hello '), whole.subarray(0, whole.length - 7)] });
    const r = await streamed();
    expect(r.text).toBe('Hello ');
    expect(r.error).toBeDefined();
    await stillServes();
  });

  it('a stream that stops sending is cut after streamIdle, and the upstream connection closed', async () => {
    stack.b.streamNext({ stallAfter: 3 });
    const t0 = performance.now();
    const r = await streamed();
    expect(r.error?.message).toMatch(/timed out/);
    expect(performance.now() - t0).toBeLessThan(5_000);
    await stack.b.waitForAbort();
    await stillServes();
  });

  it('an answer of 300 MB is refused past the answer limit; the upstream is not read to its end', async () => {
    stack.b.hugeAnswerNext(300 * 1024 * 1024);
    const t0 = performance.now();
    const err = await client.chat.completions.create({ model: 'claude-big', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_response_too_large');
    await stack.b.waitForAbort();
    expect(stack.b.hugeWritten).toBeLessThan(100 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(30_000);
    await stillServes();
  });

  it('an answer that never comes: 504 after the attempt timeout', async () => {
    stack.b.hangNext(1);
    const err = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    await stillServes();
  });
});
