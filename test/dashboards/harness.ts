import { ALL, expandQuery, type ExpandContext, type VariableState } from '../../dashboards/macros.js';
import type { ClickHouseQuery, Dashboard, Panel } from '../../dashboards/model.js';
import type { ClickHouseClient } from '@clickhouse/client';

/** What the harness reads through: a store's client (a test's TempStore, or a benchmark's Store). */
type Reader = { client: ClickHouseClient };

/**
 * Runs a dashboard the way Grafana would: resolves its variables in order (each variable's
 * query sees the ones before it), expands every panel query with the data source's macros,
 * runs it on the store, and checks the result has the shape its panel type draws.
 */

export interface Result {
  sql: string;
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

export interface Range {
  fromMs: number;
  toMs: number;
  intervalMs: number;
}

/** How each query variable is set: All, or its first option. */
export type Pick = 'all' | 'first';

export async function run(store: Reader, sql: string): Promise<Result> {
  const rs = await store.client.query({ query: sql, format: 'JSON' });
  const json = await rs.json<Record<string, unknown>>();
  return { sql, columns: json.meta ?? [], rows: json.data };
}

const rawSql = (q: unknown) => (typeof q === 'string' ? q : String((q as { rawSql?: string }).rawSql ?? ''));

/** Resolves the variables of a dashboard; text boxes take `text[name]` or stay empty. */
export async function resolveVariables(
  store: Reader,
  d: Dashboard,
  range: Range,
  pick: Pick,
  text: Record<string, string> = {},
): Promise<{ variables: Record<string, VariableState>; options: Record<string, string[]> }> {
  const variables: Record<string, VariableState> = {};
  const options: Record<string, string[]> = {};
  for (const v of d.templating.list) {
    if (v.type === 'textbox') {
      variables[v.name] = { value: text[v.name] ?? '' };
      continue;
    }
    const ctx: ExpandContext = { ...range, variables };
    const res = await run(store, expandQuery(rawSql(v.query), ctx));
    const first = res.columns[0]?.name;
    const values = res.rows.map((r) => String(r[first]));
    options[v.name] = values;
    const value = pick === 'all' || values.length === 0 ? (v.multi ? [ALL] : ALL) : v.multi ? [values[0]] : values[0];
    variables[v.name] = { value, options: values, allValue: v.allValue };
  }
  return { variables, options };
}

export async function runTarget(store: Reader, q: ClickHouseQuery, ctx: ExpandContext): Promise<Result> {
  return run(store, expandQuery(q.rawSql, ctx));
}

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;
const TIME = /^(Nullable\()?(DateTime|Date)/;
const TEXT = /^(Nullable\()?(LowCardinality\()?(String|FixedString|Enum)/;
const TRACE_COLUMNS = ['traceID', 'spanID', 'parentSpanID', 'serviceName', 'operationName', 'startTime', 'duration', 'tags', 'serviceTags'];

const has = (r: Result, re: RegExp) => r.columns.some((c) => re.test(c.type));

/** What is wrong with a result for a panel type; empty when it can be drawn. */
export function shapeProblems(panel: Panel, r: Result): string[] {
  const p: string[] = [];
  switch (panel.type) {
    case 'timeseries':
      if (!has(r, TIME)) p.push('a time series needs a time column');
      if (!has(r, NUMERIC)) p.push('a time series needs a numeric column');
      break;
    case 'stat':
      if (!has(r, NUMERIC)) p.push('a stat needs a numeric column');
      if (!has(r, TIME) && r.rows.length > 1) p.push(`a stat without a time column needs one row, got ${r.rows.length}`);
      break;
    case 'barchart':
    case 'piechart':
    case 'bargauge':
      if (!has(r, TEXT)) p.push(`a ${panel.type} needs a label column`);
      if (!has(r, NUMERIC)) p.push(`a ${panel.type} needs a numeric column`);
      break;
    case 'histogram':
      // bucketed by the query (Grafana's pre-bucketed frame), never one row a value
      if (r.columns[0]?.name !== 'xMin' || r.columns[1]?.name !== 'xMax' || r.columns.length < 3) p.push('a histogram needs the columns xMin, xMax and a count');
      else if (!r.columns.every((c) => NUMERIC.test(c.type))) p.push('a histogram needs numeric columns only');
      break;
    case 'traces':
      for (const c of TRACE_COLUMNS) if (!r.columns.some((x) => x.name === c)) p.push(`the trace view needs column ${c}`);
      break;
    case 'table':
      if (r.columns.length === 0) p.push('a table needs columns');
      break;
    default:
      p.push(`no shape rule for panel type ${panel.type}`);
  }
  return p;
}

/** True when a result carries no data: no rows, or only zeros and nulls in its numeric columns. */
export function isEmptyResult(r: Result): boolean {
  if (r.rows.length === 0) return true;
  const numeric = r.columns.filter((c) => NUMERIC.test(c.type)).map((c) => c.name);
  if (numeric.length === 0) return false;
  return r.rows.every((row) => numeric.every((n) => row[n] === null || Number(row[n]) === 0 || Number.isNaN(Number(row[n]))));
}
