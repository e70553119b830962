/**
 * The usage query behind `tracegate usage` and the collector's `GET /v1/usage`: calls, tokens,
 * cost and latency from the `usage_minutely`, `usage_hourly` and `usage_daily` rollups (each model call counted
 * once), over a window, grouped by a fixed set of dimensions, with optional filters. Parameters are
 * validated by one zod schema; group-by columns come from a whitelist and every value is bound
 * as a query parameter, never written into the SQL text.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { checkDatabaseName } from './store.js';
import { z } from 'zod';

/** Group-by dimensions and the rollup expression each reads. */
export const USAGE_DIMENSIONS = {
  model: 'model',
  provider: 'provider',
  route: 'route',
  team: 'team',
  key: 'key_name',
  service: 'service_name',
  kind: 'span_kind',
  minute: 'minute',
  hour: 'toStartOfHour(minute)',
  day: 'toStartOfDay(minute)',
} as const;
export type UsageDimension = keyof typeof USAGE_DIMENSIONS;
const DIMENSION_NAMES = Object.keys(USAGE_DIMENSIONS) as [UsageDimension, ...UsageDimension[]];

/** Dimensions that can also filter: each binds against its dimension's column. */
export const USAGE_FILTERS = ['model', 'provider', 'route', 'team', 'key', 'service'] as const satisfies readonly UsageDimension[];
export type UsageFilter = (typeof USAGE_FILTERS)[number];

const RELATIVE = /^(\d{1,4})(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** The rollups' default TTL: a longer window reads nothing more. */
export const MAX_WINDOW_DAYS = 400;
const WINDOW_MSG = 'a window like 15m, 1h, 24h, 7d or 30d, or an ISO date-time such as 2025-08-01T00:00:00Z';

const timeSpec = z
  .string()
  .trim()
  .refine((s) => RELATIVE.test(s) || (/^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s))), { message: WINDOW_MSG });

const filterValue = z.string().trim().min(1, 'must not be empty').max(200, 'at most 200 characters');

const byList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(
    z
      .array(z.enum(DIMENSION_NAMES, { error: `must be among ${DIMENSION_NAMES.join(', ')}` }))
      .max(6, 'at most 6 dimensions')
      .refine((a) => new Set(a).size === a.length, 'lists a dimension twice'),
  );

export const UsageParamsSchema = z
  .object({
    since: timeSpec.default('1h'),
    until: timeSpec.optional(),
    by: byList.default(['model']),
    model: filterValue.optional(),
    provider: filterValue.optional(),
    route: filterValue.optional(),
    team: filterValue.optional(),
    key: filterValue.optional(),
    service: filterValue.optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(100),
    /** Output format; the query ignores it, the CLI and the HTTP handler read it. */
    format: z.enum(['table', 'json', 'csv']).optional(),
  })
  .strict();

export type UsageParams = z.output<typeof UsageParamsSchema>;
export type UsageParamsInput = z.input<typeof UsageParamsSchema>;

/** Bad usage parameters: `problems` holds one `path: message` line each. */
export class UsageParamsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid usage parameters: ${problems.join('; ')}`);
  }
}

/** Validates parameters from the CLI or a query string; reports every problem at once. */
export function parseUsageParams(input: unknown): UsageParams {
  const result = UsageParamsSchema.safeParse(input ?? {});
  if (!result.success) throw new UsageParamsError(result.error.issues.map((i) => `${i.path.join('.') || '(parameters)'}: ${i.message}`));
  return result.data;
}

function instant(spec: string, now: Date): Date {
  const rel = RELATIVE.exec(spec);
  return rel ? new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]) : new Date(spec);
}

/** The window's start and end; `until` defaults to now. Throws UsageParamsError for an empty or too-long window. */
export function resolveWindow(params: Pick<UsageParams, 'since' | 'until'>, now = new Date()): { start: Date; end: Date } {
  const start = instant(params.since, now);
  const end = params.until ? instant(params.until, now) : now;
  const problems: string[] = [];
  if (start.getTime() >= end.getTime()) problems.push('since: must be before until (or now)');
  if (end.getTime() - start.getTime() > MAX_WINDOW_DAYS * UNIT_MS.d) problems.push(`since: the window may span at most ${MAX_WINDOW_DAYS} days`);
  if (problems.length) throw new UsageParamsError(problems);
  return { start, end };
}

/** The measures every usage row carries, in output order. */
export const USAGE_MEASURES = ['calls', 'errors', 'prompt_tokens', 'completion_tokens', 'cache_read_tokens', 'total_tokens', 'cost_usd', 'latency_p50_ms', 'latency_p95_ms'] as const;

/** Output columns for the parameters: the group-by dimensions, then the measures. */
export function usageColumns(params: Pick<UsageParams, 'by'>): string[] {
  return [...params.by, ...USAGE_MEASURES];
}

/** The rollup columns a usage query reads. */
const READ_COLUMNS = 'service_name, span_kind, model, provider, route, team, key_name, calls, errors, prompt_tokens, completion_tokens, cache_read_tokens, total_tokens, cost_total, latency_ms_state';
/** The latency percentiles a usage row carries, p50 and p95. */
const LATENCY_QUANTILES = 'quantilesTDigestMerge(0.5, 0.95)(latency_ms_state)';
/** From this window on, whole hours are read from `usage_hourly` (two hours hold a whole hour in any time zone's alignment). */
const HOURLY_FROM_MS = 2 * UNIT_MS.h;
/** From this window on, whole days are read from `usage_daily` as well. */
const DAILY_FROM_MS = 2 * UNIT_MS.d;

export interface UsageQueryOptions {
  /** Read whole hours from `usage_hourly` where the window allows (default); false reads every minute from `usage_minutely`. */
  hourly?: boolean;
  /** Read whole days from `usage_daily` where the window and the grouping allow (default); false stops at hours. */
  daily?: boolean;
  /**
   * No minute, hour or day was open when the caller looked (`nothingOpen`, just before): the query
   * reads stored rows only, with neither the open sets nor the live minutes to plan. queryUsage
   * looks itself when this is not given.
   */
  closed?: boolean;
}

/**
 * The start of the first whole day at or after `hour` (an hour's start), in the engine's time
 * zone: the next day's start is found from noon of the day after this one's start (36 hours on),
 * whatever the length of the day in a zone that changes its clocks.
 */
export const firstDayFrom = (hour: string) => `if(toStartOfDay(${hour}) = ${hour}, ${hour}, toStartOfDay(toStartOfDay(${hour}) + INTERVAL 36 HOUR))`;

/**
 * The open minutes, hours and days (0084) as one scalar: the text `usage_minutely_live` reads its
 * minutes with, so that the engine computes it once a query and the minutes read stored and those
 * computed live are one set.
 */
const openSets = (database: string) => `(SELECT (minutes, hours, days) FROM ${database}.usage_open_sets) AS opens`;

/**
 * The rows a usage query aggregates, as a FROM clause with its filters, and what it needs in a
 * WITH. Minutes come from `usage_minutely`. Over a long window without a minute dimension, the
 * window's whole hours come from `usage_hourly`: the stored hours nothing touched since (the
 * stored rows of the hours not open, `hour` read as `minute`), and the open hours with the
 * partial hours at the window's edges from the minutes. Over a window of days without an hour
 * dimension, its whole days come from `usage_daily` the same way: the stored days, and the open
 * days with the partial days at the edges from the hours (and so from the minutes). An hour is read
 * from the hourly level only where its day is not read whole, and its minutes only where, in
 * addition, the hour is open for usage_hourly: the levels' open sets follow their own refreshes.
 * The levels are read as their views (`usage_daily_stored`, `usage_hourly_stored`,
 * `usage_minutely`) define them, from the stored rows and `usage_minutely_live`, with the open
 * sets read once (`opens`) rather than again in each view. Every level is exact at every moment
 * and t-digest states merge across them. `closed` (nothing was open: nothingOpen) reads the stored
 * rows only, as these views do when their open sets are empty.
 */
function usageSource(database: string, filters: string[], hourly: boolean, daily: boolean, closed: boolean): { with: string; from: string } {
  const fromMinute = 'toStartOfMinute(parseDateTimeBestEffort({start:String}))';
  const toTime = 'parseDateTimeBestEffort({end:String})';
  if (!hourly) {
    const range = [`minute >= ${fromMinute}`, `minute < ${toTime}`];
    // (a subquery: the outer SELECT's sum(calls) AS calls would shadow the column in a WHERE beside it)
    if (closed) return { with: '', from: `FROM (\n  SELECT minute, ${READ_COLUMNS} FROM ${database}.usage_minutely_data FINAL WHERE ${[...range, 'calls > 0', ...filters].join(' AND ')}\n)` };
    return { with: '', from: `FROM ${database}.usage_minutely\nWHERE ${[...range, ...filters].join(' AND ')}` };
  }
  // the engine's own hours and days (its time zone), so that the window splits where the rollups do
  const fromHour = `toStartOfHour(${fromMinute} + INTERVAL 59 MINUTE)`;
  const toHour = `toStartOfHour(${toTime})`;
  const fromDay = firstDayFrom(fromHour);
  const toDay = `toStartOfDay(${toHour})`;
  // where an hour of [fromHour, toHour) is read from the hourly level, not as part of a whole stored day
  const byHour = (col: string) => (daily ? ` AND (${col} < ${fromDay} OR ${col} >= ${toDay}${closed ? '' : ` OR has(opens.3, toStartOfDay(${col}))`})` : '');
  const where = (...conds: string[]) => [...conds, ...filters].join(' AND ');
  // ranges the primary key can read, not NOT(whole hours): the partial hours at the window's edges, and the open hours
  const edges = `(minute >= ${fromMinute} AND minute < ${fromHour}) OR (minute >= ${toHour} AND minute < ${toTime})`;
  const minutes = closed ? `(${edges})` : `(${edges} OR (minute >= ${fromHour} AND minute < ${toHour}${byHour('minute')} AND has(opens.2, toStartOfHour(minute))))`;
  const stored = (table: string, col: string, level: number, range: string) =>
    `  SELECT ${col === 'minute' ? '' : `${col} AS `}minute, ${READ_COLUMNS} FROM ${database}.${table} FINAL WHERE ${where(range, 'calls > 0', ...(closed ? [] : [`NOT has(opens.${level}, ${col})`]))}`;
  return {
    with: closed ? '' : openSets(database),
    from: [
      'FROM (',
      ...(daily ? [stored('usage_daily_data', 'day', 3, `day >= ${fromDay} AND day < ${toDay}`), '  UNION ALL'] : []),
      stored('usage_hourly_data', 'hour', 2, `hour >= ${fromHour} AND hour < ${toHour}${byHour('hour')}`),
      '  UNION ALL',
      stored('usage_minutely_data', 'minute', 1, minutes),
      ...(closed ? [] : ['  UNION ALL', `  SELECT minute, ${READ_COLUMNS} FROM ${database}.usage_minutely_live WHERE ${where(minutes)}`]),
      ')',
    ].join('\n'),
  };
}

/**
 * Whether no minute, hour or day is open for its rollup now (usage_open_sets, 0084: every stored
 * row holds every call inserted before its refresh's window): then a usage query need not plan
 * the open sets and the live minutes, which are most of its cost on an idle store (the 30-day
 * query read 52-64 ms of stored rows against 137-222 for the whole query, 2026-12-08, 10 million
 * spans). Counting once holds across the two reads: a minute (hour, day) is read from one level
 * only, the one the open sets of this first read give it, and each level's row is exact for the
 * moment its refresh read the spans; a call stored in between is counted, or not yet, never twice.
 */
export async function nothingOpen(client: ClickHouseClient, database: string): Promise<boolean> {
  checkDatabaseName(database);
  // The open sets are empty exactly when no span was stored since the oldest of the three windows
  // (usage_open_sets reads those spans): one row found is enough, and under traffic the first
  // granule has one, where computing the sets reads every span stored in the windows.
  const rs = await client.query({
    query: `SELECT count() = 0 AS closed FROM (SELECT 1 FROM ${database}.llm_spans_data WHERE inserted_at >= (SELECT least(minutely_since, hourly_since, daily_since) FROM ${database}.rollup_windows) LIMIT 1)`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ closed: number | boolean }>();
  return Boolean(Number(row?.closed ?? 0));
}

/** The statement and its bound parameters. Pure: identifiers from the whitelists only. */
export function buildUsageQuery(database: string, params: UsageParams, now = new Date(), opts: UsageQueryOptions = {}): { query: string; query_params: Record<string, unknown> } {
  checkDatabaseName(database);
  const { start, end } = resolveWindow(params, now);
  const query_params: Record<string, unknown> = { start: start.toISOString(), end: end.toISOString(), limit: params.limit };
  const filters: string[] = [];
  for (const name of USAGE_FILTERS) {
    const value = params[name];
    if (value === undefined) continue;
    filters.push(`${USAGE_DIMENSIONS[name]} = {f_${name}:String}`);
    query_params[`f_${name}`] = value;
  }
  const span = end.getTime() - start.getTime();
  const hourly = opts.hourly !== false && !params.by.includes('minute') && span >= HOURLY_FROM_MS;
  const daily = hourly && opts.daily !== false && !params.by.includes('hour') && span >= DAILY_FROM_MS;
  const dims = params.by.map((d) => `${USAGE_DIMENSIONS[d]} AS ${d}`);
  const finite = (expr: string) => `if(isFinite(${expr}), round(${expr}, 1), NULL)`;
  const select = [
    ...dims,
    'sum(calls) AS calls',
    'sum(errors) AS errors',
    'sum(prompt_tokens) AS prompt_tokens',
    'sum(completion_tokens) AS completion_tokens',
    'sum(cache_read_tokens) AS cache_read_tokens',
    'sum(total_tokens) AS total_tokens',
    'round(sum(cost_total), 6) AS cost_usd',
    // both from one merge of the t-digest states (the same aggregate named four times is computed
    // once), the query's dearest part over a long window: two merges took half as long again
    `${finite(`${LATENCY_QUANTILES}[1]`)} AS latency_p50_ms`,
    `${finite(`${LATENCY_QUANTILES}[2]`)} AS latency_p95_ms`,
  ];
  const isTime = (d: UsageDimension) => d === 'minute' || d === 'hour' || d === 'day';
  const order = [...params.by.filter(isTime), 'cost_usd DESC', 'calls DESC', ...params.by.filter((d) => !isTime(d))];
  const source = usageSource(database, filters, hourly, daily, opts.closed === true);
  const query = [
    source.with ? `WITH ${source.with}` : '',
    `SELECT ${select.join(', ')}`,
    source.from,
    params.by.length ? `GROUP BY ${params.by.join(', ')}` : '',
    params.by.length ? `HAVING calls > 0` : '',
    `ORDER BY ${order.join(', ')}`,
    'LIMIT {limit:UInt32}',
  ]
    .filter(Boolean)
    .join('\n');
  return { query, query_params };
}

export type UsageRow = Record<string, string | number | null>;

/** Runs the usage query; numbers come back as numbers, dimensions as strings. */
export async function queryUsage(client: ClickHouseClient, database: string, params: UsageParams, now = new Date(), opts: UsageQueryOptions = {}): Promise<UsageRow[]> {
  const closed = opts.closed ?? (await nothingOpen(client, database));
  const { query, query_params } = buildUsageQuery(database, params, now, { ...opts, closed });
  const rs = await client.query({ query, query_params, format: 'JSONEachRow' });
  const rows = await rs.json<UsageRow>();
  const columns = usageColumns(params);
  return rows
    .filter((r) => params.by.length > 0 || Number(r.calls) > 0)
    .map((r) => Object.fromEntries(columns.map((c) => [c, (USAGE_MEASURES as readonly string[]).includes(c) && r[c] !== null ? Number(r[c]) : r[c]])));
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV with a header line, in `columns` order (for `GET /v1/usage?format=csv`). */
export function usageCsv(rows: UsageRow[], columns: string[]): string {
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n')}\n`;
}
