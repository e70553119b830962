/**
 * A Gemini upstream that misbehaves, through tracegate with the openai SDK and the Gen AI SDK: an
 * answer past the gateway's size limit, function arguments nested deeper than JSON.stringify can
 * walk, a stream whose last event has no line end, a stream line that never ends, a stream that
 * stalls, a stream of garbage. Each is a bounded, clear error for that request only (or, for the
 * missing last line end, a whole answer); the gateway keeps serving.
 */
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../../helpers/providers/stub.js';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { useGoogleStack } from './google-stack.js';

const stack = useGoogleStack({
  location: 'us-central1',
  documents: [
    `kind: Route
metadata: { name: models }
spec:
  rules:
    - matches: [{ model: "gemini-*" }]
      targets: [{ backend: gemini }]
      retry: { retries: 0 }
      timeouts: { attempt: 30s, streamIdle: 300ms }`,
  ],
});
let client: OpenAI;
let ai: GoogleGenAI;
beforeAll(() => {
  client = new OpenAI({ baseURL: `${stack.g.url}/v1`, apiKey: 'client', maxRetries: 0 });
  ai = new GoogleGenAI({ apiKey: 'client', httpOptions: { baseUrl: stack.g.url } });
});

/** Answers with `respond` for one test, then the stand-in's own answers again. */
async function withUpstream<T>(respond: Route, run: () => Promise<T>): Promise<T> {
  stack.gem.set({ respond });
  try {
    return await run();
  } finally {
    stack.gem.set({ respond: undefined });
  }
}

const chunk = (text: string, finish?: string) =>
  JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...(finish ? { finishReason: finish } : {}) }], modelVersion: 'gemini-2.5-flash' });
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** Writes `text` as a JSON answer as it is (the stand-in's json() would serialize it again). */
const rawJson =
  (text: string): Route =>
  (ex) => {
    ex.res.writeHead(200, { 'content-type': 'application/json' });
    ex.res.end(text);
  };
const deepCall = (depth: number) => `{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":${nested(depth)}}}]},"finishReason":"STOP","index":0}]}`;

async function expectError(p: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<void> {
  const err = (await p.catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect(err.status).toBe(status);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
}

async function streamed(model: string): Promise<{ text: string; error?: unknown }> {
  let text = '';
  try {
    const s = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
    return { text };
  } catch (error) {
    return { text, error };
  }
}

const ask = () => client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] });

describe('a hostile Gemini upstream', () => {
  it('an answer past 64 MiB: refused with a 502, not buffered', async () => {
    const big = `{"candidates":[{"content":{"parts":[{"text":"${'x'.repeat(65 * 1024 * 1024)}"}]},"finishReason":"STOP"}]}`;
    const started = Date.now();
    await withUpstream(rawJson(big), () => expectError(ask(), 502, 'upstream_response_too_large'));
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('function arguments nested 10,000 deep (60 KB): a 502, streamed or not; the passthrough passes them', async () => {
    await withUpstream(rawJson(deepCall(10_000)), () => expectError(ask(), 502, 'upstream_failed', /unreadable Gemini answer \(function arguments nested too deep\)/));
    const s = await withUpstream(
      (ex) => ex.sse([`data: ${deepCall(10_000)}\r\n\r\n`]),
      () => streamed('gemini-2.5-flash'),
    );
    expect(String((s.error as Error)?.message)).toMatch(/nested too deep/);
    const r = await withUpstream(rawJson(deepCall(10_000)), () => ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }));
    expect(r.candidates?.[0].finishReason).toBe('STOP');
  });

  it('the last event without its blank line (or any line end) still completes the answer', async () => {
    const s = await withUpstream(
      (ex) => ex.sse([`data: ${chunk('Hello ')}\r\n\r\n`, `data: ${chunk('there.', 'STOP')}`]),
      () => streamed('gemini-2.5-flash'),
    );
    expect(s).toEqual({ text: 'Hello there.' });
  });

  it('a stream line that never ends: cut at the event limit with a clear error', async () => {
    const started = Date.now();
    const s = await withUpstream(
      async (ex) => {
        ex.res.writeHead(200, { 'content-type': 'text/event-stream' });
        const piece = `data: {"candidates":[{"content":{"parts":[{"text":"${'y'.repeat(1024 * 1024)}`;
        for (let i = 0; i < 10 && !ex.res.destroyed; i++) {
          ex.res.write(i === 0 ? piece : 'y'.repeat(1024 * 1024));
          await ex.sleep(5);
        }
        ex.res.end();
      },
      () => streamed('gemini-2.5-flash'),
    );
    expect(s.text).toBe('');
    expect(s.error).toBeInstanceOf(OpenAI.APIError);
    expect((s.error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_event_too_large');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a stream that stalls after its first chunk: cut by streamIdle, an error after the text so far', async () => {
    const s = await withUpstream(
      async (ex) => {
        ex.res.writeHead(200, { 'content-type': 'text/event-stream' });
        ex.res.write(`data: ${chunk('Half')}\r\n\r\n`);
        await ex.sleep(3_000);
        ex.res.end();
      },
      () => streamed('gemini-2.5-flash'),
    );
    expect(s.text).toBe('Half');
    expect(String((s.error as Error)?.message)).toMatch(/timed out/);
  });

  it('garbage instead of chunks, then the end: an incomplete-stream error, never [DONE]', async () => {
    const s = await withUpstream(
      (ex) => ex.sse(['data: not json\r\n\r\n', ': a comment\r\n\r\n', 'data: [1,2,3]\r\n\r\n']),
      () => streamed('gemini-2.5-flash'),
    );
    expect(s.text).toBe('');
    expect(String((s.error as Error)?.message)).toMatch(/ended before the answer was complete/);
  });

  it('the gateway still serves afterwards', async () => {
    expect((await ask()).choices[0].message.content).toBe(DEFAULT_TEXT);
  });
});
