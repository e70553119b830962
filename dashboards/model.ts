import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/**
 * The dashboard JSON model as tracegate writes it: Grafana's own types from the foundation SDK,
 * with panel targets narrowed to the ClickHouse data source's query (the SDK's target type is an
 * interface for its builders, not for JSON).
 */

export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
/** The one data source every panel and variable references; provisioning creates it. */
export const DATASOURCE_UID = 'tracegate-clickhouse';
export const DATASOURCE = Object.freeze({ type: DATASOURCE_TYPE, uid: DATASOURCE_UID });
/** Grafana folder the provider puts the dashboards in. */
export const FOLDER = 'tracegate';
/** Dashboard JSON schema version written (Grafana 11.0 and later read and migrate it). */
export const SCHEMA_VERSION = 39;

/** Query formats of the data source (sqlds FormatQueryOption). */
export const Format = { TimeSeries: 0, Table: 1, Logs: 2, Traces: 3 } as const;
export type FormatCode = (typeof Format)[keyof typeof Format];

/** The data source's SQL-editor query (CHSqlQuery). */
export interface ClickHouseQuery {
  refId: string;
  datasource: { type: string; uid: string };
  editorType: 'sql';
  format: FormatCode;
  queryType?: 'table' | 'timeseries' | 'traces' | 'logs';
  rawSql: string;
  meta?: { builderOptions?: Record<string, unknown> };
}

export type Panel = Omit<dashboard.Panel, 'targets' | 'datasource'> & {
  id: number;
  type: string;
  title: string;
  gridPos: dashboard.GridPos;
  datasource: { type: string; uid: string };
  targets: ClickHouseQuery[];
};

export type RowPanel = Omit<dashboard.RowPanel, 'panels'> & { panels: Panel[] };

export type Variable = dashboard.VariableModel;

export type Dashboard = Omit<dashboard.Dashboard, 'panels' | 'templating'> & {
  uid: string;
  title: string;
  panels: (Panel | RowPanel)[];
  templating: { list: Variable[] };
};

export const isRow = (p: Panel | RowPanel): p is RowPanel => p.type === 'row';

/** Every panel of a dashboard, rows flattened. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (isRow(p) ? p.panels : [p]));
}
