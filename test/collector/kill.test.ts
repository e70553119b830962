import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { openStore } from '../../common/store.js';
import { encodeRequest, ids } from './otlp-encode.js';

const dir = mkdtempSync(join(tmpdir(), 'tracegate-kill-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The collector as its own process (the CLI), so it can be killed for real. */
async function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/tracegate.ts', 'collector', '--data', join(dir, 'data'), '--spool', join(dir, 'spool'), '--grpc-port', '0', '--http-port', '0', '--log-level', 'warn'],
    {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /OTLP\/HTTP\s+(http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`collector exited with ${code}`)));
  });
  return { child, url };
}

async function send(url: string, body: Buffer): Promise<boolean> {
  try {
    const res = await request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    await res.body.arrayBuffer();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

describe('a collector killed with SIGKILL mid-stream', () => {
  it('after a restart the table holds exactly the spans it acknowledged', async () => {
    const requests = Array.from({ length: 60 }, () =>
      encodeRequest(
        'killed',
        Array.from({ length: 25 }, (_, i) => ({ ...ids(), name: `s${i}`, attributes: { pad: 'p'.repeat(500) } })),
      ),
    );
    let { child, url } = await startChild();
    const acked = new Set<number>();
    // Four senders in parallel; the kill lands while requests are in flight.
    let next = 0;
    const sender = async () => {
      while (next < 30) {
        const i = next++;
        if (await send(url, requests[i])) acked.add(i);
      }
    };
    const killer = (async () => {
      while (acked.size < 10) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
    })();
    await Promise.all([sender(), sender(), sender(), sender(), killer]);
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    ({ child, url } = await startChild());
    // The sender retries what was not acknowledged, then sends the rest.
    for (let i = 0; i < requests.length; i++) {
      if (!acked.has(i) && (await send(url, requests[i]))) acked.add(i);
    }
    expect(acked.size).toBe(requests.length);
    for (let t = 0; t < 200; t++) {
      const metrics = await (await request(`${url}/metrics`)).body.text();
      if (/tracegate_collector_queue_spans 0\b/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' });
    try {
      const rs = await store.client.query({ query: `SELECT count() AS n, uniqExact(SpanId) AS u FROM tracegate.otel_traces WHERE ServiceName = 'killed'`, format: 'JSONEachRow' });
      const [row] = await rs.json<{ n: string; u: string }>();
      expect(Number(row.u)).toBe(requests.length * 25);
      expect(Number(row.n)).toBe(requests.length * 25);
    } finally {
      await store.close();
    }
  }, 120_000);
});
