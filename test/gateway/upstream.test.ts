/**
 * The upstream transport on its own, against a loopback node:http server: whole bodies and
 * streamed ones, the body limits (truncate or refuse, never drain), backpressure, aborts at every stage, and keep-alive reuse.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Abort } from '../../gateway/proxy/abort.js';
import { bodyOf, dispatcherTransport, UpstreamBodyTooLarge, type Transport } from '../../gateway/upstream.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(parts).toString('utf8')));
  });
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

let pool: Pool;
let transport: Transport;
const fresh = () => {
  pool = new Pool(base, { connections: 1, pipelining: 1 });
  transport = dispatcherTransport(pool, true);
  connections = 0;
};
afterEach(async () => {
  await transport.close().catch(() => {});
});

const call = (signal: AbortSignal, body = '{"x":1}') => ({ url: `${base}/v1/chat/completions`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body, signal });
const gone = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dispatcherTransport', () => {
  it('sends the body and headers, answers with status, parsed headers and the whole text, on one kept-alive connection', async () => {
    fresh();
    handler = (req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-echo-type': String(req.headers['content-type']), 'set-cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify({ got: JSON.parse(body), method: req.method, url: req.url }));
    };
    for (let i = 0; i < 3; i++) {
      const a = await transport.request(call(new Abort().signal, `{"i":${i}}`));
      expect(a.status).toBe(201);
      expect(a.headers['x-echo-type']).toBe('application/json');
      expect(a.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(JSON.parse(await a.body.text())).toEqual({ got: { i }, method: 'POST', url: '/v1/chat/completions' });
    }
    expect(connections).toBe(1);
  });

  it('truncates a body at `limit` bytes and closes its connection instead of draining the rest', async () => {
    fresh();
    let closed = false;
    handler = (req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write('a'.repeat(1000));
      req.socket.on('close', () => (closed = true));
    };
    const a = await transport.request(call(new Abort().signal));
    expect(await a.body.text(100, 'truncate')).toBe('a'.repeat(100));
    for (let i = 0; i < 100 && !closed; i++) await gone(10);
    expect(closed).toBe(true);
    // A body within its limit keeps the connection for the next exchange.
    handler = (_req, res) => res.end('ok');
    expect(await (await transport.request(call(new Abort().signal))).body.text(2, 'truncate')).toBe('ok');
    expect(await (await transport.request(call(new Abort().signal))).body.text(2)).toBe('ok');
    expect(connections).toBe(2);
  });

  it('rejects a body past `limit` with UpstreamBodyTooLarge, whether it arrived before or after text() was called', async () => {
    fresh();
    handler = (_req, res) => res.end('x'.repeat(5000));
    const early = await transport.request(call(new Abort().signal));
    await gone(30);
    await expect(early.body.text(100)).rejects.toBeInstanceOf(UpstreamBodyTooLarge);
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('y'.repeat(50));
      setTimeout(() => res.end('y'.repeat(100)), 20);
    };
    const late = await transport.request(call(new Abort().signal));
    await expect(late.body.text(100)).rejects.toThrow(/exceeded 100 bytes/);
  });

  it('streams chunks in order, pausing the socket while the reader is behind', async () => {
    fresh();
    const piece = Buffer.alloc(16 * 1024, 'z');
    const count = 1024;
    let sent = 0;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pump = () => {
        while (sent < count) {
          sent++;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('END');
      };
      pump();
    };
    const a = await transport.request(call(new Abort().signal));
    let size = 0;
    let last = '';
    let sentWhileAway = -1;
    for await (const c of a.body) {
      size += c.length;
      last = c.toString('utf8').slice(-3);
      if (sentWhileAway < 0) {
        // The reader is away for a while: a paused socket keeps the server from sending all 16 MB.
        await gone(300);
        sentWhileAway = sent;
      }
    }
    expect(size).toBe(count * piece.length + 3);
    expect(last).toBe('END');
    expect(sentWhileAway).toBeLessThan(count);
  });

  it('rejects with the signal reason when aborted before the answer', async () => {
    fresh();
    handler = () => {};
    const ac = new Abort();
    const p = transport.request(call(ac.signal));
    await gone(30);
    const reason = Symbol('timeout');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it('rejects at once when the signal is already aborted', async () => {
    fresh();
    const ac = new Abort();
    ac.abort('early');
    await expect(transport.request(call(ac.signal))).rejects.toBe('early');
  });

  it('fails a body being read when aborted mid-body, and a later exchange still works', async () => {
    fresh();
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    };
    const ac = new Abort();
    const a = await transport.request(call(ac.signal));
    const it = a.body[Symbol.asyncIterator]();
    expect(String((await it.next()).value)).toBe('data: 1\n\n');
    const next = it.next();
    ac.abort('client gone');
    await expect(next).rejects.toBe('client gone');
    const ac2 = new Abort();
    const b = await transport.request(call(ac2.signal));
    const t = b.body.text();
    ac2.abort('late');
    await expect(t).rejects.toBe('late');
    handler = (_req, res) => res.end('fine');
    expect(await (await transport.request(call(new Abort().signal))).body.text()).toBe('fine');
  });

  it('stops the exchange when a reader leaves a stream early', async () => {
    fresh();
    let closed = false;
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      const t = setInterval(() => res.write('data: more\n\n'), 5);
      res.on('close', () => {
        closed = true;
        clearInterval(t);
      });
      req.socket.on('close', () => clearInterval(t));
    };
    const a = await transport.request(call(new Abort().signal));
    for await (const c of a.body) {
      expect(String(c)).toContain('data: 1');
      break;
    }
    for (let i = 0; i < 100 && !closed; i++) await gone(10);
    expect(closed).toBe(true);
  });

  it('rejects with a connection error when nothing listens', async () => {
    const dead = new Pool('http://127.0.0.1:1', { connections: 1 });
    const t = dispatcherTransport(dead, true);
    const err = await t.request({ ...call(new Abort().signal), url: 'http://127.0.0.1:1/v1/x' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    await t.close();
  });
});

describe('bodyOf', () => {
  it('reads bytes in hand or an iterator, whole or in chunks, once', async () => {
    expect(await bodyOf(Buffer.from('hello')).text()).toBe('hello');
    async function* gen() {
      yield Buffer.from('a');
      yield Buffer.from('b');
    }
    const chunks: string[] = [];
    for await (const c of bodyOf(gen())) chunks.push(String(c));
    expect(chunks).toEqual(['a', 'b']);
    expect(await bodyOf(gen()).text(1, 'truncate')).toBe('a');
    await expect(bodyOf(gen()).text(1)).rejects.toBeInstanceOf(UpstreamBodyTooLarge);
    await expect(bodyOf(Buffer.from('ab')).text(1)).rejects.toBeInstanceOf(UpstreamBodyTooLarge);
    const b = bodyOf(Buffer.from('x'));
    await b.text();
    await expect(b.text()).rejects.toThrow(/already read/);
  });
});
