import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS, renderDashboards } from '../../dashboards/index.js';
import { allPanels } from '../../dashboards/model.js';
import { jsonDir } from '../../dashboards/generate.js';
import { dashboardProblems } from '../../dashboards/validate.js';

describe('dashboards as code', () => {
  const rendered = renderDashboards();

  it('the committed JSON is what the generator writes (run `npm run dashboards`)', () => {
    const committed = readdirSync(jsonDir())
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(committed).toEqual([...rendered.keys()].sort());
    for (const [file, text] of rendered) expect(readFileSync(join(jsonDir(), file), 'utf8'), file).toBe(text);
  });

  it.each(DASHBOARDS.map((d) => [d.file]))('%s validates against the dashboard schema', (file) => {
    const committed = JSON.parse(readFileSync(join(jsonDir(), file), 'utf8'));
    expect(dashboardProblems(committed)).toEqual([]);
  });

  it('dashboard uids and titles are unique', () => {
    const all = DASHBOARDS.map((d) => d.build());
    expect(new Set(all.map((d) => d.uid)).size).toBe(all.length);
    expect(new Set(all.map((d) => d.title)).size).toBe(all.length);
  });

  it('every data link opens an existing dashboard and sets a variable it has', () => {
    const all = DASHBOARDS.map((d) => d.build());
    const byUid = new Map(all.map((d) => [d.uid, d]));
    let links = 0;
    for (const d of all) {
      for (const p of allPanels(d)) {
        for (const o of p.fieldConfig?.overrides ?? []) {
          for (const prop of o.properties.filter((x) => x.id === 'links')) {
            for (const link of prop.value as { url: string }[]) {
              links++;
              const m = /^\/d\/([^/?]+)\/[^?]*\?(.*)$/.exec(link.url);
              expect(m, link.url).not.toBeNull();
              const target = byUid.get(m![1]);
              expect(target, `${p.title}: ${link.url}`).toBeDefined();
              for (const [, name] of m![2].matchAll(/var-(\w+)=/g)) {
                expect(
                  target!.templating.list.map((v) => v.name),
                  `${p.title}: ${link.url}`,
                ).toContain(name);
              }
            }
          }
        }
      }
    }
    expect(links).toBeGreaterThan(0);
  });

  it('the validator catches a foreign data source, a duplicate id and an overlap', () => {
    const d = JSON.parse([...rendered.values()][0]);
    d.panels[0].datasource = { type: 'prometheus', uid: 'prom' };
    d.panels[1].id = d.panels[0].id;
    d.panels[1].gridPos = { ...d.panels[0].gridPos };
    const problems = dashboardProblems(d).join('\n');
    expect(problems).toMatch(/uses data source prom/);
    expect(problems).toMatch(/is used twice/);
    expect(problems).toMatch(/overlap/);
    expect(dashboardProblems({ ...d, panels: [{ ...d.panels[0], gridPos: { x: 20, y: 0, w: 8, h: 4 } }] }).join()).toMatch(/24-column/);
  });
});
