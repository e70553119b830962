import { queryVariable } from '../board.js';
import type { Variable } from '../model.js';
import { inVar, where } from '../sql.js';

/**
 * The five variables most dashboards share and the filters that honour them, for each table:
 * - `usage_minutely` (the rollup: per minute, mergeable), or USAGE_RANGE for a panel that sums the
 *   whole range (whole hours from `usage_hourly`),
 * - `llm_spans` (one row per span, raw retention; for dimensions the rollup does not keep),
 * - tables without these columns, through a semi-join on `llm_spans` that is only present
 *   while a variable is not All.
 * "service" is the calling application's service (`app_service_name`): a call through the
 * gateway is billed to the application that made it.
 */

const FROM_HOUR = 'toStartOfHour($__fromTime + INTERVAL 3599 SECOND)';
const TO_HOUR = 'toStartOfHour($__toTime + INTERVAL 60 SECOND)';

/**
 * The usage rollup over the dashboard's range, for panels that sum the whole range (no time
 * buckets): the range's whole hours stored in usage_hourly that nothing touched since
 * (`usage_hourly_stored`, `hour` read as `minute`), and the rest of the range from usage_minutely
 * (the partial hours at its edges and the open hours, 0077). Exact at every moment as
 * usage_minutely is; a month is 720 stored hours instead of 43,200 minutes of every key. The
 * columns are usage_minutely's. (`usage_hourly_open` as one scalar, the text usage_hourly_stored
 * reads it with, so that the engine computes it once.)
 */
export const USAGE_RANGE = `(
    SELECT hour AS minute, * EXCEPT (hour) FROM usage_hourly_stored WHERE hour >= ${FROM_HOUR} AND hour < ${TO_HOUR}
    UNION ALL
    SELECT * FROM usage_minutely
    WHERE $__timeFilter(minute)
      AND (minute < ${FROM_HOUR} OR minute >= ${TO_HOUR}
           OR toStartOfHour(minute) IN (SELECT arrayJoin((SELECT groupArray(hour) FROM usage_hourly_open)))))`;

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
