/**
 * How the read commands (`sql`, `usage`, `trace`) reach the store. chDB binds a data folder to
 * one process, so while `tracegate start` runs, its folder cannot be opened by a second
 * process; the running stack answers ClickHouse's HTTP interface instead (read-only, default
 * http://127.0.0.1:8123). The rule, in order:
 *
 *   1. `--sql-url URL` or TRACEGATE_SQL_URL: that SQL interface (or any ClickHouse HTTP endpoint);
 *   2. `--clickhouse-url URL` or CLICKHOUSE_URL: that ClickHouse server;
 *   3. with none of --data, TRACEGATE_DATA, --clickhouse-url, CLICKHOUSE_URL: the stack that
 *      `tracegate start` announced (sqlapi/marker.ts, per user), if its process still runs;
 *   4. the embedded store folder (`--data`, TRACEGATE_DATA, ./.tracegate/data), opened directly,
 *      unless it is in use by another process (or does not exist): then the running stack's
 *      interface, at the URL it recorded in the folder, else http://127.0.0.1:8123.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { STORE_OPTIONS, storeFlags } from './args.js';
import { readAnnouncement, readMarker } from '../sqlapi/marker.js';
import { DEFAULT_DATABASE, describeStore, openStore, redactUrl, resolveStoreTarget, type StoreFlags, type StoreTarget } from '../common/store.js';

export const DEFAULT_SQL_URL = 'http://127.0.0.1:8123';

export const READER_HELP = `Where read commands look: --sql-url (or TRACEGATE_SQL_URL) names a running tracegate's
read-only SQL interface; --clickhouse-url (or CLICKHOUSE_URL) a ClickHouse server; otherwise the
embedded store folder (--data, TRACEGATE_DATA, ./.tracegate/data). A folder held by a running
tracegate cannot be opened twice: then its read-only SQL interface is used (the address it
recorded in the folder, else ${DEFAULT_SQL_URL}).`;

export interface ReaderFlags extends StoreFlags {
  sqlUrl?: string;
}

export interface Reader {
  readonly client: ClickHouseClient;
  /** The database holding tracegate's tables. */
  readonly database: string;
  /** Where the rows come from, for messages. */
  readonly description: string;
  /** The embedded folder, when the reader opened it directly (queries are then checked here). */
  readonly dataDir?: string;
  close(): Promise<void>;
}

/** The pid of another live process holding the embedded folder (from ClickHouse's `status` file). */
export function folderHolder(dataDir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'status'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(/PID:\s*(\d+)/.exec(text)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive but someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

function httpReader(rawUrl: string, database: string, env: NodeJS.ProcessEnv): Reader {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new Error(`--sql-url is not a valid URL: ${redactUrl(rawUrl)}`);
  }
  const username = decodeURIComponent(url.username) || env.TRACEGATE_SQL_USER || 'default';
  const password = decodeURIComponent(url.password) || env.TRACEGATE_SQL_PASSWORD || '';
  url.username = '';
  url.password = '';
  // The client's own logger would print an error the command reports itself (once, one line).
  const client = createClient({ url: url.toString().replace(/\/$/, ''), username, password, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
  return { client, database, description: `the SQL interface at ${redactUrl(url.toString())}`, close: () => client.close() };
}

async function answers(reader: Reader): Promise<boolean> {
  const ping = await reader.client.ping();
  return ping.success;
}

/** Opens the reader the rule above picks. Errors say what to do, in one line. */
export async function openReader(flags: ReaderFlags = {}, env: NodeJS.ProcessEnv = process.env): Promise<Reader> {
  const database = flags.database ?? env.TRACEGATE_DATABASE ?? env.CLICKHOUSE_DATABASE ?? DEFAULT_DATABASE;
  const sqlUrl = flags.sqlUrl ?? env.TRACEGATE_SQL_URL;
  if (sqlUrl) return httpReader(sqlUrl, database, env);
  // No place named: the stack `tracegate start` announced, if it still runs.
  const named = flags.data ?? flags.clickhouseUrl ?? env.TRACEGATE_DATA ?? env.CLICKHOUSE_URL;
  const running = named === undefined ? readAnnouncement(env) : undefined;
  if (running) {
    const viaStack = httpReader(running.url, database, env);
    if (await answers(viaStack)) return viaStack;
    await viaStack.close();
  }
  const target = resolveStoreTarget(flags, env);
  if (target.kind === 'server') return toReader(await openStore(target), describeStore(target));
  const holder = folderHolder(target.dataDir);
  const missing = !existsSync(target.dataDir);
  if (holder !== undefined || missing) {
    const url = (holder !== undefined ? readMarker(target.dataDir)?.url : undefined) ?? DEFAULT_SQL_URL;
    const viaStack = httpReader(url, target.database, env);
    if (await answers(viaStack)) return viaStack;
    await viaStack.close();
    if (missing) {
      throw new Error(`there is no tracegate store in ${target.dataDir} and nothing answers on ${url}: start tracegate, or pass --data, --clickhouse-url or --sql-url`);
    }
    throw new Error(
      `the store folder ${target.dataDir} is in use by process ${holder} and nothing answers on ${url}: enable the SQL interface of the running tracegate, pass --sql-url, or stop that process`,
    );
  }
  return toReader(await openStore(target), describeStore(target));
}

function toReader(store: { client: ClickHouseClient; database: string; target: StoreTarget; close(): Promise<void> }, description: string): Reader {
  const dataDir = store.target.kind === 'embedded' ? store.target.dataDir : undefined;
  return { client: store.client, database: store.database, description, dataDir, close: () => store.close() };
}

export const READER_OPTIONS = {
  ...STORE_OPTIONS,
  'sql-url': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export function readerFlags(values: { data?: string; 'clickhouse-url'?: string; database?: string; 'sql-url'?: string }): ReaderFlags {
  return { ...storeFlags(values), sqlUrl: values['sql-url'] };
}
