import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { StoreFlags } from '../common/store.js';

/** A mistake in how a command was called: printed as one line, exit code 2. */
export class UsageError extends Error {}

export const STORE_OPTIONS = {
  data: { type: 'string' },
  'clickhouse-url': { type: 'string' },
  database: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function storeFlags(values: { data?: string; 'clickhouse-url'?: string; database?: string }): StoreFlags {
  return { data: values.data, clickhouseUrl: values['clickhouse-url'], database: values.database };
}
