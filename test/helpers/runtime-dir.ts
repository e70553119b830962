/**
 * Every test process announces its stacks in a folder of its own: `tracegate start` and the SQL
 * interface write running.json to the per-user runtime folder, and the read commands look there.
 * Without this, tests would write into the developer's ~/.tracegate and could find (and read from)
 * a stack the developer has running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

if (!process.env.TRACEGATE_RUNTIME_DIR) {
  const dir = mkdtempSync(join(tmpdir(), 'tracegate-runtime-'));
  process.env.TRACEGATE_RUNTIME_DIR = dir;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
}
