/**
 * Renders single-node DDL for a cluster, as text: every CREATE gains `ON CLUSTER`, each
 * MergeTree-family table becomes a Replicated one named `<table>_local` with a Distributed
 * table of the original name over it, and insert-time materialized views read from and write
 * to the local tables (they fire on the node that received the insert).
 */
export function renderClusterDdl(statement: string, cluster: string, database: string): string[] {
  const onCluster = `ON CLUSTER ${cluster}`;
  const table = /^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*\(/i.exec(statement);
  if (table) {
    const [, ifne = '', db, name] = table;
    const engine = /ENGINE\s*=\s*(\w*)MergeTree\s*(\(([^)]*)\))?/i.exec(statement);
    const head = `CREATE TABLE ${ifne}${db}.${engine ? `${name}_local` : name} ${onCluster} (`;
    let local = head + statement.slice(table[0].length);
    if (!engine) return [local];
    const family = engine[1] ?? '';
    const params = (engine[3] ?? '').trim();
    const path = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`;
    local = local.replace(engine[0], `ENGINE = Replicated${family}MergeTree(${path}${params ? `, ${params}` : ''})`);
    const distributed =
      `CREATE TABLE ${ifne}${db}.${name} ${onCluster} AS ${db}.${name}_local ` +
      `ENGINE = Distributed(${cluster}, ${database}, ${name}_local, rand())`;
    return [local, distributed];
  }
  const mv = /^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?([A-Za-z0-9_]+\.[A-Za-z0-9_]+)/i.exec(statement);
  if (mv) {
    const refreshable = /\bREFRESH\s+(EVERY|AFTER)\b/i.test(statement);
    let out = `CREATE MATERIALIZED VIEW ${mv[1] ?? ''}${mv[2]} ${onCluster}` + statement.slice(mv[0].length);
    out = out.replace(/\bTO\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/i, 'TO $1.$2_local');
    // An insert-time view fires on the local insert; a refreshable one reads the whole cluster.
    if (!refreshable) out = out.replace(/\bFROM\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/gi, 'FROM $1.$2_local');
    return [out];
  }
  const other = /^(CREATE\s+(?:OR\s+REPLACE\s+)?(?:VIEW|DATABASE|DICTIONARY|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?[A-Za-z0-9_.]+)/i.exec(statement);
  if (other) return [`${other[1]} ${onCluster}${statement.slice(other[1].length)}`];
  const alter = /^((?:ALTER|DROP|TRUNCATE)\s+TABLE\s+(?:IF\s+EXISTS\s+)?[A-Za-z0-9_.]+)/i.exec(statement);
  if (alter) return [`${alter[1]} ${onCluster}${statement.slice(alter[1].length)}`];
  return [statement];
}
