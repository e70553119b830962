// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the cases are Grafana variables (${name}, ${name:format}), not template literals
import { describe, expect, it } from 'vitest';
import { ALL, expandQuery, MacroError, type ExpandContext } from '../../dashboards/macros.js';

// 2025-03-04T05:06:07.890Z .. 2025-03-04T11:06:07.890Z, interval 60 s
const FROM = Date.UTC(2025, 2, 4, 5, 6, 7, 890);
const TO = FROM + 6 * 3600_000;
const S_FROM = Math.floor(FROM / 1000);
const S_TO = Math.floor(TO / 1000);

const ctx = (variables: ExpandContext['variables'] = {}, intervalMs = 60_000): ExpandContext => ({ fromMs: FROM, toMs: TO, intervalMs, variables });

const vars: ExpandContext['variables'] = {
  model: { value: ['gpt-4o', "o'brien"], options: ['gpt-4o', "o'brien", 'claude'] },
  team: { value: ALL, options: ['a', 'b'] },
  teamAll: { value: [ALL], options: ['a', 'b'], allValue: '.*' },
  one: { value: 'svc' },
  empty: { value: '' },
};

describe('expandQuery mirrors grafana-clickhouse-datasource', () => {
  const cases: [string, string, string, ExpandContext?][] = [
    ['timeFilter', 'WHERE $__timeFilter(Timestamp)', `WHERE Timestamp >= toDateTime(${S_FROM}) AND Timestamp <= toDateTime(${S_TO})`],
    ['timeFilter with nested parens', 'WHERE $__timeFilter(toDateTime(ts))', `WHERE toDateTime(ts) >= toDateTime(${S_FROM}) AND toDateTime(ts) <= toDateTime(${S_TO})`],
    ['timeFilter_ms', '$__timeFilter_ms(t)', `t >= fromUnixTimestamp64Milli(${FROM}) AND t <= fromUnixTimestamp64Milli(${TO})`],
    ['fromTime / toTime', '$__fromTime, $__toTime', `toDateTime(${S_FROM}), toDateTime(${S_TO})`],
    ['fromTime_ms / toTime_ms', '$__fromTime_ms $__toTime_ms', `fromUnixTimestamp64Milli(${FROM}) fromUnixTimestamp64Milli(${TO})`],
    ['dateFilter', '$__dateFilter(d)', "d >= toDate('2025-03-04') AND d <= toDate('2025-03-04')"],
    ['dateTimeFilter', '$__dateTimeFilter(d, t)', `(d >= toDate('2025-03-04') AND d <= toDate('2025-03-04')) AND (t >= toDateTime(${S_FROM}) AND t <= toDateTime(${S_TO}))`],
    ['dt alias', '$__dt(d, t)', `(d >= toDate('2025-03-04') AND d <= toDate('2025-03-04')) AND (t >= toDateTime(${S_FROM}) AND t <= toDateTime(${S_TO}))`],
    ['timeInterval', '$__timeInterval(ts)', 'toStartOfInterval(toDateTime(ts), INTERVAL 60 second)'],
    ['timeInterval_ms', '$__timeInterval_ms(ts)', 'toStartOfInterval(toDateTime64(ts, 3), INTERVAL 60000 millisecond)'],
    ['interval_s', 'INTERVAL $__interval_s second', 'INTERVAL 60 second'],
    ['interval_s is at least 1', '$__interval_s', '1', ctx({}, 200)],
    ['multi value, default format', 'm IN ($model)', "m IN ('gpt-4o','o'brien')", ctx(vars)],
    ['multi value, singlequote', 'm IN (${model:singlequote})', "m IN ('gpt-4o','o\\'brien')", ctx(vars)],
    ['multi value, sqlstring', 'm IN (${model:sqlstring})', "m IN ('gpt-4o','o''brien')", ctx(vars)],
    ['multi value, csv', "'${model:csv}'", "'gpt-4o,o'brien'", ctx(vars)],
    ['single value raw', "ServiceName = '$one'", "ServiceName = 'svc'", ctx(vars)],
    ['single value singlequote', 'ServiceName = ${one:singlequote}', "ServiceName = 'svc'", ctx(vars)],
    ['All expands to every option', 't IN (${team:singlequote})', "t IN ('a','b')", ctx(vars)],
    ['custom all value is used verbatim', 'match(t, ${teamAll:singlequote})', 'match(t, .*)', ctx(vars)],
    ['conditionalAll keeps the condition', '$__conditionalAll(m IN (${model:singlequote}), $model)', "m IN ('gpt-4o','o\\'brien')", ctx(vars)],
    ['conditionalAll drops it for All', 'WHERE $__conditionalAll(t IN (${team:singlequote}), $team) AND x', 'WHERE 1=1 AND x', ctx(vars)],
    ['conditionalAll drops it for empty', "$__conditionalAll(x = '$empty', $empty)", '1=1', ctx(vars)],
    ['two conditionalAlls', '$__conditionalAll(a IN ($team), $team) AND $__conditionalAll(b IN ($model), $model)', "1=1 AND b IN ('gpt-4o','o'brien')", ctx(vars)],
    ['global $__from / $__to', '$__from $__to', `${FROM} ${TO}`],
    ['unknown $ words stay', "SELECT '$5'", "SELECT '$5'"],
  ];
  it.each(cases)('%s', (_name, sql, want, c) => {
    expect(expandQuery(sql, c ?? ctx())).toBe(want);
  });

  const errors: [string, string][] = [
    ['timeFilter without a column', '$__timeFilter()'],
    ['dateTimeFilter with one argument', '$__dateTimeFilter(d)'],
    ['an unclosed macro', '$__timeFilter(ts'],
    ['an unknown macro', 'SELECT $__timeGroup(ts, 1h)'],
    ['an unknown braced variable', 'SELECT ${nope}'],
    ['conditionalAll with one argument', '$__conditionalAll(x)'],
  ];
  it.each(errors)('refuses %s', (_name, sql) => {
    expect(() => expandQuery(sql, ctx(vars))).toThrow(MacroError);
  });
});
