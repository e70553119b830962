/**
 * `npm run bench -- sqlapi [--seconds 10] [--batch 200] [--senders 4]`: spans stored per second
 * by the collector (OTLP/HTTP JSON in, otel_traces out) on the embedded store, alone and while
 * the SQL interface runs its heaviest allowed queries (as many as it takes at once, each a scan
 * that runs to max_execution_time). Prints both and saves bench/results/sqlapi.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildCollector } from '../collector/collector.js';
import { parseCollectorConfig } from '../collector/config.js';
import { openStore, type Store } from '../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../schemas/migrate.js';
import { buildSqlInterface } from '../sqlapi/index.js';

const HEAVY = 'SELECT sum(number) FROM numbers(100000000000)';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/** One OTLP/JSON request of `n` LLM spans with fresh ids. */
function batch(n: number): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    name: 'chat',
    kind: 3,
    startTimeUnixNano: String(now + BigInt(i)),
    endTimeUnixNano: String(now + BigInt(i) + 5_000_000n),
    attributes: [
      { key: 'openinference.span.kind', value: { stringValue: 'LLM' } },
      { key: 'llm.model_name', value: { stringValue: 'gpt-4o-mini' } },
      { key: 'llm.token_count.prompt', value: { intValue: '120' } },
      { key: 'llm.token_count.completion', value: { intValue: '40' } },
    ],
  }));
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] }, scopeSpans: [{ spans }] }] });
}

async function storedSpans(store: Store): Promise<number> {
  const rs = await store.client.query({ query: "SELECT count() AS n FROM tracegate.otel_traces WHERE ServiceName = 'bench'", format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0].n);
}

/** Sends for `seconds`, then waits until every accepted span is stored; spans stored per second. */
async function ingest(url: string, store: Store, o: { seconds: number; batch: number; senders: number }): Promise<{ spans: number; seconds: number; perSecond: number }> {
  const before = await storedSpans(store);
  const started = performance.now();
  const until = started + o.seconds * 1000;
  let sent = 0;
  await Promise.all(
    Array.from({ length: o.senders }, async () => {
      while (performance.now() < until) {
        const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch(o.batch) });
        await res.arrayBuffer();
        if (res.ok) sent += o.batch;
      }
    }),
  );
  while ((await storedSpans(store)) - before < sent) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - started) / 1000;
  return { spans: sent, seconds: Number(seconds.toFixed(2)), perSecond: Math.round(sent / seconds) };
}

export async function main(args: string[]): Promise<void> {
  const o = { seconds: flag(args, 'seconds', 10), batch: flag(args, 'batch', 200), senders: flag(args, 'senders', 4) };
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-bench-sqlapi-'));
  const store = await openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tracegate' });
  await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: 'tracegate' });
  const collector = buildCollector(parseCollectorConfig({ grpc: { enabled: false }, http: { host: '127.0.0.1', port: 0 }, spool: { dir: join(dir, 'spool') } }), { store, logLevel: false });
  const { http } = await collector.start();
  const url = `http://${http!.host}:${http!.port}`;
  const sql = buildSqlInterface({ store, port: 0, maxExecutionTime: 60 });
  const { url: sqlUrl } = await sql.listen();
  try {
    await ingest(url, store, { ...o, seconds: 2 }); // warm-up
    const alone = await ingest(url, store, o);
    // The heaviest allowed: as many scans at once as the interface takes, restarted as each ends.
    const stop = new AbortController();
    let queries = 0;
    const slots = Array.from({ length: 2 }, async () => {
      while (!stop.signal.aborted) {
        queries += 1;
        const res = await fetch(`${sqlUrl}/?max_execution_time=${o.seconds + 30}`, { method: 'POST', body: HEAVY, signal: stop.signal }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const withQueries = await ingest(url, store, o);
    stop.abort(); // the clients go away: the interface kills their scans
    await Promise.all(slots);
    const result = { ...o, alone, withHeavyQueries: { ...withQueries, concurrentQueries: 2, queryStarts: queries }, ratio: Number((withQueries.perSecond / alone.perSecond).toFixed(3)) };
    process.stdout.write(
      `ingest alone:                  ${alone.perSecond} spans/s (${alone.spans} spans in ${alone.seconds} s)\n` +
        `ingest with 2 heavy SQL scans: ${withQueries.perSecond} spans/s (${withQueries.spans} spans in ${withQueries.seconds} s)\n` +
        `ratio: ${result.ratio}\n`,
    );
    const out = join(import.meta.dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'sqlapi.json'), `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
  } finally {
    await sql.close();
    await collector.shutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
