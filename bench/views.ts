/**
 * `npm run bench -- views`: what one refresh of the count-once view costs on the embedded engine,
 * by traffic shape, with `--calls` calls in the refresh's window (100,000), for the current
 * definition (migration 0052) and the one it replaced (0004).
 *
 *   gateway-only   gateway calls without a caller's traceparent (a trace each) and their attempt spans
 *   app-only       applications' LLM spans, no gateway
 *   pairs-new      calls recorded by the application and by the gateway, none decided yet
 *   pairs-steady   the same calls decided by the previous refresh, and 1% new ones just arrived
 *                  (a steady rate: the window holds the last minutes of calls, nearly all decided)
 *
 * `--history N` first adds N spans of decided calls from the past week, inserted a day ago (a
 * store in use for a while; default 0).
 *
 * A refresh is `INSERT INTO llm_spans_data SELECT <the view's query>`, which is what the engine
 * runs every 5 seconds; here it is run by hand on its own database (the scheduled views stopped),
 * each round on fresh data. Figures: the median over `--rounds` rounds (3), in milliseconds.
 * The spans are the test suite's builders (test/helpers/spans.ts), the shapes the gateway and
 * the OpenInference instrumentations write.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, migrate, renderMigration } from '../schemas/migrate.js';
import type { SpanRecord } from '../collector/model.js';
import { attemptSpan, gatewaySpan, insertSpans, llmSpan, ns } from '../test/helpers/spans.js';

const SCENARIOS = ['gateway-only', 'app-only', 'pairs-new', 'pairs-steady'] as const;
type Scenario = (typeof SCENARIOS)[number];
const DEFINITIONS = { '0052': 52, '0004': 4 } as const;
type Definition = keyof typeof DEFINITIONS;

/** The SELECT of the count-once view as migration `version` creates it in database `db`. */
function viewQuery(version: number, db: string): string {
  const migration = loadMigrations().find((m) => m.version === version)!;
  const view = renderMigration(migration, { ...DEFAULT_SCHEMA_SETTINGS, database: db }).find((st) => st.startsWith('CREATE MATERIALIZED VIEW'))!;
  return view.slice(view.indexOf(' AS\n') + 4);
}

function calls(scenario: Scenario, n: number, at: number): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let i = 0; i < n; i++) {
    const start = ns(at + i);
    if (scenario === 'gateway-only') {
      const g = gatewaySpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 230, completion: 7 }, start, route: 'all' });
      out.push(g, attemptSpan({ traceId: g.traceId, parentSpanId: g.spanId, backend: 'upstream', start, durationMs: 1 }));
    } else if (scenario === 'app-only') {
      out.push(llmSpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 90, completion: 10 }, start, serviceName: 'app' }));
    } else {
      const a = llmSpan({ model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 90, completion: 10 }, start, serviceName: 'app' });
      const g = gatewaySpan({ traceId: a.traceId, parentSpanId: a.spanId, model: 'gpt-4o-mini', provider: 'openai', usage: { prompt: 100, completion: 20 }, start, route: 'all' });
      out.push(a, g, attemptSpan({ traceId: g.traceId, parentSpanId: g.spanId, backend: 'upstream', start, durationMs: 1 }));
    }
  }
  return out;
}

async function load(store: Store & { database: string }, spans: SpanRecord[]): Promise<void> {
  for (let i = 0; i < spans.length; i += 20_000) await insertSpans(store, spans.slice(i, i + 20_000));
}

/** One refresh by hand: the view's query appended to llm_spans_data. Its time and the rows written. */
async function refresh(store: Store, db: string, definition: Definition): Promise<{ ms: number; rows: number }> {
  const query = viewQuery(DEFINITIONS[definition], db);
  const described = await store.client.query({ query: `DESCRIBE (${query})`, format: 'JSONEachRow' });
  const columns = (await described.json<{ name: string }>()).map((c) => `\`${c.name}\``).join(', ');
  const before = await count(store, db);
  const t0 = performance.now();
  await store.client.command({ query: `INSERT INTO ${db}.llm_spans_data (${columns}) ${query}` });
  const ms = performance.now() - t0;
  return { ms, rows: (await count(store, db)) - before };
}

async function count(store: Store, db: string): Promise<number> {
  const rs = await store.client.query({ query: `SELECT count() AS n FROM ${db}.llm_spans_data`, format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0].n);
}

/**
 * `spans` spans of decided calls (an application span and the gateway span under it) spread over
 * the past week, written through otel_traces and its insert-time views, then aged a day.
 */
async function addHistory(store: Store, db: string, spans: number): Promise<void> {
  for (let off = 0; off < spans; off += 500_000) {
    await store.client.command({
      query: `INSERT INTO ${db}.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, SpanAttributes, Duration)
        SELECT now64(9) - toIntervalSecond(120 + (number DIV 2) % 604800),
          lower(hex(cityHash64(number DIV 2, 'a'))) || lower(hex(cityHash64(number DIV 2, 'b'))),
          lower(hex(cityHash64(number, 's'))),
          if(number % 2 = 1, lower(hex(cityHash64(number - 1, 's'))), ''),
          'chat gpt-4o-mini', 'Client', if(number % 2 = 1, 'tracegate-gateway', 'app'),
          if(number % 2 = 1,
             map('openinference.span.kind', 'LLM', 'tracegate.origin', 'gateway', 'llm.model_name', 'gpt-4o-mini', 'llm.token_count.prompt', '100', 'llm.token_count.completion', '20'),
             map('openinference.span.kind', 'LLM', 'llm.model_name', 'gpt-4o-mini', 'llm.token_count.prompt', '90', 'llm.token_count.completion', '10')),
          800000000
        FROM numbers(${off}, ${Math.min(500_000, spans - off)})`,
    });
  }
  await refresh(store, db, '0052');
  await store.client.command({ query: `ALTER TABLE ${db}.llm_spans_data UPDATE inserted_at = inserted_at - INTERVAL 1 DAY WHERE 1 SETTINGS mutations_sync = 2` });
}

async function run(store: Store, scenario: Scenario, definition: Definition, n: number, round: number, history: number): Promise<{ ms: number; rows: number }> {
  const db = `bench_views_${scenario.replace('-', '_')}_${definition}_${round}`;
  await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: db });
  // Only the refreshes run here are measured: the scheduled ones stop.
  await store.client.command({ query: 'SYSTEM STOP VIEWS' });
  const target = { ...store, database: db };
  try {
    if (history > 0) await addHistory(store, db, history);
    const now = Date.now();
    const shape = scenario === 'pairs-steady' ? 'pairs-new' : scenario;
    await load(target, calls(shape, n, now - 120_000));
    if (scenario === 'pairs-steady') {
      await refresh(store, db, definition);
      await load(target, calls('pairs-new', Math.ceil(n / 100), now));
    }
    return await refresh(store, db, definition);
  } finally {
    await store.client.command({ query: `DROP DATABASE IF EXISTS ${db} SYNC` });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function main(args: string[]): Promise<void> {
  const opt = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const n = opt('calls', 100_000);
  const rounds = opt('rounds', 3);
  const history = opt('history', 0);
  const dataDir = mkdtempSync(join(tmpdir(), 'tracegate-bench-views-'));
  const store = await openStore({ kind: 'embedded', dataDir, database: 'tracegate' });
  const results: Record<string, Record<string, { refresh_ms: number; per_round_ms: number[]; rows_written: number }>> = {};
  try {
    for (const scenario of SCENARIOS) {
      results[scenario] = {};
      for (const definition of Object.keys(DEFINITIONS) as Definition[]) {
        const runs = [];
        for (let r = 0; r < rounds; r++) runs.push(await run(store, scenario, definition, n, r, history));
        const ms = runs.map((x) => Math.round(x.ms));
        results[scenario][definition] = { refresh_ms: median(ms), per_round_ms: ms, rows_written: runs[0].rows };
        process.stdout.write(`${scenario.padEnd(13)} ${definition}  ${String(median(ms)).padStart(6)} ms  (rounds ${ms.join(', ')}; ${runs[0].rows} rows written)\n`);
      }
    }
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const out = {
    calls: n,
    history_spans: history,
    rounds,
    how: 'one refresh of llm_spans_count_once run by hand (INSERT … SELECT of the view query) on fresh data per round; median of the rounds',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
    scenarios: results,
  };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, history > 0 ? 'views-history.json' : 'views.json'), `${JSON.stringify(out, null, 1)}\n`);
  process.stdout.write(`saved bench/results/${history > 0 ? 'views-history.json' : 'views.json'}\n`);
}
