import { board, queryVariable } from '../board.js';
import type { Dashboard } from '../model.js';
import { barchart, histogram, stat, table, timeseries, unitOverride } from '../panels.js';
import { bucket, bucketSeconds, inVar, where } from '../sql.js';
import { matchingCalls, standardVariables } from './common.js';
import { traceLink } from './traces.js';

/**
 * Agent runs from `agent_runs` (one row per trace, recomputed whole as its spans arrive; totals
 * count each model call once). A run is a trace with at least one AGENT span; single calls
 * without an agent are left to the gateway dashboards.
 */

const RUNS_WHERE = where(
  '$__timeFilter(start_time)',
  'agent_spans > 0',
  inVar('service_name', 'service'),
  inVar('agent_name', 'agent'),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable with its format, not a template literal
  '$__conditionalAll(hasAny(models, [${model:singlequote}]), $model)',
  matchingCalls('trace_id', 'trace_id', ['service', 'model']),
);

/** Tool spans of the runs that match the variables (model, team and route are the trace's calls'). */
const TOOLS_WHERE = where('$__timeFilter(timestamp)', "span_kind = 'TOOL'", inVar('app_service_name', 'service'), inVar('agent_name', 'agent'), matchingCalls('trace_id', 'trace_id', ['service']));

const runsTable = (title: string, order: string) =>
  table(
    title,
    `
    SELECT start_time AS start, trace_id, agent_name AS agent, session_id AS session, user_id AS user, status,
           duration_ms, span_count AS steps, llm_calls, tool_calls, total_tokens AS tokens, cost_total AS cost,
           arrayStringConcat(models, ', ') AS models_used
    FROM agent_runs
    WHERE ${RUNS_WHERE}
    ORDER BY ${order} DESC
    LIMIT 20`,
    { w: 12, h: 9, overrides: [traceLink(), unitOverride('duration_ms', 'ms'), unitOverride('cost', 'currencyUSD')] },
  );

export function agentsDashboard(): Dashboard {
  return board({
    uid: 'tracegate-agents',
    title: 'tracegate / Agent runs',
    description: 'Agent runs: rate, steps and model calls per run, tool calls and errors, duration and cost; the slowest and most expensive runs with their traces.',
    variables: [
      ...standardVariables(),
      queryVariable('agent', 'Agent', "SELECT DISTINCT agent_name FROM agent_runs WHERE $__timeFilter(start_time) AND agent_spans > 0 AND agent_name != '' ORDER BY 1"),
    ],
    panels: [
      stat('Runs', `SELECT count() AS runs FROM agent_runs WHERE ${RUNS_WHERE}`, { unit: 'short' }),
      stat('Runs that failed', `SELECT countIf(status = 'Error') / nullIf(count(), 0) AS failed FROM agent_runs WHERE ${RUNS_WHERE}`, { unit: 'percentunit', decimals: 1 }),
      stat('Run duration p95', `SELECT quantile(0.95)(duration_ms) AS p95 FROM agent_runs WHERE ${RUNS_WHERE}`, { unit: 'ms' }),
      stat('Mean cost per run', `SELECT avg(cost_total) AS cost FROM agent_runs WHERE ${RUNS_WHERE}`, { unit: 'currencyUSD', decimals: 4 }),
      timeseries(
        'Runs per minute by status',
        `
        SELECT ${bucket('start_time', 60)} AS time, status, count() * 60 / ${bucketSeconds(60)} AS runs_per_minute
        FROM agent_runs
        WHERE ${RUNS_WHERE}
        GROUP BY time, status
        ORDER BY time`,
        { unit: 'short', stack: true, bars: true },
      ),
      timeseries(
        'Steps, model calls and tool calls per run',
        `
        SELECT ${bucket('start_time', 60)} AS time, avg(span_count) AS steps, avg(llm_calls) AS model_calls, avg(tool_calls) AS tool_calls, avg(retriever_calls) AS retrievals
        FROM agent_runs
        WHERE ${RUNS_WHERE}
        GROUP BY time
        ORDER BY time`,
        { unit: 'short', decimals: 1 },
      ),
      histogram('Run duration distribution', `SELECT duration_ms AS v FROM agent_runs WHERE ${RUNS_WHERE}`, '1', 'runs', { unit: 'ms', w: 8 }),
      // (the first bucket: under 2^-20 USD, about a millionth of a dollar)
      histogram('Run cost distribution', `SELECT cost_total AS v FROM agent_runs WHERE ${RUNS_WHERE}`, 'exp2(-20)', 'runs', { unit: 'currencyUSD', w: 8 }),
      barchart(
        'Tool calls and tool errors',
        `
        SELECT tool_name AS tool, count() AS calls, countIf(status_code = 'Error') AS errors
        FROM llm_spans
        WHERE ${TOOLS_WHERE}
        GROUP BY tool
        ORDER BY calls DESC
        LIMIT 20`,
        { xField: 'tool', w: 8, description: 'TOOL spans of the runs (raw spans).' },
      ),
      table(
        'Tools by server: calls, error rate, p95 latency',
        `
        SELECT backend AS server, tool_name AS tool, count() AS tool_calls, countIf(status_code = 'Error') / tool_calls AS error_rate,
               quantile(0.95)(duration_ms) AS p95_ms
        FROM llm_spans
        WHERE ${TOOLS_WHERE} AND backend != ''
        GROUP BY server, tool
        ORDER BY tool_calls DESC
        LIMIT 50`,
        {
          w: 16,
          description: "Tool calls of the runs that went through the gateway's /mcp, by MCP server and tool (errors: JSON-RPC errors, refusals and isError answers).",
          overrides: [unitOverride('error_rate', 'percentunit'), unitOverride('p95_ms', 'ms')],
        },
      ),
      timeseries(
        'Tool latency p95 by server',
        `
        SELECT ${bucket('timestamp', 60)} AS time, backend AS server, quantile(0.95)(duration_ms) AS p95_ms
        FROM llm_spans
        WHERE ${TOOLS_WHERE} AND backend != ''
        GROUP BY time, server
        ORDER BY time`,
        { unit: 'ms', w: 8 },
      ),
      runsTable('Slowest runs', 'duration_ms'),
      runsTable('Most expensive runs', 'cost'),
      table(
        'By agent',
        `
        SELECT agent_name AS agent, count() AS runs, countIf(status = 'Error') / runs AS failed,
               avg(span_count) AS mean_steps, avg(llm_calls) AS mean_model_calls, quantile(0.95)(duration_ms) AS p95_ms,
               sum(cost_total) AS cost, sum(total_tokens) AS tokens
        FROM agent_runs
        WHERE ${RUNS_WHERE}
        GROUP BY agent
        ORDER BY runs DESC`,
        { h: 7, overrides: [unitOverride('failed', 'percentunit'), unitOverride('p95_ms', 'ms'), unitOverride('cost', 'currencyUSD')] },
      ),
    ],
  });
}
