/**
 * Large request bodies and upstream answers go through the JSON threads (gateway/json-threads.ts):
 * the same 400s as on the event loop, the client's bytes sent upstream unchanged (or with
 * stream_options.include_usage put in front of them), the upstream's bytes answered unchanged,
 * and the answer's facts read from the value parsed on the thread.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonThreads, LARGE_JSON_CHARS, MAX_JSON_CONTAINERS } from '../../gateway/json-threads.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from './helpers.js';

const BIG = 'x'.repeat(LARGE_JSON_CHARS + 1000);

/** An OpenAI-compatible upstream that keeps each request's bytes and answers with a large completion. */
async function recordingUpstream(): Promise<{ url: string; bodies: Buffer[]; answer: Buffer; close(): Promise<void> }> {
  const bodies: Buffer[] = [];
  // Spacing no serializer writes: passed through, these bytes reach the client as they are.
  const answer = Buffer.from(
    `{"id":"c1", "object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"${BIG}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":9,"total_tokens":16}}`,
  );
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      if (!body.toString('latin1', 0, 400).includes('"stream":true')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, bodies, answer, close: () => new Promise((r) => server.close(() => r())) };
}

describe('large bodies through the JSON threads', () => {
  let up: Awaited<ReturnType<typeof recordingUpstream>>;
  let g: TestGateway;
  beforeAll(async () => {
    up = await recordingUpstream();
    const route = 'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: [{ model: "gpt-*" }]\n      targets: [{ backend: up }]';
    g = await startGateway(config(docs('kind: Gateway\nmetadata: { name: gw }\nspec:\n  bodyLimit: 16mb\n  telemetry: { otlpEndpoint: null }', backendDoc('up', 'openai', up.url), route)));
  });
  afterAll(async () => {
    await g?.close();
    await up?.close();
  });
  const call = (body: string) => fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('sends the client bytes upstream unchanged and answers with the upstream bytes unchanged; facts come from the parsed answer', async () => {
    const body = `{ "model": "gpt-4o",  "messages": [{"role": "user", "content": "${BIG}"}] }`;
    const r = await call(body);
    expect(r.status).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(up.answer)).toBe(true);
    expect(up.bodies.at(-1)!.toString()).toBe(body);
    await g.gw.flush();
    const span = (await g.calls()).at(-1)!;
    expect(Number(span.attributes['llm.token_count.completion'])).toBe(9);
  });

  it('a stream without stream_options gets include_usage in front of the client bytes, the rest unchanged', async () => {
    const body = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"${BIG}"}]}`;
    const r = await call(body);
    expect(r.status).toBe(200);
    await r.text();
    const sent = up.bodies.at(-1)!.toString();
    expect(sent).toBe(`{"stream_options":{"include_usage":true},${body.slice(1)}`);
    expect(JSON.parse(sent).stream_options).toEqual({ include_usage: true });
  });

  it('a stream with its own stream_options is serialized again, its options kept', async () => {
    const r = await call(JSON.stringify({ model: 'gpt-4o', stream: true, stream_options: { other: 1 }, messages: [{ role: 'user', content: BIG }] }));
    expect(r.status).toBe(200);
    await r.text();
    expect(JSON.parse(up.bodies.at(-1)!.toString()).stream_options).toEqual({ other: 1, include_usage: true });
  });

  it.each([
    ['nested past the depth limit', `{"model":"gpt-4o","messages":[],"x":"${BIG}","deep":${'['.repeat(100)}${']'.repeat(100)}}`, /nests deeper than 64 levels/],
    ['a prototype key', `{"model":"gpt-4o","messages":[],"x":"${BIG}","__proto__":{}}`, /forbidden key "__proto__"/],
    ['not JSON', `{"model":"gpt-4o","x":"${BIG}"`, /not valid JSON/],
  ])('%s: the same 400 as a small body, in the OpenAI envelope', async (_name, body, message) => {
    const sent = up.bodies.length;
    const r = await call(body);
    expect(r.status).toBe(400);
    const e = (await r.json()) as { error: { code: string; message: string } };
    expect(e.error.code).toBe('invalid_json');
    expect(e.error.message).toMatch(message);
    expect(up.bodies.length).toBe(sent);
  });
});

describe('jsonThreads', () => {
  it('parses requests and answers, refuses deep answers and prototype keys with a 502, refuses past the bytes waiting with a 503 and after close with shutting_down', async () => {
    const t = jsonThreads({ size: 1 });
    try {
      const ok = await t.parseRequest(Buffer.from('{"a":[1,2,{"b":"c"}]}'), 64);
      expect(ok.parsed.value).toEqual({ a: [1, 2, { b: 'c' }] });
      expect(ok.text).toBe('{"a":[1,2,{"b":"c"}]}');
      const answer = await t.parseAnswer(Buffer.from('not json'), 64);
      expect(answer).toMatchObject({ text: 'not json', parsed: { value: undefined } });
      // not parsed on the event loop instead: a 502, as for too many containers
      await expect(t.parseAnswer(Buffer.from(`{"a":${'['.repeat(70)}${']'.repeat(70)}}`), 64)).rejects.toMatchObject({
        code: 'bad_upstream_response',
        status: 502,
        message: expect.stringMatching(/^the upstream answer nests deeper than 64 levels at \$\.a\[0\]/),
      });
      await expect(t.parseAnswer(Buffer.from('{"choices":[{"__proto__":{"x":1}}]}'), 64)).rejects.toMatchObject({
        code: 'bad_upstream_response',
        message: expect.stringMatching(/^the upstream answer has a forbidden key "__proto__" at \$\.choices\[0\]/),
      });
      // the next answer on the same thread
      expect((await t.parseAnswer(Buffer.from('{"ok":1}'), 64)).parsed).toEqual({ value: { ok: 1 } });
      await expect(t.parseRequest(Buffer.allocUnsafe(300 * 1024 * 1024), 64)).rejects.toMatchObject({ code: 'json_parse_unavailable', status: 503 });
    } finally {
      await t.close();
    }
    await expect(t.parseRequest(Buffer.from('{}'), 64)).rejects.toMatchObject({ code: 'shutting_down' });
  });

  /** A JSON array of `n` small objects: parses into far more heap than its bytes. */
  const objects = (n: number) => Buffer.from(`[${Array.from({ length: n }, (_, i) => `{"i":${i},"s":"x${i}"}`).join(',')}]`);

  it('a parse past its time limit fails that body with a 503 and ends its thread; the next body gets a new thread', async () => {
    const t = jsonThreads({ size: 1, parseTimeoutMs: 1 });
    try {
      await expect(t.parseRequest(objects(400_000), 64)).rejects.toMatchObject({ code: 'json_parse_unavailable', status: 503, message: expect.stringMatching(/not parsed within 0.001 s; retry/) });
    } finally {
      await t.close();
    }
    const u = jsonThreads({ size: 1 });
    try {
      expect((await u.parseRequest(Buffer.from('{"after":true}'), 64)).parsed.value).toEqual({ after: true });
    } finally {
      await u.close();
    }
  }, 60_000);

  it('a body opening more objects and arrays than the gateway parses is refused before parsing: a request 400, an answer 502', async () => {
    const t = jsonThreads({ size: 1 });
    try {
      const many = Buffer.from(`[${'[],'.repeat(MAX_JSON_CONTAINERS)}0]`);
      await expect(t.parseRequest(many, 64)).rejects.toMatchObject({
        code: 'invalid_json',
        status: 400,
        message: expect.stringMatching(/holds 2000001 JSON objects and arrays, more than the gateway parses \(2000000\)/),
      });
      await expect(t.parseAnswer(Buffer.from(`[${'{},'.repeat(MAX_JSON_CONTAINERS)}0]`), 64)).rejects.toMatchObject({ code: 'bad_upstream_response', status: 502 });
    } finally {
      await t.close();
    }
  }, 60_000);
});
