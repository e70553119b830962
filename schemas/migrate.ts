import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { renderClusterDdl } from './cluster.js';
import { loadModelPrices } from './price-load.js';

/** Folder of the numbered migration files, found from this module in source and in dist/. */
export function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // source: schemas/migrate.ts → schemas/migrations; built: dist/schemas/migrate.js → ../../schemas/migrations
  for (const candidate of [join(here, 'migrations'), join(here, '..', '..', 'schemas', 'migrations')]) {
    try {
      if (readdirSync(candidate).some((f) => f.endsWith('.sql'))) return candidate;
    } catch {
      /* try the next */
    }
  }
  throw new Error(`no migrations folder found near ${here}`);
}

export interface Migration {
  version: number;
  name: string;
  file: string;
  /** sha256 of the file as written (templates unrendered), so settings such as TTLs may change. */
  checksum: string;
  template: string;
}

export interface SchemaSettings {
  database: string;
  /** TTL of raw spans (otel_traces and typed per-span tables), in days; 0 keeps them for ever. */
  rawTtlDays: number;
  /** TTL of rollups and evaluations, in days; 0 keeps them for ever. */
  rollupTtlDays: number;
  /** Cluster name: renders ON CLUSTER, Replicated engines and Distributed tables. */
  cluster?: string;
}

export const DEFAULT_SCHEMA_SETTINGS: Omit<SchemaSettings, 'database'> = { rawTtlDays: 30, rollupTtlDays: 400 };

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir = migrationsDir()): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new Error(`migration file ${file} must be named NNNN_<verb>_<object>.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new Error(`two migration files share version ${m[1]}`);
    seen.add(version);
    const template = readFileSync(join(dir, file), 'utf8');
    return { version, name: m[2], file, checksum: createHash('sha256').update(template).digest('hex'), template };
  });
}

/** Splits a migration into statements on `;` at the end of a line (DDL here has no `;` inside strings). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

/** Substitutes the templated identifiers: database, TTL clauses. Values never appear here. */
export function renderTemplate(template: string, s: SchemaSettings): string {
  const ttl = (days: number, expr: string) => (days > 0 ? `TTL ${expr} + toIntervalDay(${Math.floor(days)})` : '');
  return (
    template
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the migrations' own placeholder, not a template literal
      .replaceAll('${db}', s.database)
      .replace(/\$\{raw_ttl\(([^)]*\))\)\}/g, (_, expr: string) => ttl(s.rawTtlDays, expr))
      .replace(/\$\{rollup_ttl\(([^)]*\))\)\}/g, (_, expr: string) => ttl(s.rollupTtlDays, expr))
  );
}

/** The statements of one migration as they will run, for a single node or a cluster. */
export function renderMigration(m: Migration, s: SchemaSettings): string[] {
  const statements = splitStatements(renderTemplate(m.template, s));
  const { cluster } = s;
  return cluster ? statements.flatMap((st) => renderClusterDdl(st, cluster, s.database)) : statements;
}

export interface MigrateResult {
  applied: Migration[];
  skipped: Migration[];
  /** The price table was (re)loaded into model_prices, as after every migrate. */
  pricesLoaded: boolean;
}

export class MigrationChecksumError extends Error {
  constructor(readonly file: string) {
    super(`migration ${file} was changed after it was applied: restore it and add a new numbered migration instead`);
  }
}

/** Applies every migration not yet recorded, in order; refuses an applied file that changed. */
export async function migrate(client: ClickHouseClient, settings: SchemaSettings, migrations: Migration[] = loadMigrations()): Promise<MigrateResult> {
  const db = settings.database;
  const onCluster = settings.cluster ? ` ON CLUSTER ${settings.cluster}` : '';
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}${onCluster} ENGINE = Atomic` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations${onCluster} (
      version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ${settings.cluster ? "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" : 'MergeTree'} ORDER BY version`,
  });
  const rs = await client.query({
    query: `SELECT version, argMax(checksum, applied_at) AS checksum FROM ${db}.schema_migrations GROUP BY version`,
    format: 'JSONEachRow',
  });
  const done = new Map((await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]));
  const result: MigrateResult = { applied: [], skipped: [], pricesLoaded: false };
  for (const m of migrations) {
    const prior = done.get(m.version);
    if (prior !== undefined) {
      if (prior !== m.checksum) throw new MigrationChecksumError(m.file);
      result.skipped.push(m);
      continue;
    }
    for (const statement of renderMigration(m, settings)) {
      await client.command({ query: statement });
    }
    await client.insert({
      table: `${db}.schema_migrations`,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
    result.applied.push(m);
  }
  // Every migrate reloads the prices, so an edited prices.json reaches SQL pricing.
  result.pricesLoaded = await loadModelPrices(client, db);
  return result;
}
