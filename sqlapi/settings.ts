/**
 * What the interface does with each URL parameter a client sends. ClickHouse takes every
 * unknown URL parameter as a setting; the embedded engine would keep a session setting for
 * every later statement (the chdb settings trap), so settings are never applied to the
 * session: the harmless ones (output formats, result limits, time zone) go into the
 * statement's own SETTINGS clause, HTTP-layer ones are handled or ignored here, `readonly`
 * is accepted and dropped (everything here is read-only anyway), and the rest are refused as
 * a read-only ClickHouse server refuses them.
 */
import { checkDatabaseName } from '../common/store.js';
import { ChError } from './errors.js';

/** URL parameters of the HTTP protocol itself, not settings. */
const PROTOCOL_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'user',
  'password',
  'quota_key',
  'session_id',
  'session_timeout',
  'session_check',
  'compress',
  'decompress',
  'buffer_size',
  'wait_end_of_query',
  'client_protocol_version',
  'role',
  'stacktrace',
  'extremes_mode',
]);

/** Settings that only shape the HTTP response; the interface honours or ignores them. */
const HTTP_SETTINGS = new Set([
  'enable_http_compression',
  'http_zlib_compression_level',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'http_native_compression_disable_checksumming_on_decompress',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'http_write_exception_in_output_format',
  'http_response_headers',
  'output_format_parallel_formatting',
  'http_exception_tagging',
]);

/** Settings that change only how one read runs or prints; safe in the statement's SETTINGS. */
const STATEMENT_SETTINGS = new Set([
  'date_time_output_format',
  'interval_output_format',
  'bool_true_representation',
  'bool_false_representation',
  'result_overflow_mode',
  'timeout_overflow_mode',
  'read_overflow_mode',
  'group_by_overflow_mode',
  'sort_overflow_mode',
  'join_overflow_mode',
  'set_overflow_mode',
  'distinct_overflow_mode',
  'extremes',
  'totals_mode',
  'join_use_nulls',
  'session_timezone',
  'enable_analyzer',
  'allow_experimental_analyzer',
  'prefer_column_name_to_alias',
  'count_distinct_implementation',
  'log_comment',
  'limit',
  'offset',
  'date_time_input_format',
  'cast_keep_nullable',
  'aggregate_functions_null_for_empty',
  'joined_subquery_requires_alias',
  'use_query_cache',
  'query_cache_ttl',
  'output_format_decimal_trailing_zeros',
  'precise_float_parsing',
  'use_skip_indexes',
  'force_primary_key',
  'force_index_by_date',
  'priority',
  'join_algorithm',
  'any_join_distinct_right_table_keys',
  'transform_null_in',
  'data_type_default_nullable',
  'allow_suspicious_low_cardinality_types',
]);
const STATEMENT_PREFIXES = ['output_format_'];
/** Limits a client may lower for its query (LIMIT_SETTINGS caps them), and read limits that only stop a query sooner. */
const LOWERING_SETTINGS = new Set([
  'max_execution_time',
  'max_memory_usage',
  'max_result_rows',
  'max_result_bytes',
  'max_rows_to_read',
  'max_bytes_to_read',
  'max_rows_to_group_by',
  'max_rows_to_sort',
]);
/** Prefixes that look harmless but touch writing, access or the server: never per-statement. */
const NEVER = /^(max_insert|min_insert|allow_ddl|allow_introspection|readonly|profile|max_concurrent|max_server|max_partitions_per_insert|optimize_on_insert)|path|schema|template|file|url|directory/;

export type ParamClass = 'protocol' | 'http' | 'readonly' | 'statement' | 'query_param' | 'refused';

export function classifyParam(name: string): ParamClass {
  if (name.startsWith('param_')) return 'query_param';
  if (PROTOCOL_PARAMS.has(name)) return 'protocol';
  if (HTTP_SETTINGS.has(name)) return 'http';
  if (name === 'readonly') return 'readonly';
  if (NEVER.test(name)) return 'refused';
  if (STATEMENT_SETTINGS.has(name) || LOWERING_SETTINGS.has(name) || STATEMENT_PREFIXES.some((p) => name.startsWith(p))) return 'statement';
  return 'refused';
}

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A setting value as a SQL literal: numbers as they are, anything else a quoted string. */
export function settingLiteral(value: string): string {
  if (/^-?\d+(\.\d+)?$/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface SplitParams {
  /** `name = literal` pairs for the statement's SETTINGS clause. */
  statementSettings: string[];
  /** Query parameters without the `param_` prefix, values decoded for the store's client. */
  queryParams: Record<string, string | null>;
  /** HTTP-layer settings the interface itself honours. */
  http: Map<string, string>;
}

/** Sorts the URL parameters; throws a READONLY error for a setting that may not be changed. */
export function splitParams(search: URLSearchParams): SplitParams {
  const out: SplitParams = { statementSettings: [], queryParams: {}, http: new Map() };
  for (const [name, value] of search) {
    const cls = classifyParam(name);
    switch (cls) {
      case 'protocol':
      case 'readonly':
        break;
      case 'http':
        out.http.set(name, value);
        break;
      case 'query_param': {
        const key = name.slice('param_'.length);
        if (!SETTING_NAME.test(key)) throw ChError.of('BAD_ARGUMENTS', `query parameter name "${key}" is not a valid identifier`);
        out.queryParams[key] = decodeParamValue(value);
        break;
      }
      case 'statement':
        if (!SETTING_NAME.test(name)) throw ChError.of('UNKNOWN_SETTING', `Unknown setting '${name}'`);
        out.statementSettings.push(`${name} = ${settingLiteral(value)}`);
        break;
      case 'refused':
        if (!SETTING_NAME.test(name)) throw ChError.of('UNKNOWN_SETTING', `Unknown setting '${name.slice(0, 64)}'`);
        throw ChError.of('READONLY', `Cannot modify '${name}' setting in readonly mode: tracegate's SQL interface only reads`);
      default: {
        const never: never = cls;
        throw new Error(`unclassified parameter ${String(never)}`);
      }
    }
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', 0: '\0', a: '\x07', v: '\v', e: '\x1b' };
/** The escapes the store's client writes back when it binds a string (its TSV escaping). */
const REVERSIBLE: Record<string, string> = { '\\': '\\', 0: '\0', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * A `param_` value arrives in ClickHouse's escaped text form; the store's client escapes a
 * string again when it binds it. A scalar is decoded to the value it denotes. A composite
 * value (array, tuple, map) keeps its quoted inner form: only the escapes the client will
 * write back are decoded, and an escaped quote becomes a doubled one, which reads the same.
 */
export function decodeParamValue(raw: string): string | null {
  if (raw === '\\N') return null;
  const composite = /^\s*[[({]/.test(raw);
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\' || i + 1 >= raw.length) {
      out += c;
      continue;
    }
    const n = raw[++i];
    if (composite) {
      if (n === "'") out += "''";
      else if (n in REVERSIBLE) out += REVERSIBLE[n];
      else out += `\\${n}`;
    } else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out += SIMPLE_ESCAPES[n] ?? n;
    }
  }
  return out;
}

/** The settings of a session that bound a query's result (not the check of its text: engine.ts). */
export const RESULT_LIMITS: ReadonlySet<string> = new Set(['max_result_rows', 'max_result_bytes']);

/** The name of a session setting as sessionSettings writes it (`name = literal`). */
export const settingName = (setting: string): string => setting.split(' = ', 1)[0];

/** The interface's own limits, by setting name. */
export interface QueryLimits {
  maxExecutionTime: number;
  maxMemoryUsage: number;
  maxResultRows: number;
  maxResultBytes: number;
}

/**
 * The engine's filter on the system tables that list databases, tables and columns: rows of
 * `database` and `system` only. The allowlist lets a query read these tables (Grafana's query
 * builder and the CLI list from them); this keeps another database of the same engine, its
 * tables and their definitions out of what they show. A setting, so a client cannot drop it.
 */
function systemTableFilters(database: string): string {
  checkDatabaseName(database);
  // a filter is a string literal inside the map literal: its own quotes escaped
  const among = (column: string) => `'${column} IN (\\'${database}\\', \\'system\\')'`;
  return `additional_table_filters = {'system.tables': ${among('database')}, 'system.columns': ${among('database')}, 'system.databases': ${among('name')}}`;
}

/**
 * The settings a query's session gets: the limits first, the filter on the system tables
 * (systemTableFilters), then the client's allowed settings. A client may lower a limit, never
 * raise it (nor lift it with 0): that is refused as a read-only server refuses a setting change
 * (164).
 */
export function sessionSettings(limits: QueryLimits, client: string[], database: string): string[] {
  const caps: Record<string, number> = {
    max_execution_time: limits.maxExecutionTime,
    max_memory_usage: limits.maxMemoryUsage,
    max_result_rows: limits.maxResultRows,
    max_result_bytes: limits.maxResultBytes,
  };
  const out = Object.entries(caps).map(([k, v]) => `${k} = ${v}`);
  out.push("result_overflow_mode = 'throw'", "timeout_overflow_mode = 'throw'", systemTableFilters(database));
  for (const setting of client) {
    const [name, value] = setting.split(' = ', 2);
    const cap = caps[name];
    if (cap !== undefined) {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0 || n > cap) {
        throw ChError.of('READONLY', `Cannot modify '${name}' setting in readonly mode: it may be lowered, not raised above ${cap}`);
      }
    }
    if (name === 'result_overflow_mode' || name === 'timeout_overflow_mode') continue; // a limit stays an error
    out.push(setting);
  }
  return out;
}
