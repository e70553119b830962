/**
 * The import graph of tracegate's source, read with the TypeScript parser: every static `import`
 * and `export … from` between our own files. Type-only ones (`import type`, or every named binding
 * marked `type`) are in it only when asked for: the compiler erases them. Dynamic `import()` calls
 * are left out: they load when called, not when the module loads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SOURCE_FOLDERS = ['gateway', 'collector', 'common', 'sqlapi', 'cli', 'schemas'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function typeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(node)) {
    const c = node.importClause;
    if (!c) return false; // `import './x.js'`: a side effect
    if (c.isTypeOnly) return true;
    if (c.name) return false;
    const b = c.namedBindings;
    return b !== undefined && ts.isNamedImports(b) && b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
  }
  if (node.isTypeOnly) return true;
  const c = node.exportClause;
  return c !== undefined && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly);
}

/** The files of the project (relative specifiers) one file imports. */
export function importsOf(file: string, withTypes: boolean): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const st of src.statements) {
    if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st))) continue;
    const spec = st.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.') || (!withTypes && typeOnly(st))) continue;
    out.push(resolve(dirname(file), spec.text.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** File → the files it imports, over the source folders, paths relative to the root. */
export function importGraph(folders: readonly string[], withTypes: boolean): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of folders) {
    for (const file of tsFiles(join(ROOT, f)))
      graph.set(
        relative(ROOT, file),
        importsOf(file, withTypes).map((p) => relative(ROOT, p)),
      );
  }
  return graph;
}

/**
 * The groups of files that import each other, directly or not (strongly connected components
 * with more than one file, or a file importing itself), each as one cycle through its files.
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm; the graph has a few hundred files, so recursion depth is no concern.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const visit = (n: string): void => {
    index.set(n, index.size);
    low.set(n, index.get(n) as number);
    stack.push(n);
    onStack.add(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      if (!index.has(m)) {
        visit(m);
        low.set(n, Math.min(low.get(n) as number, low.get(m) as number));
      } else if (onStack.has(m)) low.set(n, Math.min(low.get(n) as number, index.get(m) as number));
    }
    if (low.get(n) !== index.get(n)) return;
    const group: string[] = [];
    let m: string;
    do {
      m = stack.pop() as string;
      onStack.delete(m);
      group.push(m);
    } while (m !== n);
    if (group.length > 1 || (graph.get(n) ?? []).includes(n)) groups.push(cycleIn(graph, new Set(group)));
  };
  for (const n of [...graph.keys()].sort()) if (!index.has(n)) visit(n);
  return groups;
}

/** One cycle through a group of files that import each other, from its first file in name order. */
function cycleIn(graph: Map<string, string[]>, group: Set<string>): string[] {
  const start = [...group].sort()[0];
  // Breadth-first from the start back to itself, inside the group: the shortest such cycle.
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const n = queue.shift() as string;
    for (const m of graph.get(n) ?? []) {
      if (!group.has(m)) continue;
      if (m === start) {
        const path = [start];
        for (let k = n; k !== start; k = from.get(k) as string) path.splice(1, 0, k);
        return [...path, start];
      }
      if (!from.has(m)) {
        from.set(m, n);
        queue.push(m);
      }
    }
  }
  return [start, start];
}
