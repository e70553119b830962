import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../dashboards/index.js';
import { allPanels, type Dashboard, type Panel } from '../../dashboards/model.js';
import { histogram } from '../../dashboards/panels.js';
import { indexPrices, loadPriceTable } from '../../schemas/prices.js';
import { tempStore, type TempStore } from '../helpers/store.js';
import { expandQuery, type VariableState } from '../../dashboards/macros.js';
import { isEmptyResult, resolveVariables, run, runTarget, shapeProblems, type Pick, type Range } from './harness.js';
import { prepareStore } from './prepare.js';
import type { SeedFacts } from './seed.js';

/**
 * Every panel and variable of every committed dashboard runs on the embedded engine over a
 * seeded store, with the data source's macros expanded, and returns what its panel draws.
 */

let store: TempStore;
let facts: SeedFacts;
const boards: Dashboard[] = DASHBOARDS.map((d) => d.build());

beforeAll(async () => {
  store = await tempStore();
  facts = await prepareStore(store);
});
afterAll(async () => {
  await store?.destroy();
});

const seeded = (): Range => ({ fromMs: facts.startMs - 60_000, toMs: facts.anchorMs + 60_000, intervalMs: 60_000 });
/** A week at an hourly interval: rollup panels must merge minutes into hours. */
const week = (): Range => ({ fromMs: facts.anchorMs - 7 * 86_400_000, toMs: facts.anchorMs + 60_000, intervalMs: 3_600_000 });
/** Long before anything was seeded. */
const before = (): Range => ({ fromMs: facts.startMs - 3 * 86_400_000, toMs: facts.startMs - 2 * 86_400_000, intervalMs: 60_000 });

/** Panels that read one trace by id: the trace's own time span bounds them, not the picker. */
const BY_TRACE_ID = (p: Panel) => p.type === 'traces';

async function runBoard(d: Dashboard, range: Range, pick: Pick) {
  const text = { trace_id: facts.agentTraceIds[0] };
  const { variables } = await resolveVariables(store, d, range, pick, text);
  const out: { panel: Panel; problems: string[]; empty: boolean; rows: number }[] = [];
  for (const panel of allPanels(d)) {
    for (const q of panel.targets) {
      const r = await runTarget(store, q, { ...range, variables });
      out.push({ panel, problems: shapeProblems(panel, r), empty: isEmptyResult(r), rows: r.rows.length });
    }
  }
  return out;
}

describe.each(boards.map((b) => [b.title, b] as const))('%s', (_title, d) => {
  it('every variable query returns options on the seeded store', async () => {
    const { options } = await resolveVariables(store, d, seeded(), 'all');
    for (const v of d.templating.list.filter((x) => x.type === 'query')) expect(options[v.name]?.length ?? 0, v.name).toBeGreaterThan(0);
  });

  it('with All selected every panel has the shape of its type and shows data', async () => {
    for (const r of await runBoard(d, seeded(), 'all')) {
      expect(r.problems, r.panel.title).toEqual([]);
      expect(r.empty, `${r.panel.title} is empty`).toBe(false);
    }
  });

  it('with one value of each variable every panel still runs and keeps its shape', async () => {
    for (const r of await runBoard(d, seeded(), 'first')) expect(r.problems, r.panel.title).toEqual([]);
  });

  it('over a week at an hourly interval every panel runs', async () => {
    for (const r of await runBoard(d, week(), 'all')) {
      expect(r.problems, r.panel.title).toEqual([]);
      expect(r.empty, `${r.panel.title} is empty over a week`).toBe(false);
    }
  });

  it('honours the time range: nothing is shown for a range before the data', async () => {
    for (const r of await runBoard(d, before(), 'all')) if (!BY_TRACE_ID(r.panel)) expect(r.empty, r.panel.title).toBe(true);
  });

  it('every panel filters on the time range and on each of the dashboard variables', () => {
    const names = d.templating.list.map((v) => v.name).filter((n) => n !== 'trace_id');
    for (const p of allPanels(d)) {
      for (const q of p.targets) {
        if (BY_TRACE_ID(p)) {
          expect(q.rawSql, p.title).toContain('${trace_id');
          continue;
        }
        expect(q.rawSql, p.title).toMatch(/\$__(timeFilter|dateFilter|dateTimeFilter|dt|fromTime|timeFilter_ms)\b/);
        for (const n of names) expect(q.rawSql, `${p.title} ignores $${n}`).toMatch(new RegExp(`\\$\\{?${n}\\b`));
      }
    }
  });
});

describe('variables filter', () => {
  it('the cost stat for each team adds up to the cost for all teams', async () => {
    const d = boards.find((b) => b.uid === 'tracegate-tokens')!;
    const panel = allPanels(d).find((p) => p.title === 'Cost')!;
    const { variables, options } = await resolveVariables(store, d, seeded(), 'all');
    const cost = async (team: string[]) => {
      const r = await runTarget(store, panel.targets[0], { ...seeded(), variables: { ...variables, team: { value: team, options: options.team } } });
      return Number(r.rows[0].cost);
    };
    const total = await cost(['$__all']);
    const parts: number[] = [];
    for (const t of options.team) parts.push(await cost([t]));
    expect(parts.every((p) => p > 0 && p < total)).toBe(true);
    expect(parts.reduce((a, b) => a + b, 0)).toBeCloseTo(total, 9);
    expect(await cost(options.team)).toBeCloseTo(total, 9);
  });
});

describe("the gateway's fallbacks, retries, circuit skips and refusals (gateway_call_outcomes)", () => {
  const gateway = () => boards.find((b) => b.uid === 'tracegate-gateway')!;
  /** What the gateway spans' own attributes in otel_traces say, for the counted calls of llm_spans that `calls` keeps. */
  const fromAttributes = async (calls: string) => {
    const spans = `FROM otel_traces WHERE (TraceId, SpanId) IN (SELECT trace_id, span_id FROM llm_spans WHERE counted = 1 AND origin = 'gateway' AND ${calls})`;
    const skipped = "arrayFilter(b -> b != '', splitByChar(',', SpanAttributes['tracegate.circuit.skipped']))";
    const [totals] = await store.rows<{ fallbacks: number; retries: number; circuit_skips: number }>(
      `SELECT countIf(SpanAttributes['tracegate.fallback.used'] = 'true') AS fallbacks, sum(toUInt32OrZero(SpanAttributes['tracegate.retries'])) AS retries,
              sum(length(${skipped})) AS circuit_skips ${spans}`,
    );
    const refusals = await store.rows<{ refusal: string; refusals: number }>(
      `SELECT concat(SpanAttributes['tracegate.policy.reason'], ' / ', SpanAttributes['tracegate.policy.scope']) AS refusal, count() AS refusals ${spans}
         AND SpanAttributes['tracegate.policy.reason'] != '' GROUP BY refusal ORDER BY refusal`,
    );
    const skips = await store.rows<{ backend: string; skips: number }>(`SELECT arrayJoin(${skipped}) AS backend, count() AS skips ${spans} GROUP BY backend ORDER BY backend`);
    return { totals: { fallbacks: Number(totals.fallbacks), retries: Number(totals.retries), circuit_skips: Number(totals.circuit_skips) }, refusals, skips };
  };
  const fromPanels = async (variables: Record<string, VariableState>) => {
    const panel = async (title: string) => (await runTarget(store, allPanels(gateway()).find((p) => p.title === title)!.targets[0], { ...seeded(), variables })).rows;
    const series = await panel('Fallbacks, retries and circuit-breaker skips');
    const sum = (c: string) => series.reduce((a, r) => a + Number(r[c]), 0);
    const refusals = new Map<string, number>();
    for (const r of await panel('Policy refusals by reason and scope')) refusals.set(String(r.refusal), (refusals.get(String(r.refusal)) ?? 0) + Number(r.refusals));
    const byKey = (await panel('Policy refusals by key')).reduce((a, r) => a + Number(r.refusals), 0);
    const [stat] = await panel('Policy refusals');
    // the stat, the series by key and the series by reason count the same refusals
    expect(Number(stat.refusals)).toBe(byKey);
    expect(byKey).toBe([...refusals.values()].reduce((a, b) => a + b, 0));
    return {
      totals: { fallbacks: sum('fallbacks'), retries: sum('retries'), circuit_skips: sum('circuit_skips') },
      refusals: [...refusals].sort(([a], [b]) => a.localeCompare(b)).map(([refusal, refusals]) => ({ refusal, refusals })),
      skips: (await panel('Backends skipped by an open circuit breaker')).map((r) => ({ backend: String(r.backend), skips: Number(r.skips) })).sort((a, b) => a.backend.localeCompare(b.backend)),
    };
  };

  it('with All selected they count what the gateway spans say', async () => {
    const { variables } = await resolveVariables(store, gateway(), seeded(), 'all');
    const want = await fromAttributes('1');
    expect(want.totals.fallbacks * want.totals.retries * want.totals.circuit_skips).toBeGreaterThan(0);
    expect(want.refusals.length).toBeGreaterThan(1);
    expect(await fromPanels(variables)).toEqual({
      ...want,
      refusals: want.refusals.map((r) => ({ ...r, refusals: Number(r.refusals) })),
      skips: want.skips.map((r) => ({ ...r, skips: Number(r.skips) })),
    });
  });

  it('for one service, team or model they count that one’s calls only', async () => {
    const { variables, options } = await resolveVariables(store, gateway(), seeded(), 'all');
    const all = await fromAttributes('1');
    for (const [name, col] of [
      ['service', 'app_service_name'],
      ['team', 'team'],
      ['model', 'model'],
    ] as const) {
      const value = options[name][0];
      const want = await fromAttributes(`${col} = '${value}'`);
      const got = await fromPanels({ ...variables, [name]: { value: [value], options: options[name] } });
      // a share of the calls with retries, not none and not all
      expect(want.totals.retries, `${name} ${value}`).toBeGreaterThan(0);
      expect(want.totals.retries, `${name} ${value}`).toBeLessThan(all.totals.retries);
      expect(got.totals, `${name} ${value}`).toEqual(want.totals);
      expect(got.refusals, `${name} ${value}`).toEqual(want.refusals.map((r) => ({ ...r, refusals: Number(r.refusals) })));
    }
  });
});

describe('team and key', () => {
  const tokens = () => boards.find((b) => b.uid === 'tracegate-tokens')!;

  it('the cost and tokens for each key add up to those of all keys, and keys of one team to that team', async () => {
    const d = tokens();
    const [cost, tok] = ['Cost', 'Tokens'].map((t) => allPanels(d).find((p) => p.title === t)!);
    const { variables, options } = await resolveVariables(store, d, seeded(), 'all');
    const stat = async (panel: Panel, team: string[], key: string[]) => {
      const r = await runTarget(store, panel.targets[0], {
        ...seeded(),
        variables: { ...variables, team: { value: team, options: options.team }, key: { value: key, options: options.key } },
      });
      return Number(Object.values(r.rows[0])[0]);
    };
    expect(options.key).toEqual([...facts.keys].sort());
    for (const panel of [cost, tok]) {
      const total = await stat(panel, ['$__all'], ['$__all']);
      const parts = await Promise.all(options.key.map((k) => stat(panel, ['$__all'], [k])));
      expect(
        parts.every((p) => p > 0 && p < total),
        panel.title,
      ).toBe(true);
      expect(parts.reduce((a, b) => a + b, 0)).toBeCloseTo(total, 9);
      const team = options.team[0];
      expect(await stat(panel, [team], ['$__all'])).toBeCloseTo(await stat(panel, [team], options.key), 9);
      expect(
        await stat(
          panel,
          [team],
          options.key.filter((k) => !k.startsWith(team)),
        ),
      ).toBe(0);
    }
  });

  it('offers the keys of the chosen teams', async () => {
    const d = tokens();
    const { variables, options } = await resolveVariables(store, d, seeded(), 'all');
    const keyVar = d.templating.list.find((v) => v.name === 'key')!;
    const team = options.team[1];
    const ctx = { ...seeded(), variables: { ...variables, team: { value: [team], options: options.team } } };
    const r = await run(store, expandQuery(String((keyVar.query as { rawSql: string }).rawSql), ctx));
    expect(r.rows.map((x) => Object.values(x)[0])).toEqual(facts.keys.filter((k) => k.startsWith(team)));
  });

  it('spend and tokens per team and per key agree with the rollup', async () => {
    const d = tokens();
    const { variables } = await resolveVariables(store, d, seeded(), 'all');
    const table = async (title: string) => (await runTarget(store, allPanels(d).find((p) => p.title === title)!.targets[0], { ...seeded(), variables })).rows;
    const [byTeam, byKey] = [await table('Spend and tokens by team'), await table('Spend and tokens by key (top spenders)')];
    const sum = (rows: Record<string, unknown>[], c: string) => rows.reduce((a, r) => a + Number(r[c]), 0);
    for (const c of ['cost', 'calls', 'tokens']) expect(sum(byKey, c), c).toBeCloseTo(sum(byTeam, c), 6);
    expect(
      byKey
        .map((r) => r.key)
        .filter(Boolean)
        .sort(),
    ).toEqual([...facts.keys].sort());
  });
});

describe('pipeline health', () => {
  it("shows the count-once decider's lag per collector, its stall and its last error", async () => {
    const d = boards.find((b) => b.uid === 'tracegate-pipeline')!;
    const { variables } = await resolveVariables(store, d, seeded(), 'all');
    const lag = allPanels(d).find((p) => p.title.startsWith('Count-once decider'))!;
    const r = await runTarget(store, lag.targets[0], { ...seeded(), variables });
    const worst = (instance: string) => Math.max(...r.rows.filter((x) => x.instance === instance).map((x) => Number(x.decider_lag_s)));
    // stuck from minute 100 to 105 on collector-a's node (its last row in it: 292 s after its last
    // run); a run every 2 s elsewhere
    expect(worst('collector-a')).toBe(292);
    expect(worst('collector-b')).toBeLessThan(5);
    const table = allPanels(d).find((p) => p.title === 'Collector instances')!;
    const t = await runTarget(store, table.targets[0], { ...seeded(), variables });
    // its error is gone once it runs again
    expect(t.rows.map((x) => [x.instance, x.decider_error])).toEqual([
      ['collector-a', ''],
      ['collector-b', ''],
    ]);
    const during = { ...seeded(), toMs: facts.startMs + 103 * 60_000 };
    const t2 = await runTarget(store, table.targets[0], { ...during, variables });
    expect(t2.rows.find((x) => x.instance === 'collector-a')?.decider_error).toMatch(/Memory limit exceeded/);
  });
});

describe('the trace view', () => {
  it('shows every span of the trace named by the variable, in the columns the view reads', async () => {
    const d = boards.find((b) => allPanels(b).some(BY_TRACE_ID))!;
    const panel = allPanels(d).find(BY_TRACE_ID)!;
    const { variables } = await resolveVariables(store, d, seeded(), 'all', { trace_id: facts.agentTraceIds[3] });
    const r = await runTarget(store, panel.targets[0], { ...seeded(), variables });
    const [{ n }] = await store.rows<{ n: number }>('SELECT count() AS n FROM otel_traces WHERE TraceId = {t:String}', { t: facts.agentTraceIds[3] });
    expect(r.rows.length).toBe(Number(n));
    expect(new Set(r.rows.map((x) => x.traceID))).toEqual(new Set([facts.agentTraceIds[3]]));
    expect(r.rows.filter((x) => x.parentSpanID === '')).toHaveLength(1);
    expect(r.rows.some((x) => Number(x.statusCode) === 2)).toBe(true);
  });
});

describe('histograms', () => {
  it('count every value in doubling buckets, exactly, as the xMin/xMax frame Grafana draws', async () => {
    const values = [0, 0.5, 1, 3, 3.5, 4, 700, 1023.9, 1024];
    const panel = histogram('t', `SELECT arrayJoin([${values.join(', ')}]) AS v`, '1', 'runs');
    const r = await run(store, panel.targets[0].rawSql);
    expect(shapeProblems(panel, r)).toEqual([]);
    expect(r.rows.map((x) => [Number(x.xMin), Number(x.xMax), Number(x.runs)])).toEqual([
      [0, 1, 2],
      [1, 2, 1],
      [2, 4, 2],
      [4, 8, 1],
      [512, 1024, 2],
      [1024, 2048, 1],
    ]);
  });

  it("the agent board's distributions answer one row a bucket, not one a run", async () => {
    const d = boards.find((b) => b.uid === 'tracegate-agents')!;
    const runs = await store.rows<{ n: string }>(`SELECT count() AS n FROM ${store.database}.agent_runs`);
    for (const r of (await runBoard(d, seeded(), 'all')).filter((x) => x.panel.type === 'histogram')) {
      expect(r.problems, r.panel.title).toEqual([]);
      expect(r.rows, r.panel.title).toBeLessThanOrEqual(64);
      expect(r.rows, r.panel.title).toBeGreaterThan(0);
    }
    expect(Number(runs[0].n)).toBeGreaterThan(0);
  });
});

describe('saved by caching', () => {
  it("is each model's cache-read tokens times its input price less its cached-input price, as schemas/prices.ts prices them", async () => {
    const d = boards.find((b) => b.uid === 'tracegate-tokens')!;
    const panel = allPanels(d).find((p) => p.title === 'Saved by caching' && p.type === 'stat')!;
    const { variables } = await resolveVariables(store, d, seeded(), 'all');
    const r = await runTarget(store, panel.targets[0], { ...seeded(), variables });
    const byModel = await store.rows<{ model: string; tokens: string }>(`SELECT model, sum(cache_read_tokens) AS tokens FROM ${store.database}.usage_minutely GROUP BY model HAVING tokens > 0`);
    const table = indexPrices(loadPriceTable());
    let expected = 0;
    for (const m of byModel) {
      const p = table.find(m.model);
      if (p) expected += (Number(m.tokens) * Math.max(p.input - (p.cached_input ?? p.input), 0)) / 1e6;
    }
    expect(byModel.length).toBeGreaterThan(0);
    expect(expected).toBeGreaterThan(0);
    expect(Number(r.rows[0].saved)).toBeCloseTo(expected, 9);
  });
});
