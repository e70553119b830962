import { queryVariable } from '../board.js';
import type { Variable } from '../model.js';
import { inVar, where } from '../sql.js';

/**
 * The five variables most dashboards share and the filters that honour them, for each table:
 * - `usage_minutely` (the rollup: per minute, mergeable; what long ranges read),
 * - `llm_spans` (one row per span, raw retention; for dimensions the rollup does not keep),
 * - tables without these columns, through a semi-join on `llm_spans` that is only present
 *   while a variable is not All.
 * "service" is the calling application's service (`app_service_name`): a call through the
 * gateway is billed to the application that made it.
 */

const distinct = (col: string, ...conds: string[]) => `SELECT DISTINCT ${col} FROM usage_minutely WHERE ${where('$__timeFilter(minute)', `${col} != ''`, ...conds)} ORDER BY 1`;

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
