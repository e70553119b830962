/**
 * Whether a statement only reads, decided by the engine's own parser: the client's text is
 * printed back by `formatQuerySingleLine` (bound as a parameter, never run; a syntax error or a
 * second statement is the engine's SYNTAX_ERROR), that one statement's `EXPLAIN AST` is read
 * as a tree, and the tree is checked against the allowlists (ast.ts). The text that runs is the
 * engine's own print of what was checked, so nothing the check did not see reaches the engine.
 * SHOW DATABASES and SHOW TABLES are checked and run as the SELECTs they stand for.
 */
import { checkAst, denied, parseAstText, refuse } from './ast.js';
import { ChError } from './errors.js';
import type { ReadSession } from './engine.js';

export const DEFAULT_FORMAT = 'TabSeparated';
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export interface CheckedStatement {
  /** The engine's print of the statement, with its output format. */
  sql: string;
  format: string;
}

/** The SHOW statements served, as the engine prints them back: Grafana's query builder sends these. */
const SHOW = /^SHOW (DATABASES|TABLES)(?: FROM ([A-Za-z_][A-Za-z0-9_]*))?(?: FORMAT ([A-Za-z][A-Za-z0-9_]*))?$/;

/**
 * A SHOW statement as the SELECT it stands for, when it is one of those served (SHOW DATABASES,
 * SHOW TABLES [FROM tracegate's database or system]); undefined when the text is no SHOW. Any
 * other SHOW is refused.
 */
function showAsSelect(canonical: string, database: string): string | undefined {
  if (!/^SHOW\b/.test(canonical)) return undefined;
  const m = SHOW.exec(canonical);
  if (!m) return refuse(`${canonical.split(' ', 3).join(' ').slice(0, 64)} is not served; SHOW DATABASES and SHOW TABLES [FROM ${database}] are, and SELECTs of system.tables and system.databases`);
  const [, what, db, format] = m;
  const suffix = format ? ` FORMAT ${format}` : '';
  if (what === 'DATABASES') return `SELECT name FROM system.databases ORDER BY name${suffix}`;
  const from = db ?? database;
  if (from !== database && from !== 'system') denied(`database ${from.slice(0, 64)}`);
  return `SELECT name FROM system.tables WHERE database = '${from}' ORDER BY name${suffix}`;
}

export async function checkReadOnly(
  session: Pick<ReadSession, 'format' | 'explainAst'>,
  text: string,
  opts: { database: string; defaultFormat?: string; params?: Record<string, string | null> },
): Promise<CheckedStatement> {
  if (!text.trim()) throw ChError.of('SYNTAX_ERROR', 'Empty query');
  const canonical = await session.format(text);
  if (!canonical.trim()) throw ChError.of('SYNTAX_ERROR', 'Empty query');
  const show = showAsSelect(canonical, opts.database);
  if (show !== undefined) return checkReadOnly(session, show, opts);
  const verdict = checkAst(parseAstText(await session.explainAst(canonical, opts.params ?? {})), opts.database);
  if (verdict.format) return { sql: canonical, format: verdict.format };
  const format = opts.defaultFormat || DEFAULT_FORMAT;
  if (!FORMAT_NAME.test(format)) throw ChError.of('UNKNOWN_FORMAT', `Unknown format ${format.slice(0, 64)}`);
  return { sql: `${canonical} FORMAT ${format}`, format };
}
