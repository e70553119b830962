/**
 * Builds the statement the engine runs from what the client sent: its SQL (checked read-only),
 * an output format (the statement's own FORMAT clause, else `default_format`, else
 * TabSeparated, as a ClickHouse server decides) and the per-statement settings, appended as
 * a trailing SETTINGS clause so nothing reaches the engine's session.
 */
import { checkReadOnly, maskLiteralsAndComments } from './readonly.js';
import { ChError } from './errors.js';

export const DEFAULT_FORMAT = 'TabSeparated';
const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** A FORMAT clause at the end of a statement, optionally followed by its SETTINGS clause. */
const TRAILING_FORMAT = /\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*(\bSETTINGS\b[\s\S]*)?$/i;

export interface BuiltStatement {
  sql: string;
  /** The output format, as named in the statement or chosen for it. */
  format: string;
}

/** Cuts a trailing `;` (and comments or spaces around it) at the top level of the text. */
export function withoutTrailingSemicolon(sql: string): string {
  const mask = maskLiteralsAndComments(sql);
  const end = mask.trimEnd().length;
  if (end > 0 && mask[end - 1] === ';') return sql.slice(0, end - 1);
  return sql;
}

export function buildStatement(text: string, opts: { defaultFormat?: string; settings: string[] }): BuiltStatement {
  const verdict = checkReadOnly(text);
  if (!verdict.ok) throw ChError.of('READONLY', `Cannot execute query in readonly mode: ${verdict.reason}`);
  const sql = withoutTrailingSemicolon(text).trimEnd();
  const mask = maskLiteralsAndComments(sql).trimEnd();
  const own = TRAILING_FORMAT.exec(mask);
  let format: string;
  let out = sql;
  if (own) {
    format = own[1];
  } else {
    format = opts.defaultFormat || DEFAULT_FORMAT;
    if (!FORMAT_NAME.test(format)) throw ChError.of('UNKNOWN_FORMAT', `Unknown format ${format.slice(0, 64)}`);
    // A newline first: the client's text may end in a line comment.
    out = `${sql}\nFORMAT ${format}`;
  }
  if (opts.settings.length) {
    const hasSettingsTail = own?.[2] !== undefined;
    out = hasSettingsTail ? `${out}, ${opts.settings.join(', ')}` : `${out}\nSETTINGS ${opts.settings.join(', ')}`;
  }
  return { sql: out, format };
}

/** The Content-Type a ClickHouse server sends with each output format. */
export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f === 'jsoneachrow' || f === 'jsonlines' || f === 'ndjson' || f === 'jsoncompacteachrow' || f.startsWith('jsoneachrowwith') || f.startsWith('jsoncompacteachrowwith') || f === 'jsonstringseachrow') {
    return 'application/x-ndjson; charset=UTF-8';
  }
  if (f.startsWith('json')) return 'application/json; charset=UTF-8';
  if (f === 'csv' || f === 'csvwithnames' || f === 'csvwithnamesandtypes') {
    return `text/csv; charset=UTF-8; header=${f === 'csv' ? 'absent' : 'present'}`;
  }
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f === 'xml') return 'application/xml; charset=UTF-8';
  if (f === 'markdown' || f === 'md') return 'text/markdown; charset=UTF-8';
  if (f.startsWith('pretty') || f === 'vertical' || f === 'values' || f === 'template' || f === 'customseparated' || f === 'raw' || f.startsWith('linesasstring')) {
    return 'text/plain; charset=UTF-8';
  }
  return 'application/octet-stream';
}
