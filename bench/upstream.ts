/**
 * `npm run bench -- upstream [--gib N] [--event-kib K]`: a multi-GB streamed answer through the
 * gateway. A loopback provider sends N GiB (default 3) of OpenAI chat chunks of K KiB (default
 * 64) as fast as the gateway takes them; a client reads the stream through the gateway and drops
 * it. Prints MiB/s end to end and the peak RSS over the baseline (sampled every 20 ms; provider,
 * gateway and client share this process), and saves them to bench/results/upstream.json.
 * The test suite's version of this (test/security/upstream.test.ts) streams 1 GiB.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { backendDoc, config, docs, startGateway } from '../test/gateway/helpers.js';

const MiB = 1024 * 1024;

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

/** Sends `total` bytes of `block`, waiting for drain, then [DONE]. */
async function send(res: ServerResponse, block: Buffer, total: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let gone = false;
  res.once('close', () => (gone = true));
  for (let sent = 0; sent < total && !gone; sent += block.length) {
    if (!res.write(block)) await new Promise((r) => res.once('drain', r));
  }
  res.end('data: [DONE]\n\n');
}

export async function main(args: string[]): Promise<void> {
  const total = arg(args, '--gib', 3) * 1024 * MiB;
  const eventBytes = arg(args, '--event-kib', 64) * 1024;
  const frame = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'b'.repeat(Math.max(1, eventBytes - 160)) }, finish_reason: null }] })}\n\n`;
  const block = Buffer.from(frame.repeat(Math.max(1, Math.floor(MiB / frame.length))));
  const provider = createServer((req, res) => {
    req.resume();
    req.on('end', () => void send(res, block, total));
  });
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  const g = await startGateway(
    config(docs(backendDoc('p', 'openai', url), 'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - name: big\n      matches: [{ model: big }]\n      targets: [{ backend: p }]\n')),
  );
  try {
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'big', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    let bytes = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) bytes += c.length;
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const figures = {
      status: res.status,
      mib: Math.round(bytes / MiB),
      eventBytes: frame.length,
      seconds: Math.round(seconds * 10) / 10,
      mibPerSecond: Math.round(bytes / MiB / seconds),
      rssBaseMiB: Math.round(base / MiB),
      rssPeakOverBaseMiB: Math.round((peak - base) / MiB),
    };
    process.stdout.write(
      `${figures.mib} MiB streamed (status ${figures.status}, events of ${figures.eventBytes} B) in ${figures.seconds} s: ${figures.mibPerSecond} MiB/s; RSS ${figures.rssBaseMiB} MiB at start, peak +${figures.rssPeakOverBaseMiB} MiB\n`,
    );
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'upstream.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ node: process.version, at: new Date().toISOString(), figures }, null, 2)}\n`);
    process.stdout.write(`saved ${out}\n`);
  } finally {
    await g.close();
    provider.closeAllConnections();
    await new Promise<void>((r) => provider.close(() => r()));
  }
}
