/**
 * Whether a statement only reads, decided by the engine's own parser: the client's text is
 * printed back by `formatQuerySingleLine` (bound as a parameter, never run; a syntax error or a
 * second statement is the engine's SYNTAX_ERROR), that one statement's `EXPLAIN AST` is read
 * as a tree, and the tree is checked against the allowlists (ast.ts). The text that runs is the
 * engine's own print of what was checked, so nothing the check did not see reaches the engine.
 */
import { checkAst, parseAstText } from './ast.js';
import { ChError } from './errors.js';
import type { ReadSession } from './engine.js';

export const DEFAULT_FORMAT = 'TabSeparated';
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export interface CheckedStatement {
  /** The engine's print of the statement, with its output format. */
  sql: string;
  format: string;
}

export async function checkReadOnly(
  session: Pick<ReadSession, 'format' | 'explainAst'>,
  text: string,
  opts: { database: string; defaultFormat?: string; params?: Record<string, string | null> },
): Promise<CheckedStatement> {
  if (!text.trim()) throw ChError.of('SYNTAX_ERROR', 'Empty query');
  const canonical = await session.format(text);
  if (!canonical.trim()) throw ChError.of('SYNTAX_ERROR', 'Empty query');
  const verdict = checkAst(parseAstText(await session.explainAst(canonical, opts.params ?? {})), opts.database);
  if (verdict.format) return { sql: canonical, format: verdict.format };
  const format = opts.defaultFormat || DEFAULT_FORMAT;
  if (!FORMAT_NAME.test(format)) throw ChError.of('UNKNOWN_FORMAT', `Unknown format ${format.slice(0, 64)}`);
  return { sql: `${canonical} FORMAT ${format}`, format };
}
