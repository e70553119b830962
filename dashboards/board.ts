import { DATASOURCE, SCHEMA_VERSION, type Dashboard, type Panel, type Variable } from './model.js';
import { dedent } from './panels.js';

/** Template variables and the dashboard frame: ids, layout, time, links between dashboards. */

export interface QueryVariableOpts {
  multi?: boolean;
  includeAll?: boolean;
  description?: string;
}

/** A variable whose options come from SQL (one column of values); refreshed with the time range. */
export function queryVariable(name: string, label: string, sql: string, o: QueryVariableOpts = {}): Variable {
  const rawSql = dedent(sql);
  const multi = o.multi ?? true;
  const includeAll = o.includeAll ?? true;
  return {
    type: 'query' as Variable['type'],
    name,
    label,
    ...(o.description ? { description: o.description } : {}),
    datasource: { ...DATASOURCE },
    query: { editorType: 'sql', rawSql, format: 1 },
    definition: rawSql,
    refresh: 2 as Variable['refresh'],
    sort: 1 as Variable['sort'],
    multi,
    includeAll,
    current: includeAll ? { text: ['All'], value: ['$__all'] } : { text: '', value: '' },
    options: [],
    hide: 0 as Variable['hide'],
  };
}

/** A free-text variable (for example a trace id to open). */
export function textVariable(name: string, label: string, value = '', description?: string): Variable {
  return {
    type: 'textbox' as Variable['type'],
    name,
    label,
    ...(description ? { description } : {}),
    query: value,
    current: { text: value, value },
    options: [{ selected: true, text: value, value }],
    hide: 0 as Variable['hide'],
  };
}

export interface BoardSpec {
  uid: string;
  title: string;
  description: string;
  variables: Variable[];
  panels: Panel[];
  /** Default time range start, relative (`now-6h`). */
  from?: string;
}

/** Places panels left to right in rows of 24 columns, each row as tall as its tallest panel. */
export function flowLayout(panels: Panel[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return panels.map((p, i) => {
    const { w, h } = p.gridPos;
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const placed = { ...p, id: i + 1, gridPos: { x, y, w, h } };
    x += w;
    rowH = Math.max(rowH, h);
    return placed;
  });
}

export const TAG = 'tracegate';

export function board(spec: BoardSpec): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [TAG],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1 as Dashboard['graphTooltip'],
    time: { from: spec.from ?? 'now-6h', to: 'now' },
    timepicker: { refresh_intervals: ['30s', '1m', '5m', '15m', '1h'] },
    refresh: '1m',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    links: [
      {
        title: 'tracegate',
        type: 'dashboards' as NonNullable<Dashboard['links']>[number]['type'],
        tags: [TAG],
        asDropdown: true,
        icon: 'external link',
        tooltip: '',
        targetBlank: false,
        includeVars: true,
        keepTime: true,
      },
    ],
    annotations: { list: [] },
    templating: { list: spec.variables },
    panels: flowLayout(spec.panels),
  };
}
