/**
 * What a SQL user may use. Everything is an allowlist: statement kinds (as the engine's parser
 * names them), table functions, functions (generated from the shipped engine's
 * `system.functions`, see generate.ts) and tables.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Top-level AST kinds that only read. EXPLAIN is allowed when what it explains is. SHOW is not
 * among them: the parser gives SHOW TABLES, SETTINGS, DICTIONARIES, MERGES, CLUSTERS… one node,
 * and the two that Grafana sends are answered as the SELECTs they stand for (readonly.ts).
 */
export const READ_STATEMENTS: ReadonlySet<string> = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery', 'DescribeQuery', 'ExistsTableQuery', 'Explain']);

/** Table functions that compute rows from their arguments alone. */
export const TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generateSeries', 'generate_series', 'values', 'null']);

/**
 * The system tables Grafana's ClickHouse data source and the CLI read (databases, tables,
 * columns for the query builder; functions and formats for editors), and the constant ones.
 */
export const SYSTEM_TABLES: ReadonlySet<string> = new Set([
  'one',
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'databases',
  'tables',
  'columns',
  'functions',
  'table_functions',
  'data_type_families',
  'formats',
  'time_zones',
]);

export function isAllowedTable(db: string, table: string, database: string): boolean {
  if (db === database) return true;
  return db === 'system' && SYSTEM_TABLES.has(table);
}

interface FunctionList {
  exact: Set<string>;
  /** Lower-cased names of the case-insensitive ones. */
  folded: Set<string>;
  aggregates: Set<string>;
}

let functions: FunctionList | undefined;

/** Loaded on first use (no work at import time). */
function functionList(): FunctionList {
  if (functions) return functions;
  const data = JSON.parse(readFileSync(join(import.meta.dirname, 'functions.json'), 'utf8')) as { functions: Array<[string, string]> };
  const list: FunctionList = { exact: new Set(), folded: new Set(), aggregates: new Set() };
  for (const [name, flags] of data.functions) {
    list.exact.add(name);
    if (flags.includes('i')) list.folded.add(name.toLowerCase());
    if (flags.includes('a')) list.aggregates.add(name);
  }
  functions = list;
  return list;
}

/** Aggregate combinators (`sumIf`, `uniqMerge`, `avgStateIf`…), longest first. */
const COMBINATORS = ['SimpleState', 'MergeState', 'OrDefault', 'Resample', 'Distinct', 'ForEach', 'OrNull', 'ArgMin', 'ArgMax', 'State', 'Merge', 'Array', 'Map', 'If'];

export function isAllowedFunction(name: string): boolean {
  const list = functionList();
  return list.exact.has(name) || list.folded.has(name.toLowerCase()) || isCombined(name, list);
}

/** An allowed aggregate with combinators appended, each stripped in turn. */
function isCombined(name: string, list: FunctionList): boolean {
  for (const c of COMBINATORS) {
    if (name.length <= c.length || !name.endsWith(c)) continue;
    const base = name.slice(0, -c.length);
    if (list.aggregates.has(base) || isCombined(base, list)) return true;
  }
  return false;
}
