/**
 * `npm run bench -- sse [--mb N]`: how fast the SSE parser (gateway/sse.ts) turns upstream bytes
 * into events, in MB/s, for the shapes an upstream can send:
 *
 *   chat-16k      OpenAI chat chunks (~230 bytes each) arriving in 16 KiB reads (the common case)
 *   chat-1b       the same stream one byte per read (a trickling or hostile upstream)
 *   line-64k      one `data:` line of 4 MiB without a newline until its end, in 64 KiB reads
 *   line-1k       the same line in 1 KiB reads (a parser that re-scans what it holds is quadratic here)
 *   line-1b       a 1 MiB line one byte per read
 *
 * `--mb` sets the size of the chat streams (default 64; chat-1b uses a sixteenth of it).
 * Figures: the best of 3 rounds; saved to bench/results/sse.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../gateway/sse.js';

const MiB = 1024 * 1024;

function chatStream(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const frame = `data: {"id":"chatcmpl-${i}","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"token ${i} of the answer"},"finish_reason":null}]}\n\n`;
    parts.push(frame);
    size += frame.length;
  }
  return Buffer.from(parts.join(''), 'utf8');
}

function giantLine(bytes: number): Buffer {
  const b = Buffer.alloc(bytes + 8, 'x');
  b.write('data: ', 0, 'latin1');
  b.write('\n\n', bytes + 6, 'latin1');
  return b;
}

/** Seconds to parse `bytes` delivered in reads of `read` bytes, and the events seen. */
function parseOnce(bytes: Buffer, read: number): { seconds: number; events: number } {
  const p = new SseParser({ maxLineBytes: 16 * MiB, maxEventBytes: 16 * MiB });
  let events = 0;
  const t0 = performance.now();
  for (let at = 0; at < bytes.length; at += read) events += p.push(bytes.subarray(at, at + read)).length;
  events += p.end().length;
  return { seconds: (performance.now() - t0) / 1000, events };
}

interface Figure {
  case: string;
  bytes: number;
  read: number;
  events: number;
  mbPerSecond: number;
}

function measure(name: string, bytes: Buffer, read: number): Figure {
  let best = Infinity;
  let events = 0;
  for (let round = 0; round < 3; round++) {
    const r = parseOnce(bytes, read);
    best = Math.min(best, r.seconds);
    events = r.events;
  }
  const fig = { case: name, bytes: bytes.length, read, events, mbPerSecond: Math.round((bytes.length / MiB / best) * 10) / 10 };
  process.stdout.write(`${name.padEnd(10)} ${String(bytes.length).padStart(10)} B  reads of ${String(read).padStart(6)} B  ${String(events).padStart(8)} events  ${fig.mbPerSecond} MB/s\n`);
  return fig;
}

export async function main(args: string[]): Promise<void> {
  const i = args.indexOf('--mb');
  const mb = i >= 0 ? Number(args[i + 1]) : 64;
  const chat = chatStream(mb * MiB);
  const figures = [
    measure('chat-16k', chat, 16 * 1024),
    measure('chat-1b', chat.subarray(0, Math.floor(chat.length / 16)), 1),
    measure('line-64k', giantLine(4 * MiB), 64 * 1024),
    measure('line-1k', giantLine(4 * MiB), 1024),
    measure('line-1b', giantLine(MiB), 1),
  ];
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'sse.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ node: process.version, at: new Date().toISOString(), figures }, null, 2)}\n`);
  process.stdout.write(`saved ${out}\n`);
}
