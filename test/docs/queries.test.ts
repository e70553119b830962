import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReadOnly } from '../../sqlapi/readonly.js';
import { embeddedEngine } from '../../sqlapi/engine.js';
import { prepareStore } from '../dashboards/prepare.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/** Every ```sql block of docs/queries.md runs on a seeded store and answers with data. */

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'queries.md'), 'utf8');

/** The sql blocks with the heading above each. */
function sqlBlocks(markdown: string): { title: string; sql: string }[] {
  const out: { title: string; sql: string }[] = [];
  let title = '';
  const re = /^## (.+)$|^```sql\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    if (m[1] !== undefined) title = m[1];
    else out.push({ title, sql: m[2] });
  }
  return out;
}

const blocks = sqlBlocks(doc);
let store: TempStore;

beforeAll(async () => {
  store = await tempStore();
  await prepareStore(store);
});
afterAll(async () => {
  await store?.destroy();
});

describe('docs/queries.md', () => {
  it('has at least ten queries, each under its own heading', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(new Set(blocks.map((b) => b.title)).size).toBe(blocks.length);
  });

  it.each(blocks.map((b) => [b.title, b.sql]))('%s', async (_title, sql) => {
    const session = await embeddedEngine(store.dataDir).open([], 'tracegate');
    try {
      await expect(checkReadOnly(session, sql, { database: 'tracegate' })).resolves.toBeTruthy();
    } finally {
      session.close();
    }
    const rows = await store.rows(sql);
    expect(rows.length).toBeGreaterThan(0);
    // sensible: some number in the answer is not zero
    const numbers = rows.flatMap((r) => Object.values(r)).filter((v) => typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)));
    expect(numbers.some((v) => Number(v) !== 0)).toBe(true);
  });
});
