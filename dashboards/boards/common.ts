import { queryVariable } from '../board.js';
import type { Variable } from '../model.js';
import { firstDayFrom } from '../../common/usage.js';
import { inVar, where } from '../sql.js';

/**
 * The five variables most dashboards share and the filters that honour them, for each table:
 * - `usage_minutely` (the rollup: per minute, mergeable), or USAGE_RANGE for a panel that sums the
 *   whole range (whole days and hours from `usage_daily` and `usage_hourly`),
 * - `llm_spans` (one row per span, raw retention; for dimensions the rollup does not keep),
 * - tables without these columns, through a semi-join on `llm_spans` that is only present
 *   while a variable is not All.
 * "service" is the calling application's service (`app_service_name`): a call through the
 * gateway is billed to the application that made it.
 */

const FROM_HOUR = 'toStartOfHour($__fromTime + INTERVAL 3599 SECOND)';
const TO_HOUR = 'toStartOfHour($__toTime + INTERVAL 60 SECOND)';
const FROM_DAY = firstDayFrom(FROM_HOUR);
const TO_DAY = `toStartOfDay(${TO_HOUR})`;
/**
 * The open minutes, hours and days (0084): one scalar, the text `usage_minutely_live` reads its
 * minutes with, computed once a query, so that the minutes a panel reads stored and those computed
 * live are one set.
 */
const OPEN_SETS = '(SELECT (minutes, hours, days) FROM usage_open_sets)';
const OPEN_MINUTES = `${OPEN_SETS}.1`;
const OPEN_HOURS = `${OPEN_SETS}.2`;
const OPEN_DAYS = `${OPEN_SETS}.3`;
/** An hour of the range read from the hourly level: not part of a whole day stored in usage_daily. */
const byHour = (col: string) => `(${col} < ${FROM_DAY} OR ${col} >= ${TO_DAY} OR has(${OPEN_DAYS}, toStartOfDay(${col})))`;
/** The minutes of the range read from the minutely level: the partial hours at the edges, and the open hours not part of a whole stored day. */
const MINUTES = `$__timeFilter(minute) AND (minute < ${FROM_HOUR} OR minute >= ${TO_HOUR} OR (${byHour('minute')} AND has(${OPEN_HOURS}, toStartOfHour(minute))))`;

/**
 * The usage rollup over the dashboard's range, for panels that sum the whole range (no time
 * buckets), as the usage query reads it (common/usage.ts): the range's whole days stored in
 * usage_daily that nothing touched since (as `usage_daily_stored` reads them, 0080), its other
 * whole hours stored in usage_hourly that nothing touched since (as `usage_hourly_stored`, 0077),
 * and the rest from the minutes (the partial hours at the edges and the open hours), stored or
 * live (as `usage_minutely`). `day` and `hour` are read as `minute`. Exact at every moment as
 * usage_minutely is; a month is 30 stored days instead of 43,200 minutes of every key. The columns
 * are usage_minutely's. The levels are read from their stored rows and `usage_minutely_live`
 * directly, with the open sets one scalar, rather than through the views, which read them again each.
 */
export const USAGE_RANGE = `(
    SELECT day AS minute, * EXCEPT (day) FROM usage_daily_data FINAL
    WHERE day >= ${FROM_DAY} AND day < ${TO_DAY} AND calls > 0 AND NOT has(${OPEN_DAYS}, day)
    UNION ALL
    SELECT hour AS minute, * EXCEPT (hour) FROM usage_hourly_data FINAL
    WHERE hour >= ${FROM_HOUR} AND hour < ${TO_HOUR} AND ${byHour('hour')} AND calls > 0 AND NOT has(${OPEN_HOURS}, hour)
    UNION ALL
    SELECT * FROM usage_minutely_data FINAL WHERE ${MINUTES} AND calls > 0 AND NOT has(${OPEN_MINUTES}, minute)
    UNION ALL
    SELECT * FROM usage_minutely_live WHERE ${MINUTES})`;

const distinct = (col: string, ...conds: string[]) => `SELECT DISTINCT ${col} FROM ${USAGE_RANGE} WHERE ${where('$__timeFilter(minute)', `${col} != ''`, ...conds)} ORDER BY 1`;

export const standardVariables = (): Variable[] => [
  queryVariable('service', 'Service', distinct('service_name'), { description: 'The calling application (a call through the gateway counts for its caller).' }),
  queryVariable('model', 'Model', distinct('model')),
  queryVariable('team', 'Team', distinct('team'), { description: 'The team of the gateway key the call used.' }),
  queryVariable('key', 'Key', distinct('key_name', inVar('team', 'team')), {
    description: 'The name of the gateway key (ApiKey document) the call used; the keys of the chosen teams.',
  }),
  queryVariable('route', 'Route', distinct('route')),
];

/** The rollup, filtered by time and the five variables. */
export const USAGE_WHERE = where('$__timeFilter(minute)', inVar('service_name', 'service'), inVar('model', 'model'), inVar('team', 'team'), inVar('key_name', 'key'), inVar('route', 'route'));

/** Raw spans, filtered by time and the five variables. */
export const SPANS_WHERE = where('$__timeFilter(timestamp)', inVar('app_service_name', 'service'), inVar('model', 'model'), inVar('team', 'team'), inVar('key_name', 'key'), inVar('route', 'route'));

/** The counted model calls (each call once, with the gateway's figures) among raw spans. */
export const CALLS_WHERE = where(SPANS_WHERE, 'counted = 1');

/**
 * For a table keyed by span or trace id: keeps the rows whose call matches the variables.
 * `col` is the table's span id (or trace id) column, `spanCol` the matching llm_spans column.
 */
export function matchingCalls(col: string, spanCol: 'span_id' | 'trace_id', except: string[] = []): string {
  const vars: [string, string][] = [
    ['app_service_name', 'service'],
    ['model', 'model'],
    ['team', 'team'],
    ['key_name', 'key'],
    ['route', 'route'],
  ];
  return where(
    ...vars
      .filter(([, v]) => !except.includes(v))
      .map(([c, v]) => `$__conditionalAll(${col} IN (SELECT ${spanCol} FROM llm_spans WHERE $__timeFilter(timestamp) AND ${c} IN (\${${v}:singlequote})), $${v})`),
  );
}
