import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';

/** Where the store lives: the embedded engine in a folder, or a ClickHouse server. */
export type StoreTarget = { kind: 'embedded'; dataDir: string; database: string } | { kind: 'server'; url: string; username: string; password: string; database: string };

export interface Store {
  readonly client: ClickHouseClient;
  readonly target: StoreTarget;
  /** The database every tracegate table lives in. */
  readonly database: string;
  /** Waits for running queries, then releases the engine or the connection pool. Idempotent. */
  close(): Promise<void>;
}

export interface StoreFlags {
  data?: string;
  clickhouseUrl?: string;
  database?: string;
}

export const DEFAULT_DATA_DIR = './.tracegate/data';
export const DEFAULT_DATABASE = 'tracegate';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Resolves the store from flags first, then the environment: `CLICKHOUSE_URL` (with
 * `CLICKHOUSE_USER`, `CLICKHOUSE_PASSWORD`, `CLICKHOUSE_DATABASE`, or the same in the URL)
 * selects a server; otherwise the embedded engine in `--data` / `TRACEGATE_DATA`.
 */
export function resolveStoreTarget(flags: StoreFlags = {}, env: NodeJS.ProcessEnv = process.env): StoreTarget {
  const url = flags.clickhouseUrl ?? env.CLICKHOUSE_URL;
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`CLICKHOUSE_URL is not a valid URL: ${redactUrl(url)}`);
    }
    const fromPath = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''));
    const database = flags.database ?? env.CLICKHOUSE_DATABASE ?? (fromPath || DEFAULT_DATABASE);
    const username = decodeURIComponent(parsed.username) || env.CLICKHOUSE_USER || 'default';
    const password = decodeURIComponent(parsed.password) || env.CLICKHOUSE_PASSWORD || '';
    parsed.username = '';
    parsed.password = '';
    parsed.pathname = '/';
    return { kind: 'server', url: parsed.toString().replace(/\/$/, ''), username, password, database: checkDatabaseName(database) };
  }
  const dataDir = resolve(flags.data ?? env.TRACEGATE_DATA ?? DEFAULT_DATA_DIR);
  return { kind: 'embedded', dataDir, database: checkDatabaseName(flags.database ?? env.TRACEGATE_DATABASE ?? DEFAULT_DATABASE) };
}

/** `name`, when it can stand unquoted in SQL as a database name; throws otherwise. */
export function checkDatabaseName(name: string): string {
  if (!IDENT.test(name)) throw new Error(`database name "${name}" is not an identifier: it must match ${IDENT}`);
  return name;
}

/** Strips credentials from a URL so it can be printed. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Opens the store; for the embedded engine this binds the process to `dataDir`. */
export async function openStore(target: StoreTarget): Promise<Store> {
  if (target.kind === 'server') {
    const client = createClient({
      url: target.url,
      username: target.username,
      password: target.password,
      request_timeout: 60_000,
      compression: { request: false, response: true },
    });
    return makeStore(client, target, async () => {});
  }
  mkdirSync(target.dataDir, { recursive: true });
  // chdb is loaded lazily: a server deployment never loads the native engine.
  const { createChdbConnection } = await import('chdb/connection');
  const { drainPending } = await import('chdb');
  // chdb types its connection against @clickhouse/client-common, a copy of the same interface.
  const connection = createChdbConnection({ path: target.dataDir }) as unknown as ClickHouseClientConfigOptions['connection'];
  const client = createClient({ connection });
  return makeStore(client, target, async () => {
    await drainPending();
  });
}

function makeStore(client: ClickHouseClient, target: StoreTarget, beforeClose: () => Promise<void>): Store {
  let closing: Promise<void> | undefined;
  return {
    client,
    target,
    database: target.database,
    close() {
      closing ??= (async () => {
        await beforeClose();
        await client.close();
      })();
      return closing;
    },
  };
}

/** Describes the store for a log line, without secrets. */
export function describeStore(target: StoreTarget): string {
  return target.kind === 'embedded' ? `embedded ClickHouse (chDB) in ${target.dataDir}, database ${target.database}` : `ClickHouse server ${redactUrl(target.url)}, database ${target.database}`;
}
