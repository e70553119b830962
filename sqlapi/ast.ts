/**
 * The engine's own parse of a statement (`EXPLAIN AST`, parser only, no analysis) read back as
 * a tree, and the walk that decides what the statement may touch: which statement kinds, table
 * functions, functions and tables. Only what the allowlists name passes; however a name was
 * spelled (quoted, back-quoted, commented), the parser has already resolved it.
 */
import { ChError } from './errors.js';
import { isAllowedFunction, isAllowedTable, READ_STATEMENTS, TABLE_FUNCTIONS } from './allowlist/index.js';

export interface AstNode {
  kind: string;
  /** What follows the kind: a function's or identifier's name, an EXPLAIN's kind. */
  name: string;
  children: AstNode[];
}

/** One line of EXPLAIN AST: indentation, kind, name, then optional `(alias x)` and `(children N)`. */
const LINE = /^( *)(\S+)(?: (.*?))?(?: \(alias .*?\))?(?: \(children \d+\))?\s*$/;

/** Reads EXPLAIN AST's indented text into trees (one per top-level line). */
export function parseAstText(text: string): AstNode[] {
  const roots: AstNode[] = [];
  const stack: Array<{ depth: number; node: AstNode }> = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = LINE.exec(line);
    if (!m) throw ChError.of('READONLY', 'Cannot execute query in readonly mode: the statement could not be checked');
    const node: AstNode = { kind: m[2], name: (m[3] ?? '').trim(), children: [] };
    const depth = m[1].length;
    while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
    if (stack.length) stack[stack.length - 1].node.children.push(node);
    else roots.push(node);
    stack.push({ depth, node });
  }
  return roots;
}

/** Throws the engine's read-only refusal (164) for `what`. */
export const refuse = (what: string): never => {
  throw ChError.of('READONLY', `Cannot execute query in readonly mode: ${what}`);
};
/** Throws the engine's access refusal (497) for `what`, naming what the interface reads. */
export const denied = (what: string): never => {
  throw ChError.of('ACCESS_DENIED', `Not enough privileges: ${what}; tracegate's SQL interface reads its own database and a few system tables only`);
};

/** Functions whose second argument may name a table (`x IN t`). */
const SET_OPERATORS = new Set(['in', 'notIn', 'globalIn', 'globalNotIn', 'nullIn', 'notNullIn', 'globalNullIn', 'globalNotNullIn']);

export interface AstVerdict {
  /** The output format the statement names itself, if any. */
  format?: string;
}

/**
 * Throws a ClickHouse-style error unless every node of the statement is allowed: a read at the
 * top, no SETTINGS, no INTO OUTFILE, allowlisted table functions and functions, and tables of
 * `database` or the allowed system tables.
 */
export function checkAst(roots: AstNode[], database: string): AstVerdict {
  if (roots.length !== 1) refuse('only one reading statement, without INTO OUTFILE, is allowed');
  const root = roots[0];
  checkTop(root);
  walk(root, undefined, database);
  const format = root.kind === 'SelectWithUnionQuery' ? root.children.find((c) => c.kind === 'Identifier')?.name : undefined;
  return format ? { format } : {};
}

function checkTop(node: AstNode): void {
  if (!READ_STATEMENTS.has(node.kind)) refuse(`${node.kind.replace(/Query$/, '')} statements write or change state; only reads are allowed`);
  if (node.kind === 'Explain') {
    if (node.children.length !== 1) refuse('EXPLAIN takes no settings here');
    checkTop(node.children[0]);
  }
  // A SelectWithUnionQuery's own children: the selects, then FORMAT (Identifier), INTO OUTFILE (Literal), SETTINGS (Set).
  if (node.kind === 'SelectWithUnionQuery' && node.children.some((c) => c.kind === 'Literal')) refuse('INTO OUTFILE writes a file');
}

function walk(node: AstNode, parent: AstNode | undefined, database: string): void {
  switch (node.kind) {
    case 'Set':
      refuse('settings cannot be changed in a query (SETTINGS); the interface sets its own limits');
      break;
    case 'Function':
      if (parent?.kind === 'TableExpression' || parent?.kind === 'InsertQuery') {
        if (!TABLE_FUNCTIONS.has(node.name)) denied(`table function ${node.name.slice(0, 64)} is not allowed`);
      } else if (node.name !== 'lambda' && !isAllowedFunction(node.name)) {
        refuse(`function ${node.name.slice(0, 64)} reaches outside the query or the store; not allowed`);
      }
      if (SET_OPERATORS.has(node.name)) checkSetOperand(node, database);
      break;
    case 'TableIdentifier':
      checkTable(node.name, database);
      break;
    case 'ExistsTableQuery':
      checkTable(node.name.replace(' ', '.'), database);
      break;
    default:
      break;
  }
  for (const child of node.children) walk(child, node, database);
}

/** `x IN t` reads table t: the right operand, when it is a bare name, is checked as a table. */
function checkSetOperand(fn: AstNode, database: string): void {
  const right = fn.children[0]?.children[1];
  if (right?.kind === 'Identifier') checkTable(right.name, database);
}

function checkTable(name: string, database: string): void {
  if (/[`"\s]/.test(name)) denied(`table ${name.slice(0, 64)}`);
  const parts = name.split('.');
  if (parts.length === 1) return; // unqualified: the interface's session uses `database` (or a CTE)
  if (parts.length !== 2 || !isAllowedTable(parts[0], parts[1], database)) denied(`table ${name.slice(0, 64)}`);
}
