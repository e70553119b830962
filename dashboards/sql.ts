/**
 * SQL fragments the panels share. Filters go through the data source's `$__conditionalAll`, so
 * "All" (or an empty text box) drops the condition instead of listing every value.
 */

/** `col IN (…)` for a multi-value variable; nothing when All is selected. */
export const inVar = (col: string, variable: string) => `$__conditionalAll(${col} IN (\${${variable}:singlequote}), $${variable})`;

/** `col = '…'` for a text box; nothing while it is empty. */
export const eqText = (col: string, variable: string) => `$__conditionalAll(${col} = \${${variable}:sqlstring}, $${variable})`;

/** All the filters, joined with AND, one per line. */
export const where = (...conds: string[]) => conds.join('\n  AND ');

/**
 * The time bucket of a time series panel: Grafana's interval, at least `minSeconds` (a rollup
 * keyed by minute cannot be cut finer than its minute).
 */
export const bucket = (col: string, minSeconds = 1) =>
  minSeconds > 1 ? `toStartOfInterval(${col}, INTERVAL greatest($__interval_s, ${minSeconds}) second)` : `toStartOfInterval(${col}, INTERVAL $__interval_s second)`;

/** Seconds in one bucket, to turn counts into rates. */
export const bucketSeconds = (minSeconds = 1) => (minSeconds > 1 ? `greatest($__interval_s, ${minSeconds})` : '$__interval_s');
