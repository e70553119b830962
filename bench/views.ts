/**
 * `npm run bench -- views`: the count-once design of migrations 0054-0056, 0071-0081 (README,
 * "Count once, at every moment") on a store with history, under a steady stream of paired calls.
 *
 * 1. History: `--history N` decided calls (1,000,000), each an application's LLM span and the
 *    gateway's span under it (traceparent), spread over the last 29 days (`--history-hours`), four models, five teams;
 *    every three consecutive calls are one agent run, a trace under an AGENT span (three agents, one run in fifty failed).
 *    They are written by INSERT … SELECT from numbers() straight into otel_traces, so the
 *    insert-time views (call_keys_mv, llm_spans_mv, …) fire as for a collector's insert, in chunks
 *    of `--chunk` calls (100,000; a chunk is a contiguous stretch of time). The decision of each chunk is written as the decider writes it
 *    for a traceparent pair (a new version of both rows: the application's uncounted and superseded
 *    by the gateway's, which is billed to the application's service; the application's row takes
 *    the gateway's team and key), by one INSERT … SELECT (the decider itself, on a million pairs at
 *    once, is not what is measured here). Then the rollups: usage_minutely's rows by the
 *    statement of its live view (0056) over every minute at once (its refresh, which tests rows
 *    against the open minutes with has(), takes minutes on a month of minutes), one
 *    agent_runs refresh, one usage_hourly refresh (0077) over every hour and one usage_daily
 *    refresh (0080) over every day.
 *    Then the tables with history are merged (OPTIMIZE … FINAL), as a month of background merges
 *    would have them in a store in use (`--no-merge` skips it): reads pay per part, and the
 *    loader's chunks leave 80-160 parts a table.
 * 2. Idle: after 32 s (the decider's window moved past the history), one batch of calls and
 *    every refresh (the rollups' windows move past the history, as in a store in use); then
 *    readers over the history with nothing arriving (`--idle` seconds, 15).
 * 3. Traffic: the scheduled views running (the decider every 2 s, the rollups every 5 s),
 *    `--rate` paired calls a second (1,000) for `--seconds` (20), inserted every `--batch-ms` (200)
 *    as a collector would insert: `--by-id` of them (0.2) recorded without traceparent, paired by
 *    response id (the gateway's span in a trace of its own, the application's span one batch
 *    later), the rest an application span and the gateway span under it, in one batch.
 *    Meanwhile: every refresh of the decider (system.view_refreshes: its duration and when it
 *    ran), and readers in turn, a round every `--read-every` ms (1,000, a dashboard refreshing
 *    each second; 0 runs them back to back), each query's latency:
 *      llm_spans   SELECT sum(cost_total), count() FROM llm_spans WHERE timestamp >= now() - INTERVAL 1 HOUR AND counted
 *      usage       queryUsage(--since 30d --by model,team), what `tracegate usage` runs
 *      runs        the agents dashboard's "Runs" stat over the last hour (agent_runs)
 *      run         one run by trace id (agent_runs, as feedback and `tracegate demo` read it)
 *    After the traffic, the time until every call is decided and each reader's totals are checked
 *    (every live call counted once); the readers again at once, and `--long-after` seconds (100)
 *    after the traffic, once every window has closed (0081), with what is still open then.
 * 4. Beside them, once each (`--raw-rounds`, 3): the usage query over the raw table (llm_spans,
 *    30 days by model, team) and the 0052 design's figures from the previous benchmark run.
 * 5. The dashboards (views-panels.ts): every panel of every board but the trace view, variables at
 *    All, over the last 30 days and the last day, idle after the long wait; `--panels-only` with
 *    `--reuse --keep DIR` times them alone on a kept store (every refresh run to its end, then
 *    stopped while the panels run), after writing over its calls what the
 *    loader does not (`--outcome-share` of the gateway's calls with retries, fallbacks, skips or
 *    refusals, 0.01; `--score-share` of the calls with a judge's score, 0.05, and twice as many
 *    with a heuristic finding).
 * 6. The decider alone (deciderAlone): its window full of decided calls, then three runs, each
 *    over 2 s of calls at `--rate`; its margin is its 2 s interval over a run.
 *
 * Figures in milliseconds, p50/p95 over the phase; saved to bench/results/views.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type Store } from '../common/store.js';
import { parseUsageParams, queryUsage } from '../common/usage.js';
import { DEFAULT_SCHEMA_SETTINGS, loadMigrations, type Migration, migrate, renderMigration } from '../schemas/migrate.js';
import { fillSparse, PANEL_TARGET_MS, panelSummary, printPanels, timePanels } from './views-panels.js';

const DB = 'bench_views';
const VIEWS = ['llm_spans_count_once', 'usage_minutely_refresh', 'usage_hourly_refresh', 'usage_daily_refresh', 'agent_runs_refresh', 'evaluations_linked_refresh'] as const;
const MODELS = "['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku', 'claude-sonnet-4']";

/**
 * The otel_traces rows of calls: `c` the call's number, `gw` 1 for the gateway's span, `byid` 1
 * for a call without traceparent (paired by response id), `ts` its start, all columns of `source`.
 * Span ids encode the call (the application's 1…, the gateway's 2…) so that a call's two spans
 * are known without a join. With `inRuns`, call c is a step of agent run intDiv(c, 3): its trace
 * is the run's and the application's span is under the run's AGENT span (agentSpansSelect).
 */
function spansSelect(source: string, inRuns = false): string {
  const trace = inRuns ? runTrace('intDiv(c, 3)') : `lower(hex(cityHash64(c, 't'))) || lower(hex(cityHash64(c, 'u')))`;
  return `SELECT ts AS Timestamp,
    if(gw AND byid, lower(hex(cityHash64(c, 'g'))) || lower(hex(cityHash64(c, 'h'))), ${trace}) AS TraceId,
    lower(hex(c + if(gw, 0x2000000000000000, 0x1000000000000000))) AS SpanId,
    if(gw AND NOT byid, lower(hex(c + 0x1000000000000000)), ${inRuns ? 'lower(hex(intDiv(c, 3) + 0x3000000000000000))' : "''"}) AS ParentSpanId,
    'chat ' || model AS SpanName,
    if(gw, 'Server', 'Client') AS SpanKind,
    if(gw, 'tracegate-gateway', 'app') AS ServiceName,
    map('openinference.span.kind', 'LLM',
        'tracegate.origin', if(gw, 'gateway', ''),
        'tracegate.team', if(gw, 'team-' || toString(c % 5), ''),
        'tracegate.key', if(gw, 'key-' || toString(c % 5), ''),
        'gen_ai.response.id', if(byid, 'chatcmpl-' || toString(c), ''),
        'llm.model_name', model,
        'llm.token_count.prompt', if(gw, '100', '90'),
        'llm.token_count.completion', if(gw, '20', '10'),
        'llm.token_count.total', if(gw, '120', '100'),
        'llm.cost.prompt', if(gw, '0.0001', '0.00009'),
        'llm.cost.completion', if(gw, '0.00002', '0.00001'),
        'llm.cost.total', if(gw, '0.00012', '0.0001')) AS SpanAttributes,
    800000000 AS Duration,
    'Ok' AS StatusCode
  FROM (SELECT *, ${MODELS}[c % 4 + 1] AS model FROM (${source}))`;
}
const COLUMNS = '(Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, SpanAttributes, Duration, StatusCode)';

/** The trace id of agent run `run` (an SQL expression). */
const runTrace = (run: string) => `lower(hex(cityHash64(${run}, 'r'))) || lower(hex(cityHash64(${run}, 's')))`;

/**
 * The AGENT spans of agent runs: `r` the run's number, `ts` its start, `dur_ms` its length, all
 * columns of `source`. Its span id is 3… and the run number, the parent of its calls' spans.
 */
function agentSpansSelect(source: string): string {
  return `SELECT ts AS Timestamp, ${runTrace('r')} AS TraceId, lower(hex(r + 0x3000000000000000)) AS SpanId, '' AS ParentSpanId,
    'agent run' AS SpanName, 'Internal' AS SpanKind, 'app' AS ServiceName,
    map('openinference.span.kind', 'AGENT', 'agent.name', 'agent-' || toString(r % 3)) AS SpanAttributes,
    toUInt64(dur_ms * 1000000) AS Duration,
    if(r % 50 = 0, 'Error', 'Ok') AS StatusCode
  FROM (${source})`;
}

async function rows<T>(store: Store, query: string): Promise<T[]> {
  const rs = await store.client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}
const exec = (store: Store, query: string) => store.client.command({ query });
const serverNow = async (store: Store) => (await rows<{ t: string }>(store, 'SELECT toString(now64(3)) AS t'))[0].t;

/**
 * A refresh of a rollup now, waited for: started, refreshed and stopped again (the loader keeps
 * the scheduled refreshes off).
 */
async function refreshNow(store: Store, view: string): Promise<void> {
  await exec(store, `SYSTEM START VIEW ${DB}.${view}`);
  await exec(store, `SYSTEM REFRESH VIEW ${DB}.${view}`);
  await exec(store, `SYSTEM WAIT VIEW ${DB}.${view}`);
  await exec(store, `SYSTEM STOP VIEW ${DB}.${view}`);
}

/**
 * Moves a rollup's window past the history: its refresh re-reads the inserts of the 30 s before
 * its last run, so one zero row (which its views hide) with the newest insert 31 s ahead.
 * `columns`: the row's key column and its count column; `key`: the key's value.
 */
const moveWindowPast = (store: Store, table: string, columns: string, key: string) =>
  exec(
    store,
    `INSERT INTO ${DB}.${table} (${columns}, source_inserted_at, computed_at)
    SELECT ${key}, 0, max(inserted_at) + INTERVAL 31 SECOND, now64(3) FROM ${DB}.llm_spans_data`,
  );

/**
 * The statement of migration `version` that creates view `name`, rendered for the benchmark's
 * database; with `version` 'latest', of the last migration that creates it (as a store has it).
 */
function viewStatement(version: number | 'latest', name: string): string | undefined {
  const find = (m: Migration) => renderMigration(m, { ...DEFAULT_SCHEMA_SETTINGS, database: DB }).find((st) => st.includes(`VIEW IF NOT EXISTS ${DB}.${name}`));
  const migrations = loadMigrations().filter((m) => version === 'latest' || m.version === version);
  return migrations.map(find).findLast((st) => st !== undefined);
}

/** usage_minutely_live's statement as 0056 writes it, every minute instead of the open ones. */
function usageLiveWithoutOpen(): string {
  const view = viewStatement(56, 'usage_minutely_live AS');
  const open = /WHERE counted = 1\s+AND timestamp >= arrayMin\(open\)\s+AND timestamp < arrayMax\(open\) \+ INTERVAL 1 MINUTE\s+AND has\(open, toStartOfMinute\(timestamp\)\)/;
  if (!view || !open.test(view)) throw new Error('usage_minutely_live (migration 0056) is not as this benchmark knows it');
  return view.slice(view.indexOf(' AS\n') + 4).replace(open, 'WHERE counted = 1');
}

/** Loads `calls` decided calls of history; returns the seconds each step took. */
async function loadHistory(store: Store, calls: number, chunk: number, spanHours: number): Promise<Record<string, number>> {
  const took = { insert_s: 0, decide_s: 0, rollups_s: 0 };
  const span = spanHours * 3_600_000;
  for (let off = 0; off < calls; off += chunk) {
    const n = Math.min(chunk, calls - off);
    const t0 = performance.now();
    const before = await serverNow(store);
    // call c (off ≤ c < off + n): span 2c the application's, 2c+1 the gateway's, older as c grows
    const at = (c: string) => `toDateTime64('${before}', 9) - toIntervalMillisecond(600000 + intDiv(${c} * ${span}, ${calls}))`;
    await exec(
      store,
      `INSERT INTO ${DB}.otel_traces ${COLUMNS} ${spansSelect(
        `SELECT ${off} + intDiv(number, 2) AS c, toUInt8(number % 2) AS gw, toUInt8(0) AS byid, ${at('c')} AS ts
       FROM numbers(${2 * n})`,
        true,
      )}`,
    );
    // the AGENT span of each run whose first call is in this chunk: from 100 ms before its oldest
    // call (3r + 2) to 200 ms after its newest call (3r) ends
    const firstRun = Math.ceil(off / 3);
    const runs = Math.ceil((off + n) / 3) - firstRun;
    if (runs > 0)
      await exec(
        store,
        `INSERT INTO ${DB}.otel_traces ${COLUMNS} ${agentSpansSelect(
          `SELECT ${firstRun} + number AS r, ${at('(3 * r + 2)')} - toIntervalMillisecond(100) AS ts,
                intDiv((3 * r + 2) * ${span}, ${calls}) - intDiv(3 * r * ${span}, ${calls}) + 1100 AS dur_ms
         FROM numbers(${runs})`,
        )}`,
      );
    const t1 = performance.now();
    // the decider's rows for these traceparent pairs: version 1 of both spans
    await exec(
      store,
      `INSERT INTO ${DB}.llm_spans_data SELECT * REPLACE (
        if(origin = 'app', toUInt8(0), counted) AS counted,
        if(origin = 'app', '2' || substring(span_id, 2), superseded_by) AS superseded_by,
        if(origin = 'gateway', 'app', app_service_name) AS app_service_name,
        if(origin = 'app', 'team-' || toString((reinterpretAsUInt64(reverse(unhex(span_id))) - 0x1000000000000000) % 5), team) AS team,
        if(origin = 'app', 'key-' || toString((reinterpretAsUInt64(reverse(unhex(span_id))) - 0x1000000000000000) % 5), key_name) AS key_name,
        toUInt8(1) AS version,
        now64(3) AS inserted_at)
      -- (in a WHERE at this level, version and inserted_at would be the aliases above)
      FROM (SELECT * FROM ${DB}.llm_spans_data WHERE version = 0 AND inserted_at >= '${before}' AND span_kind = 'LLM')`,
    );
    // The decider's window starts 30 s before its last write: move it past this chunk, whose
    // pairs are decided, so that no reader or rollup decides them again at read.
    await exec(store, `INSERT INTO ${DB}.refresh_progress VALUES ('count_once', now64(3) + INTERVAL 31 SECOND)`);
    const t2 = performance.now();
    const t3 = performance.now();
    took.insert_s += (t1 - t0) / 1000;
    took.decide_s += (t2 - t1) / 1000;
    took.rollups_s += (t3 - t2) / 1000;
    process.stdout.write(`  history ${off + n}/${calls} calls (${((t3 - t0) / 1000).toFixed(1)} s: insert ${((t1 - t0) / 1000).toFixed(1)}, decide ${((t2 - t1) / 1000).toFixed(1)})\n`);
  }
  // usage_minutely: the rows its refresh computes (usage_minutely_live, 0056), for every minute
  // at once. The refresh itself is not used here: it tests each row against its list of open
  // minutes with has(), linear in that list, so a refresh over a month of minutes (or chunk by
  // chunk, the stored rows again each time) takes minutes (see the README).
  const t5 = performance.now();
  await exec(store, `INSERT INTO ${DB}.usage_minutely_data ${usageLiveWithoutOpen()}`);
  took.rollups_s += (performance.now() - t5) / 1000;
  process.stdout.write(`  usage_minutely rows over the history: ${((performance.now() - t5) / 1000).toFixed(1)} s\n`);
  // agent_runs once, over the whole history: its refresh reads every llm_spans_data row whatever
  // runs it recomputes (see the README), so a refresh per chunk would make the load quadratic
  const t4 = performance.now();
  await refreshNow(store, 'agent_runs_refresh');
  // Both rollups re-read the inserts of the 30 s before their last refresh: move that window past
  // the history (a zero row each, which the views hide), as the decider's above.
  await moveWindowPast(store, 'usage_minutely_data', 'minute, calls', 'toStartOfMinute(now())');
  await moveWindowPast(store, 'agent_runs_data', 'trace_id, span_count', "'bench-progress'");
  took.rollups_s += (performance.now() - t4) / 1000;
  process.stdout.write(`  agent_runs refresh over the history: ${((performance.now() - t4) / 1000).toFixed(1)} s\n`);
  // usage_hourly (0077): one refresh over every hour of the minutes above (no progress yet, so
  // every hour is open), then its window moved past the history as the others'
  const t6 = performance.now();
  await refreshNow(store, 'usage_hourly_refresh');
  await moveWindowPast(store, 'usage_hourly_data', 'hour, calls', 'toStartOfHour(now())');
  took.rollups_s += (performance.now() - t6) / 1000;
  process.stdout.write(`  usage_hourly refresh over the history: ${((performance.now() - t6) / 1000).toFixed(1)} s\n`);
  // usage_daily (0080): the same, one refresh over every day of the hours above
  const t7 = performance.now();
  await refreshNow(store, 'usage_daily_refresh');
  await moveWindowPast(store, 'usage_daily_data', 'day, calls', 'toStartOfDay(now())');
  took.rollups_s += (performance.now() - t7) / 1000;
  process.stdout.write(`  usage_daily refresh over the history: ${((performance.now() - t7) / 1000).toFixed(1)} s\n`);
  return Object.fromEntries(Object.entries(took).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

/** Tables with history that readers or the decider read, merged (OPTIMIZE … FINAL) as background merges would have. */
const MERGED = [
  'otel_traces',
  'otel_traces_trace_id_ts',
  'llm_spans_data',
  'call_keys_by_hour',
  'agent_runs_data',
  'agent_runs_by_hour',
  'usage_minutely_data',
  'usage_hourly_data',
  'usage_daily_data',
];

async function mergeHistory(store: Store): Promise<{ seconds: number; parts_before: Record<string, number>; parts_after: Record<string, number> }> {
  const parts = async () =>
    Object.fromEntries(
      (
        await rows<{ table: string; n: string }>(
          store,
          `SELECT table, count() AS n FROM system.parts WHERE database = '${DB}' AND active AND table IN (${MERGED.map((t) => `'${t}'`).join(', ')}) GROUP BY table ORDER BY table`,
        )
      ).map((r) => [r.table, Number(r.n)]),
    );
  const before = await parts();
  const t = performance.now();
  for (const table of MERGED) await exec(store, `OPTIMIZE TABLE ${DB}.${table} FINAL`);
  const seconds = Math.round((performance.now() - t) / 100) / 10;
  const after = await parts();
  process.stdout.write(`  merged the history in ${seconds} s: parts ${JSON.stringify(before)} -> ${JSON.stringify(after)}\n`);
  return { seconds, parts_before: before, parts_after: after };
}

/** A batch's calls: numbers `from` to `from + n - 1`, the first `ids` of them without traceparent. */
interface Batch {
  from: number;
  n: number;
  ids: number;
}

/** The by-id application spans of `b` (exported a batch after their gateway spans). */
const byIdApps = (b: Batch) => `SELECT ${b.from} + number AS c, toUInt8(0) AS gw, toUInt8(1) AS byid, now64(9) - toIntervalMillisecond(500) AS ts FROM numbers(${b.ids})`;

/**
 * Inserts batch `b` of the traffic (both spans of a traceparent call, the gateway's of a call
 * without), and the by-id application spans of the batch before; without `b`, those alone.
 */
export async function insertBatch(store: Store, b: Batch | undefined, prev?: Batch): Promise<void> {
  const parts = b
    ? [
        `SELECT ${b.from} + intDiv(number, 2) AS c, toUInt8(number % 2) AS gw,
            toUInt8(intDiv(number, 2) < ${b.ids}) AS byid, now64(9) - toIntervalMillisecond(300) AS ts
     FROM numbers(${2 * b.n}) WHERE NOT (byid AND gw = 0)`,
      ]
    : [];
  if (prev?.ids) parts.push(byIdApps(prev));
  if (parts.length) await exec(store, `INSERT INTO ${DB}.otel_traces ${COLUMNS} ${spansSelect(parts.join('\nUNION ALL\n'))}`);
}

/**
 * The decider alone (step 5): the scheduled views stopped and no reader. `warm` seconds of calls at
 * `rate` in one-second inserts with the decider running, so that its window holds decided calls as
 * in a steady state; then `rounds` times: two seconds of calls (its interval) inserted with the
 * decider stopped, and one run of its statement (the latest migration's, as its refresh runs it: an
 * INSERT … SELECT into llm_spans_data) timed.
 */
async function deciderAlone(store: Store, rate: number, byId: number, base: number, warm: number, rounds: number) {
  const view = viewStatement('latest', 'llm_spans_count_once\n');
  const head = `APPEND TO ${DB}.llm_spans_data AS\n`;
  if (!view?.includes(head)) throw new Error('llm_spans_count_once (its latest migration) is not as this benchmark knows it');
  const decide = `INSERT INTO ${DB}.llm_spans_data ${view.slice(view.indexOf(head) + head.length)}`;
  for (const v of VIEWS) await exec(store, `SYSTEM STOP VIEW ${DB}.${v}`);
  await exec(store, `SYSTEM START VIEW ${DB}.llm_spans_count_once`);
  let prev: Batch | undefined;
  let next = base;
  const send = async () => {
    const b: Batch = { from: next, n: rate, ids: Math.round(rate * byId) };
    await insertBatch(store, b, prev);
    prev = b;
    next += rate;
  };
  for (let k = 0; k < warm; k++) {
    const t = performance.now();
    await send();
    await sleep(Math.max(0, 1000 - (performance.now() - t)));
  }
  await sleep(3000);
  await exec(store, `SYSTEM STOP VIEW ${DB}.llm_spans_count_once`);
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await send();
    await send();
    const t = performance.now();
    await exec(store, decide);
    runs.push(Math.round(performance.now() - t));
  }
  for (const v of VIEWS) await exec(store, `SYSTEM START VIEW ${DB}.${v}`);
  const p50 = pct(runs, 50) ?? 0;
  return { warm_s: warm, calls_a_run: 2 * rate, runs_ms: runs, p50_ms: p50, margin_p50: Math.round((2000 / p50) * 100) / 100, margin_max: Math.round((2000 / Math.max(...runs)) * 100) / 100 };
}

interface Reader {
  name: string;
  run: (store: Store, probeTrace: string) => Promise<unknown>;
}
const READERS: Reader[] = [
  {
    name: 'llm_spans_1h',
    run: (store) => rows(store, `SELECT sum(cost_total) AS cost, count() AS calls FROM ${DB}.llm_spans WHERE timestamp >= now() - INTERVAL 1 HOUR AND counted`),
  },
  { name: 'usage_30d_model_team', run: (store) => queryUsage(store.client, DB, parseUsageParams({ since: '30d', by: 'model,team' })) },
  {
    name: 'agent_runs_1h',
    run: (store) => rows(store, `SELECT count() AS runs, sum(cost_total) AS cost FROM ${DB}.agent_runs WHERE start_time >= now() - INTERVAL 1 HOUR`),
  },
  {
    name: 'agent_run_by_id',
    run: (store, trace) => rows(store, `SELECT trace_id, span_count, llm_calls, cost_total FROM ${DB}.agent_runs WHERE trace_id = '${trace}'`),
  },
];

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};
const summary = (xs: number[]) => ({ n: xs.length, p50_ms: pct(xs, 50), p95_ms: pct(xs, 95), max_ms: pct(xs, 100) });

/** Every reader in turn, `rounds` times: each one's latencies, ms. */
async function readRounds(store: Store, probeTrace: string, rounds: number): Promise<Record<string, number[]>> {
  const ms: Record<string, number[]> = Object.fromEntries(READERS.map((r) => [r.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const rd of READERS) {
      const t = performance.now();
      await rd.run(store, probeTrace);
      ms[rd.name].push(performance.now() - t);
    }
  }
  return ms;
}

/**
 * Runs the readers in turn until `stop()` is true, a round starting every `everyMs` (a dashboard
 * refreshing; the next round at once when one takes longer); each query's latency.
 */
async function readLoop(store: Store, stop: () => boolean, probeTrace: string, everyMs: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(READERS.map((r) => [r.name, []]));
  while (!stop()) {
    const round = performance.now();
    for (const r of READERS) {
      const t0 = performance.now();
      await r.run(store, probeTrace);
      out[r.name].push(performance.now() - t0);
    }
    await sleep(Math.max(100, everyMs - (performance.now() - round)));
  }
  return out;
}

/** Every refresh of the decider seen while `stop()` is false: its duration and start time. */
async function watchDecider(store: Store, stop: () => boolean): Promise<{ at: string; ms: number; written: number | null }[]> {
  const seen: { at: string; ms: number; written: number | null }[] = [];
  let last = '';
  while (!stop()) {
    const [r] = await rows<{ t: string | null; ms: string | null; w: string | null }>(
      store,
      `SELECT toString(last_success_time) AS t, last_success_duration_ms AS ms, written_rows AS w FROM system.view_refreshes
       WHERE database = '${DB}' AND view = 'llm_spans_count_once'`,
    );
    const key = `${r?.t}/${r?.ms}`;
    if (r?.t && r.ms !== null && key !== last) {
      last = key;
      seen.push({ at: r.t, ms: Number(r.ms), written: r.w === null ? null : Number(r.w) });
    }
    await sleep(150);
  }
  return seen;
}

/** Figures of the 0052 design from the previous benchmark's files, when they are still there. */
function previousDesign(dir: string): unknown {
  const read = (f: string) => (existsSync(join(dir, f)) ? (JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>) : undefined);
  const current = read('views.json');
  if (current && 'design_0052' in current) return current.design_0052;
  const pick = (j: Record<string, unknown> | undefined) =>
    j && {
      date: j.date,
      history_spans: j.history_spans,
      calls_in_window: j.calls,
      how: j.how,
      refresh_ms: Object.fromEntries(
        Object.entries(j.scenarios as Record<string, Record<string, { refresh_ms: number }>>).map(([s, d]) => [s, { '0052': d['0052'].refresh_ms, '0004': d['0004'].refresh_ms }]),
      ),
    };
  return { no_history: pick(current), history_1m_spans: pick(read('views-history.json')) };
}

export async function main(args: string[]): Promise<void> {
  const opt = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const history = opt('history', 1_000_000);
  const chunk = opt('chunk', 100_000);
  // over how many hours before the traffic the history is spread (29 days; 1: as dense as a steady rate)
  const spanHours = opt('history-hours', 29 * 24);
  const rate = opt('rate', 1000);
  const seconds = opt('seconds', 20);
  const batchMs = opt('batch-ms', 200);
  const byId = opt('by-id', 0.2);
  const idle = opt('idle', 15);
  const rawRounds = opt('raw-rounds', 3);
  const readEvery = opt('read-every', 1000);
  const perBatch = Math.round((rate * batchMs) / 1000);
  const resultsDir = join(import.meta.dirname, 'results');
  const design0052 = previousDesign(resultsDir);

  // checked before anything runs: a bad name would otherwise end a long run unsaved
  const saveI = args.indexOf('--save');
  const saveAs = saveI >= 0 ? args[saveI + 1] : args.includes('--panels-only') ? 'views-panels' : 'views';
  if (!/^[\w-]+$/.test(saveAs ?? '')) throw new Error('--save takes a name of letters, digits, _ and -');
  const keepI = args.indexOf('--keep');
  const dataDir = keepI >= 0 ? args[keepI + 1] : mkdtempSync(join(tmpdir(), 'tracegate-bench-views-'));
  const store = await openStore({ kind: 'embedded', dataDir, database: DB });
  const load = { before: loadavg().map((x) => Math.round(x * 100) / 100), during_traffic: [] as number[] };
  try {
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: DB });
    for (const v of VIEWS) await exec(store, `SYSTEM STOP VIEW ${DB}.${v}`);

    // --reuse: the store of an earlier run (--keep DIR, the same --history), loaded and merged then
    const reuse = args.includes('--reuse');
    if (!reuse) process.stdout.write(`loading ${history.toLocaleString('en')} decided calls of history…\n`);
    const tl = performance.now();
    const steps = reuse ? 'reused: the store of an earlier run (--keep), its history loaded and merged then' : await loadHistory(store, history, chunk, spanHours);
    const loadS = reuse ? null : Math.round((performance.now() - tl) / 100) / 10;
    const [stored] = await rows<{ spans: string; counted: string; parts: string }>(
      store,
      `SELECT (SELECT count() FROM ${DB}.otel_traces) AS spans, (SELECT sum(counted) FROM ${DB}.llm_spans_data FINAL) AS counted,
              (SELECT count() FROM system.parts WHERE database = '${DB}' AND table = 'llm_spans_data' AND active) AS parts`,
    );
    process.stdout.write(`loaded in ${loadS} s (${JSON.stringify(steps)}): ${stored.spans} spans, ${stored.counted} counted, llm_spans_data ${stored.parts} parts\n`);
    if (args.includes('--load-only')) return;
    if (args.includes('--panels-only')) {
      // the dashboards alone, on a kept store (--reuse --keep DIR)
      const outcomeShare = opt('outcome-share', 0.01);
      const scoreShare = opt('score-share', 0.05);
      const sparse = await fillSparse(store.client, DB, outcomeShare, scoreShare);
      process.stdout.write(`written over the stored calls: ${JSON.stringify(sparse)}\n`);
      // every refresh run once to its end first: in a process just started the windows are back
      // where the last writing run left them (system.view_refreshes starts empty), and what the
      // kept store's last run wrote is open until each refresh has completed a run
      for (const v of VIEWS) {
        await exec(store, `SYSTEM START VIEW ${DB}.${v}`);
        await exec(store, `SYSTEM REFRESH VIEW ${DB}.${v}`);
        await exec(store, `SYSTEM WAIT VIEW ${DB}.${v}`);
      }
      // then stopped, so that each panel's figure is its own: on 2 CPUs the refreshes' idle runs
      // (the decider's ~0.4 s of preparing its statement every 2 s, the rollups') take turns with
      // the panels and move a median by up to 3x (the full run times the panels with them running)
      for (const v of VIEWS) await exec(store, `SYSTEM STOP VIEW ${DB}.${v}`);
      const panels = await timePanels(store.client, DB);
      printPanels(panels, (t) => process.stdout.write(t));
      const out = {
        benchmark: 'views --panels-only',
        command: `npm run bench -- views ${args.join(' ')}`.trim(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, engine: 'chDB (embedded)' },
        date: new Date().toISOString(),
        load_average: loadavg().map((x) => Math.round(x * 100) / 100),
        stored: { spans: Number(stored.spans), counted_calls: Number(stored.counted) },
        written_over_them: { outcome_share: outcomeShare, score_share: scoreShare, finding_share: scoreShare * 2, rows: sparse },
        target_ms: PANEL_TARGET_MS,
        dashboards: { summary: panelSummary(panels), panels },
      };
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, `${saveAs}.json`), `${JSON.stringify(out, null, 1)}\n`);
      process.stdout.write(`saved bench/results/${saveAs}.json\n`);
      return;
    }
    // A month of history in a store in use has had its background merges; loaded in minutes, it
    // has not (each chunk's parts, 150 and more per table): reads pay per part. So the history is
    // merged before anything is measured, unless --no-merge.
    const merged = reuse ? 'reused' : args.includes('--no-merge') ? undefined : await mergeHistory(store);
    const probeTrace = (await rows<{ t: string }>(store, `SELECT lower(hex(cityHash64(${Math.floor(history / 2)}, 't'))) || lower(hex(cityHash64(${Math.floor(history / 2)}, 'u'))) AS t`))[0].t;

    // The decider's window (moved 31 s ahead by the loader) must pass before anything new
    // arrives; then one batch of calls, decided and rolled up, so that the rollups' windows move
    // past the history's last chunk (as in a store in use), and readers with nothing arriving.
    process.stdout.write("waiting 32 s for the decider's window, then one batch of calls and every refresh…\n");
    await sleep(32_000);
    for (const v of VIEWS) await exec(store, `SYSTEM START VIEW ${DB}.${v}`);
    // (calls numbered apart from every earlier run's, should the store be reused)
    const base = 1_000_000_000_000 + (Date.now() % 100_000_000_000) * 10;
    await insertBatch(store, { from: base - 1_000_000_000, n: perBatch, ids: 0 });
    await sleep(1000);
    for (const v of VIEWS) {
      await exec(store, `SYSTEM REFRESH VIEW ${DB}.${v}`);
      await exec(store, `SYSTEM WAIT VIEW ${DB}.${v}`);
    }
    process.stdout.write(`idle readers for ${idle} s…\n`);
    const idleEnd = Date.now() + idle * 1000;
    const idleReads = await readLoop(store, () => Date.now() > idleEnd, probeTrace, readEvery);

    process.stdout.write(`traffic: ${rate} calls/s (a batch every ${batchMs} ms, larger while an insert runs; ${byId * 100}% by response id) for ${seconds} s…\n`);
    const total = Math.round(rate * seconds);
    let done = false;
    const watcher = watchDecider(store, () => done);
    const reader = readLoop(store, () => done, probeTrace, readEvery);
    const insertMs: number[] = [];
    const batchCalls: number[] = [];
    const t0 = performance.now();
    // As the collector batches (collector/config.ts, batch): a batch is sealed `batchMs` after the
    // last one started, or once the insert before it is done if that took longer, with every call
    // due by then; so the calls arrive at `rate` whatever an insert takes, and the inserts grow
    // when the store is slow, as a collector's do.
    let sent = 0;
    let late = 0;
    let prev: Batch | undefined;
    while (sent < total || prev) {
      const ti = performance.now();
      const due = Math.min(total, Math.floor(((ti - t0) / 1000) * rate));
      if (due > sent) {
        const b: Batch = { from: base + sent, n: due - sent, ids: Math.round((due - sent) * byId) };
        await insertBatch(store, b, prev);
        prev = b;
        sent = due;
        batchCalls.push(b.n);
      } else if (sent >= total && prev) {
        // the by-id application spans of the last batch
        await insertBatch(store, undefined, prev);
        prev = undefined;
      }
      const took = performance.now() - ti;
      insertMs.push(took);
      if (took > batchMs) late++;
      else if (sent < total || prev) await sleep(batchMs - took);
      if (insertMs.length % 25 === 0) load.during_traffic.push(Math.round(loadavg()[0] * 100) / 100);
    }
    const trafficS = (performance.now() - t0) / 1000;
    const trafficEnd = performance.now();
    done = true;
    const deciderRuns = await watcher;
    const reads = await reader;

    // until every live call is decided: no version-0 row left of the live spans
    const tc = performance.now();
    let undecided = -1;
    while (performance.now() - tc < 120_000) {
      const [u] = await rows<{ n: string }>(store, `SELECT count() AS n FROM ${DB}.llm_spans_data FINAL WHERE timestamp >= now() - INTERVAL 10 MINUTE AND version = 0`);
      undecided = Number(u.n);
      if (undecided === 0) break;
      await sleep(250);
    }
    const catchUpS = Math.round((performance.now() - tc) / 100) / 10;
    const [check] = await rows<{ calls: string; counted_spans: string; usage_calls: string; runs_calls: string }>(
      store,
      `SELECT (SELECT count() FROM ${DB}.llm_spans WHERE timestamp >= now() - INTERVAL 10 MINUTE AND counted) AS calls,
              (SELECT count() FROM ${DB}.llm_spans_data FINAL WHERE timestamp >= now() - INTERVAL 10 MINUTE) AS counted_spans,
              (SELECT sum(calls) FROM ${DB}.usage_minutely WHERE minute >= toStartOfMinute(now() - INTERVAL 9 MINUTE)) AS usage_calls,
              (SELECT sum(llm_calls) FROM ${DB}.agent_runs WHERE start_time >= now() - INTERVAL 9 MINUTE) AS runs_calls`,
    );

    // beside the rollup: the same usage over the raw table
    const raw: number[] = [];
    for (let r = 0; r < rawRounds; r++) {
      const t = performance.now();
      await rows(
        store,
        `SELECT model, team, count() AS calls, sum(cost_total) AS cost FROM ${DB}.llm_spans
        WHERE timestamp >= now() - INTERVAL 30 DAY AND counted GROUP BY model, team ORDER BY cost DESC`,
      );
      raw.push(performance.now() - t);
    }
    const idleAfter = await readRounds(store, probeTrace, 5);

    // Long after: every window closed (0081: 30 s after the last insert, then a completed run of
    // each refresh; the daily one runs every 60 s), the refreshes still running.
    const longAfterS = opt('long-after', 100);
    const waitLong = trafficEnd + longAfterS * 1000 - performance.now();
    process.stdout.write(`idle readers ${longAfterS} s after the traffic…\n`);
    if (waitLong > 0) await sleep(waitLong);
    const [openLong] = await rows<Record<string, string>>(
      store,
      `SELECT (SELECT count() FROM ${DB}.count_once_fresh) AS fresh_keys, (SELECT count() FROM ${DB}.usage_minutely_open) AS open_minutes,
              (SELECT count() FROM ${DB}.usage_hourly_open) AS open_hours, (SELECT count() FROM ${DB}.usage_daily_open) AS open_days,
              (SELECT count() FROM ${DB}.agent_runs_open) AS open_runs`,
    );
    const idleLong = await readRounds(store, probeTrace, 5);

    process.stdout.write("the dashboards' panels, idle, over 30 days and one day…\n");
    const panels = await timePanels(store.client, DB);

    process.stdout.write(`the decider alone: ${rate} calls/s for 20 s, then 2 s of calls and one run, 3 times…\n`);
    const alone = await deciderAlone(store, rate, byId, base + 10 * sent, 20, 3);
    const deciderMs = deciderRuns.map((d) => d.ms);
    const out = {
      benchmark: 'views',
      design:
        'count once at every moment (migrations 0054-0056, 0071-0082): the decision (count_once_pending) written every 2 s by llm_spans_count_once, a model call read once decided (0082; before it, undecided pairs applied at read); usage_minutely, usage_hourly, usage_daily and agent_runs = stored rows for untouched minutes/hours/days/runs + live computation',
      command: `npm run bench -- views ${args.join(' ')}`.trim(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, engine: 'chDB (embedded)', engine_version: (await rows<{ v: string }>(store, 'SELECT version() AS v'))[0].v },
      date: new Date().toISOString(),
      load_average: load,
      history: {
        calls: history,
        spans: Number(stored.spans),
        spread_hours: spanHours,
        how: 'INSERT … SELECT from numbers() into otel_traces (insert-time views fire), chunks of --chunk calls; each chunk decided by one INSERT … SELECT writing what the decider writes for traceparent pairs, then usage_minutely rows computed by the statement of usage_minutely_live (0056) over every minute at once, and one agent_runs refresh',
        load_s: loadS,
        load_steps_s: steps,
        llm_spans_data_active_parts: Number(stored.parts),
        merged: merged ?? 'no (--no-merge)',
      },
      traffic: {
        rate_calls_per_s: rate,
        seconds,
        measured_s: Math.round(trafficS * 10) / 10,
        achieved_calls_per_s: Math.round(sent / trafficS),
        batch_ms: batchMs,
        calls_per_insert: { n: batchCalls.length, p50: pct(batchCalls, 50), p95: pct(batchCalls, 95), max: Math.max(...batchCalls) },
        by_response_id_share: byId,
        readers_every_ms: readEvery,
        calls_sent: sent,
        inserts_longer_than_batch_ms: late,
        insert_ms: summary(insertMs),
      },
      decider: {
        interval_s: 2,
        refreshes: deciderRuns.length,
        refresh_ms: summary(deciderMs),
        runs: deciderRuns,
        margin_p95: deciderMs.length ? Math.round((2000 / (pct(deciderMs, 95) ?? 1)) * 100) / 100 : null,
        undecided_after_traffic: undecided,
        all_decided_after_s: catchUpS,
      },
      decider_alone: alone,
      reads_during_traffic: Object.fromEntries(Object.entries(reads).map(([k, v]) => [k, summary(v)])),
      reads_idle_before_traffic: Object.fromEntries(Object.entries(idleReads).map(([k, v]) => [k, summary(v)])),
      reads_idle_after_traffic: Object.fromEntries(Object.entries(idleAfter).map(([k, v]) => [k, summary(v)])),
      reads_idle_long_after_traffic: {
        seconds_after: longAfterS,
        open_then: Object.fromEntries(Object.entries(openLong).map(([k, v]) => [k, Number(v)])),
        ...Object.fromEntries(Object.entries(idleLong).map(([k, v]) => [k, summary(v)])),
      },
      usage_30d_raw_llm_spans: summary(raw),
      dashboards: {
        note: `every panel but the trace view, variables at All, median of 3, idle, ${longAfterS} s after the traffic; on the loaded calls alone, with no evaluations and no gateway outcomes (--panels-only writes them)`,
        summary: panelSummary(panels),
        panels,
      },
      check_last_10_minutes: {
        sent: sent + perBatch,
        sent_note: 'the traffic and the warm-up batch',
        llm_spans_counted: Number(check.calls),
        llm_spans_rows: Number(check.counted_spans),
        usage_minutely_calls: Number(check.usage_calls),
        agent_runs_llm_calls: Number(check.runs_calls),
      },
      target: { usage_30d_by_model_team_ms: 100 },
      design_0052: design0052,
    };

    const line = (name: string, s: { n: number; p50_ms: number | null; p95_ms: number | null; max_ms: number | null }) =>
      `  ${name.padEnd(24)} p50 ${String(s.p50_ms).padStart(8)}  p95 ${String(s.p95_ms).padStart(8)}  max ${String(s.max_ms).padStart(8)}  (n=${s.n})\n`;
    process.stdout.write(`\nhistory ${history.toLocaleString('en')} calls (${stored.spans} spans), loaded in ${loadS} s; load average ${load.before.join(' ')}\n`);
    process.stdout.write(
      `traffic ${sent} calls in ${trafficS.toFixed(1)} s (${batchCalls.length} inserts, ${late} longer than ${batchMs} ms), inserts:\n${line('insert batch', out.traffic.insert_ms)}`,
    );
    process.stdout.write(`decider (every 2 s): ${deciderRuns.length} refreshes\n${line('refresh', out.decider.refresh_ms)}`);
    process.stdout.write(`  all decided ${catchUpS} s after the traffic (${undecided} undecided)\n`);
    process.stdout.write(`decider alone, 2 s of calls at ${rate}/s a run: ${alone.runs_ms.join(', ')} ms (margin ${alone.margin_p50} at p50, ${alone.margin_max} at the slowest)\n`);
    for (const [title, set] of [
      ['reads during traffic (ms)', out.reads_during_traffic],
      ['reads idle, before traffic', out.reads_idle_before_traffic],
      ['reads idle, after traffic', out.reads_idle_after_traffic],
    ] as const) {
      process.stdout.write(`${title}:\n`);
      for (const [k, s] of Object.entries(set)) process.stdout.write(line(k, s));
    }
    process.stdout.write(`reads idle, ${longAfterS} s after traffic (then ${JSON.stringify(out.reads_idle_long_after_traffic.open_then)}):\n`);
    for (const [k, s] of Object.entries(idleLong)) process.stdout.write(line(k, summary(s)));
    process.stdout.write(`usage 30d by model,team over llm_spans (raw):\n${line('raw', out.usage_30d_raw_llm_spans)}`);
    printPanels(panels, (t) => process.stdout.write(t));
    process.stdout.write(`check, last 10 minutes: ${JSON.stringify(out.check_last_10_minutes)}\n`);
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(join(resultsDir, `${saveAs}.json`), `${JSON.stringify(out, null, 1)}\n`);
    process.stdout.write(`saved bench/results/${saveAs}.json\n`);
  } finally {
    await store.close();
    if (keepI < 0) rmSync(dataDir, { recursive: true, force: true });
  }
}
