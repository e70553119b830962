/**
 * The serving commands' V8 heap growth: set unless node was given the flag itself; and setting
 * it at run time is accepted by this node (a child process that sets it and runs a full GC).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { heapFlagGiven } from '../../cli/heap.js';

describe('heap growth for serving', () => {
  it.each([
    [[], '', false],
    [['--heap-growing-percent=50'], '', true],
    [['--heap_growing_percent=50'], '', true],
    [['--inspect'], '--max-old-space-size=512 --heap-growing-percent=10', true],
    [['--heap-growing-percentage=1'], '', false],
    [[], '--max-semi-space-size=64', false],
  ] as const)('%j / NODE_OPTIONS %j → given: %s', (argv, options, want) => {
    expect(heapFlagGiven(argv, options)).toBe(want);
  });

  it('is taken at run time by this node', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', "require('v8').setFlagsFromString('--heap-growing-percent=300'); global.gc(); console.log('ok')"], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
  });
});
