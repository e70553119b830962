/**
 * Decides whether a statement only reads, without touching session settings: the embedded
 * engine keeps a `readonly` setting for every later statement (the chdb settings trap), so
 * read-only access is enforced here, by looking at the statement. Shared by `tracegate sql`
 * and the collector's read-only ClickHouse HTTP interface.
 */
export type ReadOnlyVerdict = { ok: true } | { ok: false; reason: string };

const READ_VERBS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS', 'CHECK']);

/**
 * Table functions that reach outside the store (files, URLs, other servers, programs): a
 * SELECT through them reads or runs what the store's own data does not hold.
 */
const EXTERNAL_TABLE_FUNCTIONS = [
  'file', 'fileCluster', 'url', 'urlCluster', 's3', 's3Cluster', 'gcs', 'hdfs', 'hdfsCluster', 'azureBlobStorage',
  'azureBlobStorageCluster', 'remote', 'remoteSecure', 'cluster', 'clusterAllReplicas', 'mysql', 'postgresql',
  'mongodb', 'redis', 'sqlite', 'jdbc', 'odbc', 'executable', 'input', 'deltaLake', 'iceberg', 'hudi',
];
const EXTERNAL_RE = new RegExp(`(?<![\\w.])(${EXTERNAL_TABLE_FUNCTIONS.join('|')})\\s*\\(`, 'i');

/** Removes comments and string literals so keywords inside them are not seen. */
export function stripLiteralsAndComments(sql: string): string {
  return sql
    .replace(/--[^\n]*|#![^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^'\\]|\\.|'')*'/g, "''")
    .replace(/`(?:[^`\\]|\\.)*`/g, '``');
}

/**
 * Like {@link stripLiteralsAndComments} but keeps every character's position: comments become
 * spaces and the insides of quoted strings and identifiers become `_`, so a clause found in
 * the mask can be cut from the original text at the same offsets.
 */
export function maskLiteralsAndComments(sql: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if ((c === '-' && next === '-') || (c === '#' && (next === '!' || next === ' '))) {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out.push(' '.repeat(stop - i));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out.push(sql.slice(i, stop).replace(/[^\n]/g, ' '));
      i = stop;
    } else if (c === "'" || c === '`' || c === '"') {
      const stop = quotedEnd(sql, i, c);
      out.push(c, '_'.repeat(Math.max(0, stop - i - 2)), stop - i >= 2 ? c : '');
      i = stop;
    } else {
      out.push(c);
      i += 1;
    }
  }
  return out.join('');
}

/** Index just past the closing quote (backslash escapes and doubled quotes both allowed). */
function quotedEnd(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === '\\') i += 2;
    else if (sql[i] === quote && sql[i + 1] === quote) i += 2;
    else if (sql[i] === quote) return i + 1;
    else i += 1;
  }
  return sql.length;
}

export function checkReadOnly(sql: string): ReadOnlyVerdict {
  const bare = stripLiteralsAndComments(sql).trim().replace(/;\s*$/, '');
  if (bare.length === 0) return { ok: false, reason: 'the query is empty' };
  if (bare.includes(';')) return { ok: false, reason: 'only one statement per query is allowed' };
  const verb = /^\(*\s*([A-Za-z]+)/.exec(bare)?.[1]?.toUpperCase() ?? '';
  if (!READ_VERBS.has(verb)) return { ok: false, reason: `${verb || 'this'} statements write or change state; only reading queries are allowed` };
  if (/\bINTO\s+OUTFILE\b/i.test(bare)) return { ok: false, reason: 'INTO OUTFILE writes a file; not allowed' };
  if (/\bSETTINGS\b[\s\S]*\breadonly\s*=/i.test(bare)) return { ok: false, reason: 'the readonly setting cannot be changed' };
  if (/\b(file|url|s3|hdfs|remote|remoteSecure|mysql|postgresql|executable)\s*\(/i.test(bare) && /\bINSERT\b/i.test(bare)) {
    return { ok: false, reason: 'writing through a table function is not allowed' };
  }
  const external = EXTERNAL_RE.exec(bare);
  if (external) return { ok: false, reason: `the ${external[1]}() table function reaches outside the store; not allowed` };
  return { ok: true };
}
