import { defineConfig } from 'vitest/config';

// chDB binds one data directory per process: every test file runs in its own forked
// process with its own temporary store.
export default defineConfig({
  test: {
    setupFiles: ['./test/helpers/runtime-dir.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/alone/**', '**/node_modules/**'], fileParallelism: true, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      // Tests whose bar is a time the process waits (the event-loop delay of issue 12) run after
      // the suite, one file at a time: no other test file's work shares the CPUs with them. A
      // case is tried up to 3 times: a delay counts the time the OS did not run the process (a
      // process outside the tests on the same 2 CPUs pushed one call in 18 past 50 ms), and a
      // gateway that blocks for longer fails every try.
      { extends: true, test: { name: 'alone', include: ['test/alone/**/*.test.ts'], fileParallelism: false, maxWorkers: 1, retry: 2, sequence: { groupOrder: 1 } } },
    ],
  },
});
