/**
 * Upstream answers are untrusted input: a real gateway (buildGateway) in front of a hostile
 * loopback stand-in, called with the real openai client or undici's fetch. One case per class of
 * issue 12's "upstream answers are bounded": a body past the limit, an SSE line or event past the
 * limit (before and after the client's stream started), a giant line arriving in small reads,
 * answers that trickle or stall (attempt, request and idle timeouts), an endless error body over
 * retries. Each case asserts the answer, that the gateway still serves the next request, and that
 * the canary listener was never reached; where bytes matter, what the stand-in managed to send
 * before its connection was closed.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_LIMITS } from '../../gateway/proxy/limits.js';
import { backendDoc, config, docs, startGateway, type TestGateway } from '../gateway/helpers.js';
import { DEFAULT_TEXT, startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { canaryListener, type CanaryListener } from './canary.js';

const MiB = 1024 * 1024;
/** The most a loopback connection's kernel buffers hold: the largest send plus receive buffer (Linux; 8 MiB elsewhere). */
const SOCKET_BUFFERS_MAX = (() => {
  const max = (f: string) => Number(readFileSync(`/proc/sys/net/ipv4/${f}`, 'utf8').trim().split(/\s+/)[2]);
  try {
    const both = max('tcp_wmem') + max('tcp_rmem');
    return Number.isFinite(both) ? both : 8 * MiB;
  } catch {
    return 8 * MiB;
  }
})();
/** The streamed answer of the memory case: 2 GiB under npm test, more with UPSTREAM_STREAM_GIB (npm run fuzz sets none). */
const STREAM_BYTES = Number(process.env.UPSTREAM_STREAM_GIB ?? 2) * 1024 * MiB;

/** What the hostile stand-in did for one request. */
interface Served {
  model: string;
  /** Bytes its socket wrote (headers included) by the time the connection closed. */
  bytesWritten: number;
  /** The gateway closed the connection before the stand-in ended its answer. */
  cut: boolean;
}

type Behaviour = (res: ServerResponse, stop: () => boolean) => Promise<void> | void;

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `piece` as fast as the socket takes it, `count` times (Infinity: until cut). */
async function flood(res: ServerResponse, stop: () => boolean, piece: Buffer | string, count = Infinity): Promise<void> {
  for (let i = 0; i < count && !stop(); i++) {
    if (res.write(piece)) continue;
    await new Promise<void>((r) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        r();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}

/** Writes `piece` every `ms` until cut. */
async function trickle(res: ServerResponse, stop: () => boolean, piece: string, ms: number): Promise<void> {
  while (!stop()) {
    res.write(piece);
    await wait(ms);
  }
}

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

const behaviours: Record<string, Behaviour> = {
  // 300 MB of one JSON answer, generated on the fly.
  huge: async (res, stop) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
    await flood(res, stop, Buffer.alloc(MiB, 'a'), 300);
    res.end('"}}]}');
  },
  'line-before': async (res, stop) => {
    sse(res);
    res.write('data: ');
    await flood(res, stop, Buffer.alloc(64 * 1024, 'x'));
  },
  'line-after': async (res, stop) => {
    sse(res);
    res.write(chunk('first'));
    await wait(20);
    res.write('data: ');
    await flood(res, stop, Buffer.alloc(64 * 1024, 'x'));
  },
  // Many short data lines, each within the line limit, that never end the event.
  'event-before': async (res, stop) => {
    sse(res);
    await flood(res, stop, `data: ${'e'.repeat(1000)}\n`);
  },
  // A 6 MiB line (under the limit) in 1 KiB writes: a parser that re-scans what it holds would take minutes.
  'line-slow': async (res, stop) => {
    sse(res);
    res.write('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"');
    await flood(res, stop, Buffer.alloc(1024, 'y'), 6 * 1024);
    res.end('"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
  },
  'trickle-json': (res, stop) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    return trickle(res, stop, ' ', 100);
  },
  'trickle-sse': (res, stop) => {
    sse(res);
    return trickle(res, stop, ':', 100);
  },
  'stall-messages': async (res) => {
    sse(res);
    res.write(
      `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [], usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`,
    );
  },
  'stall-sse': async (res) => {
    sse(res);
    res.write(chunk('first'));
  },
  // STREAM_BYTES of 64 KiB chat chunks, then [DONE].
  'giga-stream': async (res, stop) => {
    sse(res);
    const block = Buffer.from(chunk('g'.repeat(64 * 1024 - 200)).repeat(16));
    await flood(res, stop, block, Math.ceil(STREAM_BYTES / block.length));
    res.end('data: [DONE]\n\n');
  },
  // A 1 MiB answer (parsed on a JSON thread) whose tool call arguments nest 100,000 deep, or that
  // holds a prototype key: not parsed again on the event loop.
  'deep-large': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${'d'.repeat(MiB)}"},"extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`);
  },
  'proto-large': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${'p'.repeat(MiB)}","__proto__":{"admin":true}}}]}`);
  },
  'endless-error': async (res, stop) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.write('{"error":{"message":"upstream broke","type":"server_error","code":null},"padding":"');
    await flood(res, stop, Buffer.alloc(64 * 1024, 'p'));
  },
};

let hostile: Server;
const served: Served[] = [];
let good: OpenAIStub;
let canary: CanaryListener;
let g: TestGateway;
let client: OpenAI;

async function startHostile(): Promise<string> {
  hostile = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const model = String((JSON.parse(Buffer.concat(parts).toString('utf8')) as { model?: string }).model);
      const rec: Served = { model, bytesWritten: 0, cut: false };
      served.push(rec);
      let closed = false;
      const socket = res.socket!;
      res.on('close', () => {
        closed = true;
        rec.cut = !res.writableFinished;
        rec.bytesWritten = socket.bytesWritten;
      });
      void behaviours[model]?.(res, () => closed);
    });
  });
  await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
}

const rule = (model: string, extra = '') => `    - name: ${model}\n      matches: [{ model: ${model} }]\n      targets: [{ backend: hostile }]\n${extra}`;
const noRetry = '      retry: { retries: 0 }\n';

beforeAll(async () => {
  const url = await startHostile();
  good = await startOpenAIStub();
  canary = await canaryListener();
  const cfg = config(
    docs(
      backendDoc('hostile', 'openai', url, '  circuitBreaker: { enabled: false }'),
      backendDoc('good', 'openai', good.url),
      backendDoc('hostile-anthropic', 'anthropic', url, '  circuitBreaker: { enabled: false }'),
      `kind: Route
metadata: { name: r }
spec:
  rules:
    - name: fine
      matches: [{ model: fine }]
      targets: [{ backend: good }]
${rule('huge', '      retry: { retries: 2, backoff: { base: 1ms, max: 5ms } }\n')}
    - name: huge-fallback
      matches: [{ model: huge-fallback }]
      targets: [{ backend: hostile, model: huge }]
      fallbacks: [{ backend: good, model: fine }]
${rule('line-before', noRetry)}
${rule('line-after', noRetry)}
${rule('event-before', noRetry)}
${rule('line-slow', noRetry)}
${rule('trickle-json', `${noRetry}      timeouts: { attempt: 500ms }\n`)}
${rule('trickle-sse', `${noRetry}      timeouts: { attempt: 500ms }\n`)}
    - name: trickle-request
      matches: [{ model: trickle-request }]
      targets: [{ backend: hostile, model: trickle-sse }]
      retry: { retries: 0 }
      timeouts: { attempt: 30s, request: 500ms }
${rule('stall-sse', `${noRetry}      timeouts: { streamIdle: 500ms }\n`)}
${rule('giga-stream', `${noRetry}      timeouts: { attempt: 10s, streamIdle: 10s }\n`)}
    - name: stall-messages
      matches: [{ model: stall-messages }]
      targets: [{ backend: hostile-anthropic }]
      retry: { retries: 0 }
      timeouts: { streamIdle: 500ms }
${rule('deep-large', noRetry)}
${rule('proto-large', noRetry)}
${rule('endless-error', '      retry: { retries: 2, backoff: { base: 1ms, max: 5ms } }\n')}`,
    ),
  );
  g = await startGateway(cfg);
  client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k', maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await g?.close();
  await good?.close();
  await canary?.close();
  hostile?.closeAllConnections();
  await new Promise<void>((r) => hostile?.close(() => r()));
});

const messages = [{ role: 'user' as const, content: 'hi' }];
const fail = async (p: Promise<unknown>) =>
  (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as InstanceType<typeof OpenAI.APIError>;

/** The gateway still answers a normal request, and nothing reached the canary. */
async function stillServes(): Promise<void> {
  const r = await client.chat.completions.create({ model: 'fine', messages });
  expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
  expect(canary.connections).toBe(0);
}

/** A streamed call through fetch: status, content type and the whole SSE text. */
async function streamCall(model: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages, stream: true }) });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const servedFor = (model: string) => served.filter((s) => s.model === model);

/** Waits for the stand-in to see its connections close (the gateway answers first). */
async function closed(model: string, n = 1): Promise<Served[]> {
  for (let i = 0; i < 500 && servedFor(model).filter((s) => s.bytesWritten > 0).length < n; i++) await wait(10);
  return servedFor(model);
}

describe('a whole answer past the body limit', () => {
  it('is refused with 502 upstream_response_too_large, once per backend, its connection closed, RSS not growing past the limit', async () => {
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const err = await fail(client.chat.completions.create({ model: 'huge', messages }));
    clearInterval(sampler);
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_response_too_large');
    expect(err.message).toMatch(/larger than the gateway accepts \(67108864 bytes\)/);
    const [one, ...more] = await closed('huge');
    // Not retried on the same backend (the route allows 2 retries), not drained: the stand-in
    // got to send the limit plus what the kernel's socket buffers hold, far from its 300 MB.
    expect(more).toHaveLength(0);
    expect(one.cut).toBe(true);
    expect(one.bytesWritten).toBeLessThan(ANSWER_LIMITS.maxBodyBytes + 16 * MiB);
    // Measured: +75 MB for a 64 MiB limit.
    expect(peak - base).toBeLessThan(ANSWER_LIMITS.maxBodyBytes + 96 * MiB);
    await stillServes();
  });

  it('falls back to the next backend', async () => {
    const r = await client.chat.completions.create({ model: 'huge-fallback', messages });
    expect(r.choices[0].message.content).toBe(DEFAULT_TEXT);
    await stillServes();
  });
});

describe('an SSE line or event past its limit', () => {
  it('before the first frame: 502 upstream_event_too_large in the envelope, the upstream connection closed', async () => {
    const r = await streamCall('line-before');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text)).toMatchObject({
      error: { code: 'upstream_event_too_large', type: 'api_error', message: expect.stringMatching(/event line larger than the gateway accepts \(8388608 bytes\)/) },
    });
    const [one] = await closed('line-before');
    expect(one.cut).toBe(true);
    expect(one.bytesWritten).toBeLessThan(ANSWER_LIMITS.maxLineBytes + 32 * MiB);
    await stillServes();
  });

  it('an event of many lines, each within the line limit: 502 upstream_event_too_large', async () => {
    const r = await streamCall('event-before');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.text)).toMatchObject({ error: { code: 'upstream_event_too_large', message: expect.stringMatching(/event event larger/) } });
    expect((await closed('event-before'))[0].cut).toBe(true);
    await stillServes();
  });

  it('after the first frame: the client gets what came before, then an error event in the OpenAI streaming shape, then the end', async () => {
    const r = await streamCall('line-after');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/text\/event-stream/);
    const frames = r.text.trim().split('\n\n');
    expect(JSON.parse(frames[0].slice(6)).choices[0].delta.content).toBe('first');
    expect(JSON.parse(frames.at(-1)!.slice(6))).toMatchObject({ error: { code: 'upstream_event_too_large', type: 'api_error' } });
    expect((await closed('line-after'))[0].cut).toBe(true);
    await stillServes();
  });
});

describe('the SSE parser is linear', () => {
  it('a 6 MiB line arriving in 1 KiB writes is delivered whole', async () => {
    const r = await streamCall('line-slow');
    expect(r.status).toBe(200);
    const frames = r.text.trim().split('\n\n');
    expect(JSON.parse(frames[0].slice(6)).choices[0].delta.content).toHaveLength(6 * MiB);
    expect(frames.at(-1)).toBe('data: [DONE]');
    await stillServes();
  });
});

describe('timeouts hold while an answer is read', () => {
  const attemptTimeouts = async () => Number(/tracegate_gateway_upstream_attempts_total\{backend="hostile",outcome="timeout"\} (\d+)/.exec(await g.gw.metrics.scrape())?.[1] ?? 0);

  it('a JSON answer trickling a byte every 100 ms is cut at the attempt timeout: 504, counted', async () => {
    const before = await attemptTimeouts();
    const err = await fail(client.chat.completions.create({ model: 'trickle-json', messages }));
    expect(err.status).toBe(504);
    expect(err.code).toBe('upstream_timeout');
    expect((await closed('trickle-json'))[0].cut).toBe(true);
    expect(await attemptTimeouts()).toBe(before + 1);
    await stillServes();
  });

  it('a stream trickling bytes that never make an event is cut at the attempt timeout: 504', async () => {
    const r = await streamCall('trickle-sse');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({ error: { code: 'upstream_timeout' } });
    expect((await closed('trickle-sse'))[0].cut).toBe(true);
    await stillServes();
  });

  it('… and at the request timeout when that comes first: 504', async () => {
    const n = servedFor('trickle-sse').length;
    const r = await streamCall('trickle-request');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text)).toMatchObject({ error: { code: 'upstream_timeout' } });
    expect((await closed('trickle-sse', n + 1))[n].cut).toBe(true);
    await stillServes();
  });

  it('a stream stalling after its first event is cut at the idle timeout: an error event, then the end', async () => {
    const r = await streamCall('stall-sse');
    expect(r.status).toBe(200);
    const frames = r.text.trim().split('\n\n');
    expect(JSON.parse(frames[0].slice(6)).choices[0].delta.content).toBe('first');
    expect(JSON.parse(frames.at(-1)!.slice(6))).toMatchObject({ error: { code: 'upstream_timeout', message: expect.stringMatching(/timed out/) } });
    expect((await closed('stall-sse'))[0].cut).toBe(true);
    await stillServes();
  });
});

describe('timeouts hold on /v1/messages too', () => {
  it("a Messages stream stalling after message_start ends with an error event in Anthropic's streaming shape", async () => {
    const res = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stall-messages', max_tokens: 10, messages, stream: true }),
    });
    expect(res.status).toBe(200);
    const frames = (await res.text()).trim().split('\n\n');
    expect(frames[0]).toMatch(/^event: message_start\n/);
    const last = frames.at(-1)!.split('\n');
    expect(last[0]).toBe('event: error');
    expect(JSON.parse(last[1].slice(6))).toMatchObject({ type: 'error', error: { type: 'timeout_error', message: expect.stringMatching(/timed out/) } });
    expect((await closed('stall-messages'))[0].cut).toBe(true);
    await stillServes();
  });
});

describe('a large answer the JSON thread cannot hand back', () => {
  it.each([
    ['deep-large', /nests deeper than 64 levels at \$\.choices\[0\]\.extra/],
    ['proto-large', /has a forbidden key "__proto__" at \$\.choices\[0\]\.message/],
  ])('%s: a 502 in the envelope naming what was wrong, not parsed again on the event loop', async (model, message) => {
    // (before: the gateway parsed the whole answer again on the event loop and answered 200)
    const e = await fail(client.chat.completions.create({ model, messages }));
    expect(e.status).toBe(502);
    expect(e.code, e.message).toBe('upstream_failed');
    expect(e.message).toMatch(message);
    expect(servedFor(model)).toHaveLength(1);
    await stillServes();
  });
});

describe('an error body', () => {
  it('is read up to its limit on each attempt, never downloaded whole: the retries end in a 502 within the budget', async () => {
    const err = await fail(client.chat.completions.create({ model: 'endless-error', messages }));
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_failed');
    expect(err.message).toMatch(/every attempt failed \(3 attempts\)/);
    const attempts = await closed('endless-error', 3);
    expect(attempts).toHaveLength(3);
    for (const a of attempts) {
      expect(a.cut).toBe(true);
      // 64 KiB kept; the rest is what the socket buffers took before the connection closed: 3.8 MB
      // measured alone, 8.7 MB once on a loaded box, as Linux grows loopback buffers up to the
      // largest send and receive buffers it allows
      expect(a.bytesWritten).toBeLessThan(SOCKET_BUFFERS_MAX + MiB);
    }
    await stillServes();
  });
});

describe('memory stays bounded', () => {
  it(`a ${STREAM_BYTES / 1024 / MiB} GiB streamed answer read by a client: RSS stays under +200 MB throughout`, async () => {
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'giga-stream', messages, stream: true }),
    });
    expect(res.status).toBe(200);
    let bytes = 0;
    let tail = '';
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += c.length;
      tail = (tail + Buffer.from(c).toString('latin1')).slice(-64);
    }
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`upstream memory case: ${(bytes / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${(bytes / MiB / seconds).toFixed(0)} MiB/s), RSS peak +${((peak - base) / MiB).toFixed(0)} MiB`);
    expect(bytes).toBeGreaterThanOrEqual(STREAM_BYTES);
    expect(tail.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(peak - base).toBeLessThan(200 * MiB);
    await stillServes();
  }, 120_000);
});
