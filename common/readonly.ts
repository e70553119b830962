/**
 * Decides whether a statement only reads, without touching session settings: the embedded
 * engine keeps a `readonly` setting for every later statement (the chdb settings trap), so
 * read-only access is enforced here, by looking at the statement.
 */
export type ReadOnlyVerdict = { ok: true } | { ok: false; reason: string };

const READ_VERBS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS', 'CHECK']);

/** Removes comments and string literals so keywords inside them are not seen. */
export function stripLiteralsAndComments(sql: string): string {
  return sql
    .replace(/--[^\n]*|#![^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^'\\]|\\.|'')*'/g, "''")
    .replace(/`(?:[^`\\]|\\.)*`/g, '``');
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
  return { ok: true };
}
