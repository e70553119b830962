/**
 * The dashboards' panels timed on the views benchmark's store (`npm run bench -- views`, its
 * "dashboards" part; alone: `--reuse --keep DIR --panels-only`): every query of every panel of
 * every board but the trace view, as Grafana runs it (the dashboards' test harness: variables at
 * All, the data source's macros expanded, tables named bare in the store's database), over the
 * last 30 days and the last day, each `rounds` times, the median kept.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { renderDashboards } from '../dashboards/index.js';
import { expandQuery } from '../dashboards/macros.js';
import { allPanels, type Dashboard } from '../dashboards/model.js';
import { type Range, resolveVariables } from '../test/dashboards/harness.js';

/** The issue's bar for the dashboards' long-range panels. */
export const PANEL_TARGET_MS = 100;

export interface PanelTiming {
  board: string;
  panel: string;
  /** What the query reads: the usage rollups' range text, usage_minutely, gateway_call_outcomes, llm_spans, … */
  reads: string;
  ms: Record<string, number | string>;
}

/**
 * What the history loader does not write, written over the stored calls, picked by a hash of the
 * span id: `outcomes` of the gateway's calls get a row in gateway_call_outcomes (retries 1-3, half
 * of them a fallback, a fifth a skipped backend, a seventh a refusal), `scores` of the counted
 * calls an LLM judge's score and twice as many a heuristic finding (evaluations). Both tables are
 * emptied first.
 */
export async function fillSparse(client: ClickHouseClient, database: string, outcomes: number, scores: number): Promise<Record<string, number>> {
  const every = (share: number) => Math.max(1, Math.round(1 / share));
  await client.command({ query: `TRUNCATE TABLE ${database}.gateway_call_outcomes` });
  await client.command({
    query: `INSERT INTO ${database}.gateway_call_outcomes
      SELECT timestamp, trace_id, span_id, route, model, team, key_name, counted, 1 + h % 3, h % 2 = 0, if(h % 5 = 0, ['backend-b'], []),
             if(h % 7 = 0, 'requests', ''), if(h % 7 = 0, 'key', '')
      FROM (SELECT timestamp, trace_id, span_id, route, model, team, key_name, counted, cityHash64(span_id) AS h FROM ${database}.llm_spans WHERE origin = 'gateway')
      WHERE h % ${every(outcomes)} = 0`,
  });
  await client.command({ query: `TRUNCATE TABLE ${database}.evaluations` });
  const judged = every(scores);
  await client.command({
    query: `INSERT INTO ${database}.evaluations (timestamp, trace_id, span_id, name, score, label, source, model, provider, service_name, span_kind, via, inserted_at)
      SELECT timestamp + INTERVAL 2 SECOND, trace_id, span_id, if(h % ${judged} = 0, 'relevance', 'truncated'), if(h % ${judged} = 0, (h % 100) / 100, NULL),
             if(h % ${judged} = 0, if(h % 3 = 0, 'fail', 'pass'), 'truncated'), if(h % ${judged} = 0, 'llm', 'heuristic'), model, provider, app_service_name, span_kind, 'event', now64(3)
      FROM (SELECT timestamp, trace_id, span_id, model, provider, app_service_name, span_kind, cityHash64(span_id) AS h FROM ${database}.llm_spans WHERE counted = 1)
      WHERE h % ${judged} = 0 OR h % ${Math.max(1, Math.round(judged / 2))} = 1`,
  });
  const [n] = await (
    await client.query({
      query: `SELECT (SELECT count() FROM ${database}.gateway_call_outcomes) AS outcomes, (SELECT countIf(source = 'llm') FROM ${database}.evaluations) AS scores,
                     (SELECT countIf(source = 'heuristic') FROM ${database}.evaluations) AS findings`,
      format: 'JSONEachRow',
    })
  ).json<Record<string, string>>();
  return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, Number(v)]));
}

/** Grafana's ranges: the interval is about a thousandth of the range (a panel ~1,000 px wide). */
const RANGES: Record<string, { ms: number; intervalMs: number }> = {
  '30d': { ms: 30 * 86_400_000, intervalMs: 30 * 60_000 },
  '1d': { ms: 86_400_000, intervalMs: 60_000 },
};

function reads(sql: string): string {
  if (/evaluations|evaluator_runs/.test(sql) && /llm_spans/.test(sql)) return 'evaluations + llm_spans';
  if (/usage_daily_data/.test(sql)) return 'usage range (daily, hourly, minutely, live)';
  if (/gateway_call_outcomes/.test(sql)) return 'gateway_call_outcomes';
  if (/usage_minutely/.test(sql)) return 'usage_minutely';
  if (/agent_runs/.test(sql)) return 'agent_runs';
  if (/evaluations|evaluator_runs/.test(sql)) return 'evaluations';
  if (/llm_spans/.test(sql)) return 'llm_spans';
  if (/otel_traces/.test(sql)) return 'otel_traces';
  return 'other';
}

export async function timePanels(client: ClickHouseClient, database: string, rounds = 3): Promise<PanelTiming[]> {
  const store = { client };
  const out: PanelTiming[] = [];
  const now = Date.now();
  await client.command({ query: `USE ${database}` });
  for (const [file, json] of renderDashboards()) {
    const d = JSON.parse(json) as Dashboard;
    const board = file.replace(/\.json$/, '');
    for (const [name, r] of Object.entries(RANGES)) {
      const range: Range = { fromMs: now - r.ms, toMs: now, intervalMs: r.intervalMs };
      const { variables } = await resolveVariables(store, d, range, 'all');
      for (const p of allPanels(d)) {
        if (p.type === 'traces') continue;
        for (const [ti, t] of p.targets.entries()) {
          const panel = p.targets.length > 1 ? `${p.title} #${ti + 1}` : p.title;
          const sql = expandQuery(t.rawSql, { ...range, variables });
          const times: number[] = [];
          let error = '';
          for (let k = 0; k < rounds && !error; k++) {
            const t0 = performance.now();
            try {
              await (await client.query({ query: sql, format: 'JSON' })).json();
              times.push(performance.now() - t0);
            } catch (e) {
              error = `error: ${(e as Error).message.slice(0, 120)}`;
            }
          }
          times.sort((a, b) => a - b);
          const ms = error || Math.round(times[times.length >> 1]);
          const row = out.find((x) => x.board === board && x.panel === panel);
          if (row) row.ms[name] = ms;
          else out.push({ board, panel, reads: reads(sql), ms: { [name]: ms } });
        }
      }
    }
  }
  return out;
}

/** Counts per board and range: panels timed, under the target, the slowest. */
export function panelSummary(timings: PanelTiming[]) {
  const summary: Record<string, Record<string, { panels: number; under_target: number; slowest_ms: number; slowest: string }>> = {};
  for (const t of timings) {
    for (const [range, ms] of Object.entries(t.ms)) {
      const s = ((summary[t.board] ??= {})[range] ??= { panels: 0, under_target: 0, slowest_ms: 0, slowest: '' });
      s.panels++;
      if (typeof ms !== 'number') continue;
      if (ms < PANEL_TARGET_MS) s.under_target++;
      if (ms > s.slowest_ms) Object.assign(s, { slowest_ms: ms, slowest: t.panel });
    }
  }
  return summary;
}

export function printPanels(timings: PanelTiming[], write: (s: string) => void): void {
  const ranges = Object.keys(RANGES);
  write(`dashboards' panels, median ms (variables at All; ${ranges.join(' / ')}):\n`);
  for (const t of timings) {
    write(`  ${t.board.padEnd(18)} ${t.panel.slice(0, 52).padEnd(52)} ${ranges.map((r) => String(t.ms[r] ?? '').padStart(7)).join(' ')}  ${t.reads}\n`);
  }
  for (const [board, byRange] of Object.entries(panelSummary(timings))) {
    write(
      `  ${board}: ${ranges.map((r) => `${r} ${byRange[r].under_target}/${byRange[r].panels} under ${PANEL_TARGET_MS} ms, slowest ${byRange[r].slowest_ms} (${byRange[r].slowest})`).join('; ')}\n`,
    );
  }
}
