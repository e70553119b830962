/**
 * No two modules of tracegate's source import each other at run time, directly or through
 * others: in a cycle one module runs against another that is not initialised yet, depending on
 * which of them is loaded first, and neither can be tested or moved without the other.
 * Type-only imports are left out (the compiler erases them; a handle typed by its owner, as a
 * policy Ticket by its Policy, is no load-order hazard); dynamic `import()` calls too.
 */
import { describe, expect, it } from 'vitest';
import { findCycles, importGraph, SOURCE_FOLDERS } from './imports.js';

describe('import cycles', () => {
  it(`none at run time in ${SOURCE_FOLDERS.join(', ')}`, () => {
    const graph = importGraph(SOURCE_FOLDERS, false);
    expect(graph.size).toBeGreaterThan(100);
    expect(findCycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  // gateway/ still has type-only ones (policy Ticket and Policy, the MCP router and its parts, config load and its thread).
  const typeClean = SOURCE_FOLDERS.filter((f) => f !== 'gateway');
  it(`none in ${typeClean.join(', ')}, not even through types`, () => {
    expect(findCycles(importGraph(typeClean, true)).map((c) => c.join(' → '))).toEqual([]);
  });

  it.each<[string, Map<string, string[]>, string[][]]>([
    [
      'none',
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
      [],
    ],
    [
      'two files',
      new Map([
        ['a', ['b']],
        ['b', ['a']],
      ]),
      [['a', 'b', 'a']],
    ],
    ['a file importing itself', new Map([['a', ['a']]]), [['a', 'a']]],
    [
      'three files, entered from outside',
      new Map([
        ['x', ['b']],
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
      [['a', 'b', 'c', 'a']],
    ],
    [
      'two separate cycles',
      new Map([
        ['a', ['b']],
        ['b', ['a', 'c']],
        ['c', ['d']],
        ['d', ['c']],
      ]),
      [
        ['c', 'd', 'c'],
        ['a', 'b', 'a'],
      ],
    ],
    ['imports of files outside the graph are ignored', new Map([['a', ['node-module']]]), []],
  ])('the finder: %s', (_name, graph, want) => {
    expect(findCycles(graph)).toEqual(want);
  });

  it('tells type-only imports from run-time ones', () => {
    const withTypes = importGraph(['collector'], true);
    const runtime = importGraph(['collector'], false);
    let typeEdges = 0;
    for (const [f, deps] of withTypes) {
      expect(deps).toEqual(expect.arrayContaining(runtime.get(f) ?? []));
      typeEdges += deps.length - (runtime.get(f) ?? []).length;
    }
    expect(typeEdges).toBeGreaterThan(0);
  });
});
