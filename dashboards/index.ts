import type { Dashboard } from './model.js';
import { gatewayDashboard } from './boards/gateway.js';
import { tokensDashboard } from './boards/tokens.js';
import { qualityDashboard } from './boards/quality.js';
import { agentsDashboard } from './boards/agents.js';
import { pipelineDashboard } from './boards/pipeline.js';
import { tracesDashboard } from './boards/traces.js';
import { dashboardProblems } from './validate.js';

/** Every tracegate dashboard, by the file name it is written to under `dashboards/json/`. */
export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: 'gateway-overview.json', build: gatewayDashboard },
  { file: 'tokens-and-cost.json', build: tokensDashboard },
  { file: 'model-quality.json', build: qualityDashboard },
  { file: 'agent-runs.json', build: agentsDashboard },
  { file: 'traces.json', build: tracesDashboard },
  { file: 'pipeline-health.json', build: pipelineDashboard },
];

/** The JSON text of every dashboard as the generator writes it; throws on an invalid one. */
export function renderDashboards(): Map<string, string> {
  const out = new Map<string, string>();
  for (const { file, build } of DASHBOARDS) {
    const d = build();
    const problems = dashboardProblems(d);
    if (problems.length > 0) throw new Error(`${file} is not a valid dashboard:\n  ${problems.join('\n  ')}`);
    out.set(file, `${JSON.stringify(d, null, 2)}\n`);
  }
  return out;
}
