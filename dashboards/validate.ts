import { z } from 'zod';
import { DATASOURCE_TYPE, DATASOURCE_UID, allPanels, type Dashboard } from './model.js';

/**
 * Grafana's dashboard JSON model (schema version 39+, as documented in "JSON model" and typed in
 * the foundation SDK's `dashboard` kind) as a zod schema. No JSON-schema file of the dashboard
 * kind ships offline, so this is written from that model: objects are strict where Grafana's
 * model is closed, so a misspelt key fails here instead of being silently ignored by Grafana.
 */

const Ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
const DataSourceRef = z.strictObject({ type: z.string().min(1), uid: z.string().min(1) });
const GridPos = z
  .strictObject({ x: z.int().min(0).max(23), y: z.int().min(0), w: z.int().min(1).max(24), h: z.int().min(1), static: z.boolean().optional() })
  .refine((g) => g.x + g.w <= 24, { message: 'panel runs past the 24-column grid' });

const Matcher = z.strictObject({ id: z.string().min(1), options: z.unknown().optional() });
const FieldConfig = z.strictObject({
  defaults: z
    .object({
      unit: z.string().optional(),
      decimals: z.number().optional(),
      min: z.number().optional(),
      max: z.number().optional(),
      custom: z.unknown().optional(),
      links: z.array(z.object({ title: z.string(), url: z.string() })).optional(),
    })
    .strict(),
  overrides: z.array(z.strictObject({ matcher: Matcher, properties: z.array(z.strictObject({ id: z.string().min(1), value: z.unknown().optional() })) })),
});

const Target = z.strictObject({
  refId: z.string().min(1),
  datasource: DataSourceRef,
  editorType: z.literal('sql'),
  format: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
  queryType: z.enum(['table', 'timeseries', 'traces', 'logs']).optional(),
  rawSql: z.string().min(1),
  meta: z.strictObject({ builderOptions: z.record(z.string(), z.unknown()).optional() }).optional(),
});

const PANEL_TYPES = ['timeseries', 'stat', 'table', 'barchart', 'piechart', 'histogram', 'traces', 'bargauge', 'gauge', 'text'] as const;

const Panel = z.strictObject({
  id: z.int().positive(),
  type: z.enum(PANEL_TYPES),
  title: z.string().min(1),
  description: z.string().optional(),
  gridPos: GridPos,
  datasource: DataSourceRef,
  targets: z.array(Target).min(1),
  fieldConfig: FieldConfig,
  options: z.record(z.string(), z.unknown()),
  transformations: z.array(z.strictObject({ id: z.string(), options: z.unknown() })).optional(),
  links: z.array(z.unknown()).optional(),
  interval: z.string().optional(),
  maxDataPoints: z.number().optional(),
});

const Option = z.strictObject({ text: z.union([z.string(), z.array(z.string())]), value: z.union([z.string(), z.array(z.string())]), selected: z.boolean().optional() });

const Variable = z.strictObject({
  type: z.enum(['query', 'textbox', 'custom', 'constant', 'interval', 'datasource', 'adhoc']),
  name: Ident,
  label: z.string().optional(),
  description: z.string().optional(),
  datasource: DataSourceRef.optional(),
  query: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  definition: z.string().optional(),
  refresh: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  sort: z.int().min(0).max(8).optional(),
  multi: z.boolean().optional(),
  includeAll: z.boolean().optional(),
  allValue: z.string().optional(),
  current: Option.partial({ text: true, value: true }).optional(),
  options: z.array(Option).optional(),
  hide: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
});

const Link = z.strictObject({
  title: z.string(),
  type: z.enum(['dashboards', 'link']),
  tags: z.array(z.string()),
  asDropdown: z.boolean(),
  icon: z.string(),
  tooltip: z.string(),
  url: z.string().optional(),
  targetBlank: z.boolean(),
  includeVars: z.boolean(),
  keepTime: z.boolean(),
});

export const DashboardSchema = z.strictObject({
  id: z.null().optional(),
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  title: z.string().min(1),
  description: z.string().optional(),
  tags: z.array(z.string()),
  timezone: z.enum(['browser', 'utc', '']),
  editable: z.boolean(),
  graphTooltip: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  time: z.strictObject({ from: z.string().min(1), to: z.string().min(1) }),
  timepicker: z.strictObject({ refresh_intervals: z.array(z.string()).optional(), hidden: z.boolean().optional() }),
  refresh: z.union([z.string(), z.literal(false)]),
  schemaVersion: z.int().min(36),
  version: z.int().optional(),
  links: z.array(Link),
  annotations: z.strictObject({ list: z.array(z.record(z.string(), z.unknown())) }),
  templating: z.strictObject({ list: z.array(Variable) }),
  panels: z.array(Panel),
});

/** Everything wrong with a dashboard: schema problems with their paths, then cross-field checks. */
export function dashboardProblems(d: unknown): string[] {
  const parsed = DashboardSchema.safeParse(d);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const dash = d as Dashboard;
  const problems: string[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  const refs = (ds?: { type?: string; uid?: string }) => ds === undefined || (ds.uid === DATASOURCE_UID && ds.type === DATASOURCE_TYPE);
  for (const v of dash.templating.list) {
    if (names.has(v.name)) problems.push(`variable ${v.name} is declared twice`);
    names.add(v.name);
    if (!refs(v.datasource)) problems.push(`variable ${v.name} uses data source ${v.datasource?.uid}, not ${DATASOURCE_UID}`);
  }
  for (const p of allPanels(dash)) {
    if (ids.has(p.id)) problems.push(`panel id ${p.id} is used twice`);
    ids.add(p.id);
    if (!refs(p.datasource)) problems.push(`panel "${p.title}" uses data source ${p.datasource.uid}, not ${DATASOURCE_UID}`);
    for (const t of p.targets) if (!refs(t.datasource)) problems.push(`panel "${p.title}" query ${t.refId} uses data source ${t.datasource.uid}`);
  }
  problems.push(...overlaps(allPanels(dash)));
  return problems;
}

function overlaps(panels: { title: string; gridPos: { x: number; y: number; w: number; h: number } }[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < panels.length; i++) {
    for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i].gridPos;
      const b = panels[j].gridPos;
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) out.push(`panels "${panels[i].title}" and "${panels[j].title}" overlap`);
    }
  }
  return out;
}
