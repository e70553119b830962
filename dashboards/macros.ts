/**
 * Expands a panel's SQL the way Grafana and the ClickHouse data source
 * (grafana-clickhouse-datasource 4.x) do before a query reaches ClickHouse, so tests can run
 * the committed dashboards against the engine. The order is the plugin's:
 *   1. the frontend's `$__conditionalAll(cond, $var)` → `1=1` when `$var` is All or empty;
 *   2. Grafana's template variables (`$var`, `${var}`, `${var:singlequote}`, …), with the data
 *      source's own default format (a multi value becomes `'a','b'`);
 *   3. the backend macros (`$__timeFilter(col)`, `$__fromTime`, `$__interval_s`, …), found by
 *      name at a word boundary, arguments split on every comma as the backend splits them.
 */

export const ALL = '$__all';

export interface VariableState {
  /** The selected value(s); `$__all` (alone or as the only element) means All. */
  value: string | string[];
  /** Every option of the variable, for All without a custom all value. */
  options?: string[];
  /** The variable's custom all value, used verbatim (Grafana does not format it). */
  allValue?: string;
}

export interface ExpandContext {
  fromMs: number;
  toMs: number;
  /** The panel's interval (Grafana's `$__interval`), in milliseconds. */
  intervalMs: number;
  variables: Record<string, VariableState>;
}

export class MacroError extends Error {}

const isAll = (v: VariableState) => (Array.isArray(v.value) ? v.value.length === 1 && v.value[0] === ALL : v.value === ALL);

/** Finds the arguments of a call whose `(` is at `open`: balanced parentheses, top-level commas. */
function callArgs(sql: string, open: number): { args: string[]; end: number } | undefined {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) {
        args.push(sql.slice(start, i));
        return { args, end: i + 1 };
      }
    } else if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  return undefined;
}

/** Step 1: the frontend's conditionalAll, innermost-last as the plugin walks it (from the end). */
export function applyConditionalAll(sql: string, variables: Record<string, VariableState>): string {
  const macro = '$__conditionalAll(';
  let at = sql.lastIndexOf(macro);
  while (at !== -1) {
    const call = callArgs(sql, at + macro.length - 1);
    if (call?.args.length !== 2) throw new MacroError(`$__conditionalAll needs 2 arguments at: ${sql.slice(at, at + 60)}`);
    const [cond, ref] = call.args;
    const name = ref.trim().replace(/^\$/, '');
    const v = variables[name];
    const raw = v === undefined ? undefined : Array.isArray(v.value) ? v.value.join(',') : v.value;
    const phrase = raw === '' || (v !== undefined && isAll(v)) ? '1=1' : cond;
    sql = sql.slice(0, at) + phrase + sql.slice(call.end);
    at = sql.lastIndexOf(macro);
  }
  return sql;
}

function formatValue(value: string | string[], format: string | undefined): string {
  const list = Array.isArray(value) ? value : [value];
  switch (format) {
    case undefined:
      // the data source's own formatter: arrays quoted and joined, single values raw
      return Array.isArray(value) ? `'${value.join("','")}'` : value;
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'csv':
    case 'raw':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    default:
      throw new MacroError(`variable format :${format} is not supported by this expander`);
  }
}

function builtins(ctx: ExpandContext): Record<string, string> {
  const s = Math.max(Math.floor(ctx.intervalMs / 1000), 1);
  return {
    __from: String(ctx.fromMs),
    __to: String(ctx.toMs),
    __interval_ms: String(ctx.intervalMs),
    __interval: ctx.intervalMs % 1000 === 0 ? `${s}s` : `${ctx.intervalMs}ms`,
    __range_s: String(Math.floor((ctx.toMs - ctx.fromMs) / 1000)),
  };
}

// Grafana's variable syntax: $name, [[name:fmt]], ${name}, ${name:fmt}
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** Step 2: Grafana's template variables. Unknown names (the `$__` macros) are left alone. */
export function applyVariables(sql: string, ctx: ExpandContext): string {
  const globals = builtins(ctx);
  return sql.replace(VARIABLE, (match, plain?: string, bracket?: string, bracketFmt?: string, braced?: string, _path?: string, fmt?: string) => {
    const name = plain ?? bracket ?? braced ?? '';
    const format = bracketFmt ?? fmt;
    if (name in globals) return globals[name];
    const v = ctx.variables[name];
    if (v === undefined) return match;
    if (isAll(v)) {
      if (v.allValue !== undefined && v.allValue !== '') return v.allValue;
      return formatValue(v.options ?? [], format ?? 'singlequote');
    }
    return formatValue(v.value, format);
  });
}

const toDateTime = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
const toDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.floor(ms)})`;
const toDate = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;

type Macro = (args: string[], ctx: ExpandContext) => string;

function arity(n: number, name: string, fn: Macro): Macro {
  return (args, ctx) => {
    const given = args.length === 1 && args[0] === '' ? 0 : args.length;
    if (given !== n) throw new MacroError(`$__${name}: expected ${n} argument(s), received ${given}`);
    return fn(args, ctx);
  };
}

const seconds = (ctx: ExpandContext) => Math.max(Math.floor(ctx.intervalMs / 1000), 1);

const dateTimeFilter = arity(2, 'dateTimeFilter', ([d, t], c) => `(${d} >= ${toDate(c.fromMs)} AND ${d} <= ${toDate(c.toMs)}) AND (${t} >= ${toDateTime(c.fromMs)} AND ${t} <= ${toDateTime(c.toMs)})`);

/** The backend's macros (pkg/macros of the plugin). */
export const BACKEND_MACROS: Record<string, Macro> = {
  fromTime: (_a, c) => toDateTime(c.fromMs),
  toTime: (_a, c) => toDateTime(c.toMs),
  fromTime_ms: (_a, c) => toDateTime64(c.fromMs),
  toTime_ms: (_a, c) => toDateTime64(c.toMs),
  timeFilter: arity(1, 'timeFilter', ([col], c) => `${col} >= ${toDateTime(c.fromMs)} AND ${col} <= ${toDateTime(c.toMs)}`),
  timeFilter_ms: arity(1, 'timeFilter_ms', ([col], c) => `${col} >= ${toDateTime64(c.fromMs)} AND ${col} <= ${toDateTime64(c.toMs)}`),
  dateFilter: arity(1, 'dateFilter', ([col], c) => `${col} >= ${toDate(c.fromMs)} AND ${col} <= ${toDate(c.toMs)}`),
  dateTimeFilter,
  dt: dateTimeFilter,
  timeInterval: arity(1, 'timeInterval', ([col], c) => `toStartOfInterval(toDateTime(${col}), INTERVAL ${seconds(c)} second)`),
  timeInterval_ms: arity(1, 'timeInterval_ms', ([col], c) => `toStartOfInterval(toDateTime64(${col}, 3), INTERVAL ${Math.max(Math.floor(c.intervalMs), 1)} millisecond)`),
  interval_s: (_a, c) => String(seconds(c)),
};

/** Step 3: the backend macros, longest name first as the SDK applies them. */
export function applyBackendMacros(sql: string, ctx: ExpandContext): string {
  const byLength = Object.entries(BACKEND_MACROS).sort((a, b) => b[0].length - a[0].length);
  for (const [name, fn] of byLength) {
    const re = new RegExp(`\\$__${name}\\b`, 'g');
    let m: RegExpExecArray | null;
    while ((m = re.exec(sql)) !== null) {
      const after = m.index + m[0].length;
      const call = sql[after] === '(' ? callArgs(sql, after) : undefined;
      if (sql[after] === '(' && !call) throw new MacroError(`$__${name}: missing closing parenthesis`);
      const args = call ? call.args.map((a) => a.trim()) : [];
      const out = fn(args, ctx);
      sql = sql.slice(0, m.index) + out + sql.slice(call ? call.end : after);
      re.lastIndex = m.index + out.length;
    }
  }
  return sql;
}

/** The whole chain; throws when a `$__` macro or a `$variable` is left that ClickHouse would choke on. */
export function expandQuery(sql: string, ctx: ExpandContext): string {
  const out = applyBackendMacros(applyVariables(applyConditionalAll(sql, ctx.variables), ctx), ctx);
  const left = /\$__\w+|\$\{[^}]*\}|\[\[\w+\]\]/.exec(out);
  if (left) throw new MacroError(`unexpanded ${left[0]} in query`);
  return out;
}
