import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../dashboards/index.js';
import { ALL, expandQuery, type VariableState } from '../../dashboards/macros.js';
import { allPanels } from '../../dashboards/model.js';
import { checkReadOnly } from '../../sqlapi/readonly.js';
import { useReadSession } from './read-session.js';

/** Every committed dashboard's variable and panel queries pass the SQL interface's allowlists. */

const fixture = useReadSession();

describe.each(DASHBOARDS.map((d) => [d.file, d.build()] as const))('%s', (_file, board) => {
  it('every query is accepted by the read-only check', async () => {
    const range = { fromMs: Date.now() - 3_600_000, toMs: Date.now(), intervalMs: 60_000 };
    // All selected, as Grafana sends it; text boxes hold a trace id.
    const variables: Record<string, VariableState> = Object.fromEntries(
      board.templating.list.map((v) => [v.name, v.type === 'textbox' ? { value: '0123456789abcdef0123456789abcdef' } : { value: v.multi ? [ALL] : ALL, options: [], allValue: v.allValue }]),
    );
    const refused: string[] = [];
    const queries = [
      ...board.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : String((v.query as { rawSql?: string }).rawSql ?? ''))),
      ...allPanels(board).flatMap((p) => p.targets.map((t) => t.rawSql)),
    ];
    for (const raw of queries) {
      const sql = expandQuery(raw, { ...range, variables });
      await checkReadOnly(fixture.session(), sql, { database: 'tracegate' }).catch((err: Error) => refused.push(`${err.message}\n  in ${sql.slice(0, 200)}`));
    }
    expect(queries.length).toBeGreaterThan(0);
    expect(refused).toEqual([]);
  });
});
