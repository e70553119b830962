/**
 * Renders single-node DDL for a cluster, as text:
 * - every CREATE / ALTER / DROP gains `ON CLUSTER`;
 * - each MergeTree-family table becomes a Replicated one named `<table>_local`, with a
 *   Distributed table of the original name over it. Tables with a trace id column are sharded
 *   by it (`cityHash64(TraceId)`), so all spans of a trace, and every row derived from them,
 *   live on one shard; others are sharded at random;
 * - tables in EVERYWHERE (the price table) are replicated to every node, not sharded;
 * - materialized views read and write the local tables. Insert-time views fire on the node
 *   that received the insert, which (trace-id sharding) holds the whole trace. Refreshable views
 *   are created on every node and each computes its own shard's traces, which is complete for
 *   the same reason; readers sum the shards through the Distributed tables. Every replica of a
 *   shard runs them too: the rows they write are versioned (ReplacingMergeTree), so a second
 *   replica's identical rows collapse, except the append-only evaluator-link stream of
 *   `evaluations`, which may repeat a score per replica;
 * - plain views read the Distributed tables, and system tables on every node (clusterAllReplicas);
 *   each also gets a `<name>_local` twin over the local tables and the node's own system tables,
 *   which refreshable views read;
 * - a column change (ALTER TABLE … ADD/DROP/MODIFY/RENAME/COMMENT COLUMN) of a split table goes
 *   to the local table and to its Distributed table, which must list the same columns; an index
 *   change (ADD/DROP/MATERIALIZE/CLEAR INDEX) to the local table only;
 * - EXCHANGE TABLES swaps the local tables (a table made anew under its name).
 */
const EVERYWHERE = new Set(['model_prices']);

const REPLICA_PATH = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;
const EVERYWHERE_PATH = `'/clickhouse/tables/all/{database}/{table}', '{replica}'`;

function shardingKey(statement: string): string {
  const column = /^\s*(TraceId|trace_id)\s+String\b/m.exec(statement)?.[1];
  return column ? `cityHash64(${column})` : 'rand()';
}

function renderTable(statement: string, match: RegExpExecArray, cluster: string, database: string): string[] {
  const onCluster = `ON CLUSTER ${cluster}`;
  const [, ifne = '', db, name] = match;
  const engine = /ENGINE\s*=\s*(\w*)MergeTree(?:\s*\(([^)]*)\))?/i.exec(statement);
  const everywhere = EVERYWHERE.has(name);
  const head = `CREATE TABLE ${ifne}${db}.${engine && !everywhere ? `${name}_local` : name} ${onCluster} (`;
  let local = head + statement.slice(match[0].length);
  if (!engine) return [local];
  const family = engine[1] ?? '';
  const params = (engine[2] ?? '').trim();
  const path = everywhere ? EVERYWHERE_PATH : REPLICA_PATH;
  local = local.replace(engine[0], `ENGINE = Replicated${family}MergeTree(${path}${params ? `, ${params}` : ''})`);
  if (everywhere) return [local];
  const distributed = `CREATE TABLE ${ifne}${db}.${name} ${onCluster} AS ${db}.${name}_local ` + `ENGINE = Distributed(${cluster}, ${database}, ${name}_local, ${shardingKey(statement)})`;
  return [local, distributed];
}

function renderMaterializedView(statement: string, match: RegExpExecArray, cluster: string): string[] {
  let out = `CREATE MATERIALIZED VIEW ${match[1] ?? ''}${match[2]} ON CLUSTER ${cluster}${statement.slice(match[0].length)}`;
  out = out.replace(/\bTO\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/i, 'TO $1.$2_local');
  return [toLocalReads(out)];
}

/** Reads of `db.name` in a query made to read the node's own part of the data (the node's own system tables stay). */
function toLocalReads(query: string): string {
  return query.replace(/\bFROM\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/gi, (all: string, db: string, name: string) =>
    EVERYWHERE.has(name) || db.toLowerCase() === 'system' ? all : `FROM ${db}.${name}_local`,
  );
}

/** Reads of a system table in a query over the whole cluster: every node's rows (refresh_starts, 0081). */
function toClusterSystemReads(query: string, cluster: string): string {
  return query.replace(/\bFROM\s+system\.([A-Za-z0-9_]+)/gi, (_all: string, name: string) => `FROM clusterAllReplicas('${cluster}', system.${name})`);
}

/**
 * A plain view twice: as written, over the Distributed tables, for readers; and `<name>_local`
 * over the node's local tables (and other views' local variants), for the refreshable views,
 * which compute their own shard.
 */
function renderView(statement: string, match: RegExpExecArray, cluster: string): string[] {
  const [head, create, db, name] = match;
  const rest = statement.slice(head.length);
  return [`${head} ON CLUSTER ${cluster}${toClusterSystemReads(rest, cluster)}`, `${create}${db}.${name}_local ON CLUSTER ${cluster}${toLocalReads(rest)}`];
}

export function renderClusterDdl(statement: string, cluster: string, database: string): string[] {
  const onCluster = `ON CLUSTER ${cluster}`;
  const table = /^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*\(/i.exec(statement);
  if (table) return renderTable(statement, table, cluster, database);
  const mv = /^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z0-9_]+\.[A-Za-z0-9_]+)/i.exec(statement);
  if (mv) return renderMaterializedView(statement, mv, cluster);
  const view = /^(CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?)([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/i.exec(statement);
  if (view) return renderView(statement, view, cluster);
  const other = /^(CREATE\s+(?:OR\s+REPLACE\s+)?(?:DATABASE|DICTIONARY|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?[A-Za-z0-9_.]+)/i.exec(statement);
  if (other) return [`${other[1]} ${onCluster}${statement.slice(other[1].length)}`];
  const column = /^ALTER\s+TABLE\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s+((?:ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b[\s\S]*)$/i.exec(statement);
  if (column) {
    const [, db, name, change] = column;
    const tables = EVERYWHERE.has(name) ? [name] : [`${name}_local`, name];
    return tables.map((t) => `ALTER TABLE ${db}.${t} ${onCluster} ${change}`);
  }
  const index = /^ALTER\s+TABLE\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s+((?:ADD|DROP|MATERIALIZE|CLEAR)\s+INDEX\b[\s\S]*)$/i.exec(statement);
  if (index) {
    // a data-skipping index lives on the table that holds the parts, not on the Distributed one
    const [, db, name, change] = index;
    return [`ALTER TABLE ${db}.${EVERYWHERE.has(name) ? name : `${name}_local`} ${onCluster} ${change}`];
  }
  const exchange = /^EXCHANGE\s+TABLES\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s+AND\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*$/i.exec(statement);
  if (exchange) {
    // the parts are in the local tables; each Distributed table names its local table, so it
    // reads and writes the exchanged one
    const [, db1, a, db2, b] = exchange;
    const local = (name: string) => (EVERYWHERE.has(name) ? name : `${name}_local`);
    return [`EXCHANGE TABLES ${db1}.${local(a)} AND ${db2}.${local(b)} ${onCluster}`];
  }
  const alter = /^((?:ALTER|DROP|TRUNCATE)\s+TABLE\s+(?:IF\s+EXISTS\s+)?[A-Za-z0-9_.]+)/i.exec(statement);
  if (alter) return [`${alter[1]} ${onCluster}${statement.slice(alter[1].length)}`];
  return [statement];
}
