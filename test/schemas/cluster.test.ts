import { describe, expect, it } from 'vitest';
import { loadMigrations, renderMigration, type SchemaSettings } from '../../schemas/migrate.js';

const base: SchemaSettings = { database: 'tracegate', rawTtlDays: 30, rollupTtlDays: 400 };
const render = (s: SchemaSettings) => loadMigrations().flatMap((m) => renderMigration(m, s));
const find = (statements: string[], head: RegExp) => statements.filter((s) => head.test(s));

describe('cluster rendering (as text)', () => {
  const ddl = render({ ...base, cluster: 'prod' });

  it('puts ON CLUSTER on every CREATE', () => {
    const creates = ddl.filter((s) => /^CREATE\b/.test(s));
    expect(creates.length).toBeGreaterThan(10);
    for (const s of creates) expect(s.split('\n')[0], s.slice(0, 80)).toContain('ON CLUSTER prod');
  });

  it.each(['otel_traces', 'llm_spans_data', 'agent_runs_data', 'agent_runs_by_hour', 'usage_minutely_data', 'evaluations'])(
    'makes %s a Replicated local table with a Distributed table sharded by trace where it has one',
    (name) => {
      const [local] = find(ddl, new RegExp(`^CREATE TABLE IF NOT EXISTS tracegate\\.${name}_local ON CLUSTER prod \\(`));
      expect(local).toMatch(/ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}'/);
      const [dist] = find(ddl, new RegExp(`^CREATE TABLE IF NOT EXISTS tracegate\\.${name} ON CLUSTER prod AS tracegate\\.${name}_local`));
      const key = name === 'usage_minutely_data' ? 'rand()' : name === 'otel_traces' ? 'cityHash64(TraceId)' : 'cityHash64(trace_id)';
      expect(dist).toContain(`ENGINE = Distributed(prod, tracegate, ${name}_local, ${key})`);
    },
  );

  it('keeps the versions of ReplacingMergeTree tables', () => {
    const [spans] = find(ddl, /^CREATE TABLE IF NOT EXISTS tracegate\.llm_spans_data_local/);
    expect(spans).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)");
  });

  it('replicates the price table to every node without sharding it', () => {
    const prices = find(ddl, /^CREATE TABLE IF NOT EXISTS tracegate\.model_prices/);
    expect(prices).toHaveLength(1);
    expect(prices[0]).toContain("ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')");
  });

  it('has materialized views read and write local tables, except the price table', () => {
    const views = find(ddl, /^CREATE MATERIALIZED VIEW/);
    expect(views.length).toBeGreaterThanOrEqual(7);
    for (const v of views) {
      const targets = [...v.matchAll(/\bTO tracegate\.(\w+)/g)].map((m) => m[1]);
      expect(
        targets.every((t) => t.endsWith('_local')),
        v.slice(0, 100),
      ).toBe(true);
      const sources = [...v.matchAll(/\bFROM tracegate\.(\w+)/g)].map((m) => m[1]);
      expect(
        sources.every((t) => t.endsWith('_local') || t === 'model_prices'),
        `${v.slice(0, 100)}: ${sources}`,
      ).toBe(true);
    }
    const refreshable = views.filter((v) => /REFRESH EVERY/.test(v));
    expect([...new Set(refreshable.map((v) => /VIEW IF NOT EXISTS tracegate\.(\w+)/.exec(v)![1]))].sort()).toEqual([
      'agent_runs_refresh',
      'evaluations_linked_refresh',
      'llm_spans_count_once',
      'usage_daily_refresh',
      'usage_hourly_refresh',
      'usage_minutely_refresh',
    ]);
    // a view replaced by a later migration is dropped on the whole cluster first
    const countOnce = find(ddl, /^(CREATE MATERIALIZED VIEW IF NOT EXISTS|DROP TABLE IF EXISTS) tracegate\.llm_spans_count_once /).map((st) => st.split(' ')[0]);
    expect(countOnce).toEqual(['CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE', 'DROP', 'CREATE']);
    expect(ddl.find((st) => st.startsWith('DROP TABLE IF EXISTS tracegate.llm_spans_count_once'))).toBe('DROP TABLE IF EXISTS tracegate.llm_spans_count_once ON CLUSTER prod');
  });

  it('changes a column of a split table on the local table and on its Distributed table', () => {
    expect(find(ddl, /^ALTER TABLE tracegate\.collector_stats(_local)? ON CLUSTER prod ADD COLUMN IF NOT EXISTS duplicate_spans /).map((s) => s.split(' ')[2])).toEqual([
      'tracegate.collector_stats_local',
      'tracegate.collector_stats',
    ]);
  });

  it('makes a table anew under its name by exchanging the local tables, and drops the old local one', () => {
    // 0079: the copy with the new key is filled through the Distributed tables in the foreground,
    // then the local tables are exchanged (each Distributed table names its local one)
    for (const name of ['call_keys_by_hour', 'llm_spans_data']) {
      const [copy] = find(ddl, new RegExp(`^CREATE TABLE IF NOT EXISTS tracegate\\.${name}_0079_local ON CLUSTER prod \\(`));
      expect(copy).toContain('ORDER BY (toStartOfHour(timestamp), toStartOfMinute(timestamp), trace_id, span_id)');
      const fill = ddl.findIndex((st) => st.startsWith(`INSERT INTO tracegate.${name}_0079 SELECT * FROM tracegate.${name}\n`));
      const swap = ddl.indexOf(`EXCHANGE TABLES tracegate.${name}_local AND tracegate.${name}_0079_local ON CLUSTER prod`);
      expect(fill).toBeGreaterThan(0);
      expect(ddl[fill]).toContain('distributed_foreground_insert = 1');
      expect(swap).toBeGreaterThan(fill);
      expect(ddl.indexOf(`DROP TABLE IF EXISTS tracegate.${name}_0079_local ON CLUSTER prod`)).toBeGreaterThan(swap);
    }
  });

  it('has plain views read the Distributed tables', () => {
    for (const name of ['llm_spans', 'agent_runs', 'usage_minutely']) {
      const [v] = find(ddl, new RegExp(`^CREATE VIEW IF NOT EXISTS tracegate\\.${name} ON CLUSTER prod AS`));
      expect(v).toMatch(new RegExp(`FROM tracegate\\.${name}_data FINAL`));
    }
  });

  it('copies agent runs into agent_runs_by_hour on the node that stores them, and reads them through the Distributed table (0087)', () => {
    const [mv] = find(ddl, /^CREATE MATERIALIZED VIEW IF NOT EXISTS tracegate\.agent_runs_by_hour_mv /);
    expect(mv).toContain('TO tracegate.agent_runs_by_hour_local');
    expect(mv).toContain('FROM tracegate.agent_runs_data_local');
    const views = find(ddl, /^CREATE OR REPLACE VIEW tracegate\.agent_runs(_local)? ON CLUSTER prod AS/);
    expect(views.at(-2)).toContain('FROM tracegate.agent_runs_by_hour FINAL');
    expect(views.at(-1)).toContain('FROM tracegate.agent_runs_by_hour_local FINAL');
    const [local] = find(ddl, /^CREATE TABLE IF NOT EXISTS tracegate\.agent_runs_by_hour_local /);
    expect(local).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', computed_at, is_deleted)");
  });

  it("reads the decider's runs on every node for readers, and the node's own for its refreshable views (0081)", () => {
    const views = find(ddl, /^CREATE OR REPLACE VIEW tracegate\.(count_once_fresh|refresh_starts)(_local)? ON CLUSTER prod AS/);
    const last = (name: string) => views.filter((v) => v.startsWith(`CREATE OR REPLACE VIEW tracegate.${name} `)).at(-1) ?? '';
    expect(last('refresh_starts')).toContain("FROM clusterAllReplicas('prod', system.view_refreshes)");
    expect(last('count_once_fresh')).toContain('FROM tracegate.refresh_starts)');
    expect(last('count_once_fresh')).toContain('FROM tracegate.call_keys_by_hour\n');
    expect(last('refresh_starts_local')).toContain('FROM system.view_refreshes\n');
    expect(last('count_once_fresh_local')).toContain('FROM tracegate.refresh_starts_local)');
    expect(last('count_once_fresh_local')).toContain('FROM tracegate.call_keys_by_hour_local\n');
    expect(ddl.join('\n')).not.toMatch(/system\.\w+_local\b/);
  });
});

describe('retention in the DDL', () => {
  const ttl = (s: SchemaSettings, table: string) => {
    const [t] = find(render(s), new RegExp(`^CREATE TABLE IF NOT EXISTS tracegate\\.${table} \\(`));
    return /\bTTL [^\n]*/.exec(t)?.[0] ?? '';
  };
  it.each([
    ['otel_traces', 'TTL toDateTime(Timestamp) + toIntervalDay(30)'],
    ['llm_spans_data', 'TTL toDateTime(timestamp) + toIntervalDay(30)'],
    ['agent_runs_data', 'TTL toDateTime(start_time) + toIntervalDay(400)'],
    ['agent_runs_by_hour', 'TTL toDateTime(start_time) + toIntervalDay(400)'],
    ['usage_minutely_data', 'TTL toDateTime(minute) + toIntervalDay(400)'],
    ['evaluations', 'TTL toDateTime(timestamp) + toIntervalDay(400)'],
  ])('%s: %s', (table, want) => {
    expect(ttl(base, table)).toBe(want);
  });
  it('drops the TTL when a retention is 0 (kept for ever)', () => {
    expect(ttl({ ...base, rawTtlDays: 0 }, 'llm_spans_data')).toBe('');
    expect(ttl({ ...base, rollupTtlDays: 0 }, 'usage_minutely_data')).toBe('');
  });
});
