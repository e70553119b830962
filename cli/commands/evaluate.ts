/**
 * `tracegate evaluate`: re-runs evaluators over past data, or prints scores.
 *
 *   tracegate evaluate --config gateway.yaml --since 24h [--evaluator NAME]
 *     scores the window's spans each evaluator has not scored at its current version (spans
 *     whose earlier evaluation ended in an error are tried again), through the running gateway
 *     (judges) and collector (results); prints what it did.
 *   tracegate evaluate --scores [--since 24h] [--by model|route|team|service]
 *     scores by evaluator and model: evaluations, mean score, pass rate, errors, judge cost.
 */
import { readFileSync } from 'node:fs';
import { resolveWindow } from '../../common/usage.js';
import { otlpResultSink } from '../../collector/evaluators/emit.js';
import { buildEvaluatorWorker } from '../../collector/evaluators/worker.js';
import { loadConfigFile } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import type { EvaluatorConfig } from '../../schemas/evaluator.js';
import { parse, UsageError } from '../args.js';
import { OUTPUT_FORMATS, printRows, type OutputFormat } from '../output.js';
import { openReader, READER_OPTIONS, readerFlags } from '../reader.js';

export const EVALUATE_HELP = `tracegate evaluate --config FILE [--since 24h] [--until TIME] [--evaluator NAME]
                   [--gateway http://127.0.0.1:8080/v1] [--otlp http://127.0.0.1:4317] [--collector-token-file F]
                   [--data DIR | --clickhouse-url URL | --sql-url URL]
    re-run Evaluator documents over the window's stored spans (rows for spans a version already
    scored are not written again; evaluation errors are retried)
tracegate evaluate --scores [--since 24h] [--by model|route|team|service] [--format table|json|csv]
    scores by evaluator and model from the evaluations table
`;

/** One line for `tracegate validate`: what an Evaluator scores and how. */
export function describeEvaluator(e: EvaluatorConfig): string {
  const s = e.spec;
  const how = s.type === 'llm-judge' ? `llm-judge ${s.template} via ${s.judge.model}` : `code ${s.check}`;
  const t = s.target;
  const filters = (['services', 'routes', 'models', 'teams', 'keys'] as const).flatMap((f) => {
    const values = t[f];
    return values?.length ? [`${f} ${values.join(',')}`] : [];
  });
  if (t.metadata)
    filters.push(
      `metadata ${Object.entries(t.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
  if (t.tags?.length) filters.push(`tags ${t.tags.join(',')}`);
  const budget = s.budget ? `, budget $${s.budget.dailyUsd}/day` : '';
  return `evaluator ${e.name} (version ${e.version}): ${how} on ${t.kind} spans${filters.length ? ` where ${filters.join('; ')}` : ''}, sampling ${s.sampling.rate}${budget}`;
}

/** Where each --by dimension comes from: evaluations keep model and service; route and team are the scored call's, from llm_spans. */
const BY = { model: 'e.model', route: 'c.route', team: 'c.team', service: 'e.service_name' } as const;

/**
 * Scores by evaluator and one dimension of the scored call: evaluations, mean score, pass rate
 * (online evaluators' verdicts), evaluation errors and the judges' spend. Rows of other sources
 * (human feedback, heuristics) have no run: `passed` stays NULL (Nullable) and the cost 0. No
 * SETTINGS: the read-only SQL interface refuses them.
 */
export function scoresQuery(db: string, by: keyof typeof BY, start: Date, end: Date): { query: string; query_params: Record<string, unknown> } {
  const col = BY[by];
  return {
    query: `SELECT e.name AS evaluator, ${col} AS ${by}, e.source AS source, count() AS evaluations,
              round(avgIf(e.score, e.score IS NOT NULL), 4) AS mean_score,
              round(countIf(r.passed = 1) / nullIf(countIf(r.passed IS NOT NULL), 0), 4) AS pass_rate,
              countIf(e.label = 'error' AND e.score IS NULL) AS errors,
              round(sum(r.cost_total), 6) AS judge_cost_usd
            FROM ${db}.evaluations AS e
            LEFT JOIN (SELECT carrier_span_id, passed, cost_total FROM ${db}.evaluator_runs
                       WHERE timestamp >= {start:DateTime64(3)} - INTERVAL 1 DAY) AS r ON r.carrier_span_id = e.carrier_span_id
            LEFT JOIN (SELECT span_id, any(route) AS route, any(team) AS team FROM ${db}.llm_spans
                       WHERE timestamp >= {start:DateTime64(3)} - INTERVAL 1 DAY AND timestamp < {end:DateTime64(3)} GROUP BY span_id) AS c ON c.span_id = e.span_id
            WHERE e.timestamp >= {start:DateTime64(3)} AND e.timestamp < {end:DateTime64(3)}
            GROUP BY evaluator, ${by}, source ORDER BY evaluator, evaluations DESC`,
    query_params: { start: start.getTime() / 1000, end: end.getTime() / 1000 },
  };
}

async function printScores(values: Record<string, string | boolean | undefined>): Promise<number> {
  const by = (values.by as string | undefined) ?? 'model';
  if (!(by in BY)) throw new UsageError(`--by must be one of ${Object.keys(BY).join(', ')}`);
  const { start, end } = resolveWindow({ since: (values.since as string) ?? '24h', until: values.until as string | undefined });
  const reader = await openReader(readerFlags(values));
  try {
    const rs = await reader.client.query({ ...scoresQuery(reader.database, by as keyof typeof BY, start, end), format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    const format = (values.format as string) ?? 'table';
    if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
    if (format === 'table') process.stdout.write(`scores ${start.toISOString()} → ${end.toISOString()} by evaluator, ${by} (${reader.description})\n\n`);
    printRows(rows, format as OutputFormat, process.stdout);
    return 0;
  } finally {
    await reader.close();
  }
}

function tokenFrom(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file) return readFileSync(file, 'utf8').trim();
  return env.TRACEGATE_COLLECTOR_TOKEN || undefined;
}

async function rerun(values: Record<string, string | boolean | undefined>): Promise<number> {
  if (!values.config) throw new UsageError('give the configuration holding the Evaluator documents: --config FILE');
  const cfg = await loadConfigFile(values.config as string);
  if (!cfg.ok) throw new Error(`${values.config} has problems:\n${cfg.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  const only = values.evaluator as string | undefined;
  if (only && !cfg.config.evaluators.has(only)) {
    throw new UsageError(`no Evaluator named "${only}" in ${values.config} (it has: ${[...cfg.config.evaluators.keys()].join(', ') || 'none'})`);
  }
  if (cfg.config.evaluators.size === 0) throw new UsageError(`${values.config} holds no Evaluator document`);
  const { start, end } = resolveWindow({ since: (values.since as string) ?? '24h', until: values.until as string | undefined });
  const reader = await openReader(readerFlags(values));
  const sink = otlpResultSink((values.otlp as string) ?? 'http://127.0.0.1:4317', tokenFrom(values['collector-token-file'] as string | undefined, process.env));
  const worker = buildEvaluatorWorker({ client: reader.client, database: reader.database, sink, gatewayUrl: (values.gateway as string) ?? 'http://127.0.0.1:8080/v1' });
  try {
    worker.update(cfg.config.evaluators, cfg.config.evaluatorKeys);
    const summary = await worker.runUntilDone({ since: start.getTime(), until: end.getTime(), storedBefore: Date.now() }, { retryErrors: true }, only);
    await worker.stop();
    const rows = [...summary.byEvaluator].map(([evaluator, t]) => ({
      evaluator,
      version: cfg.config.evaluators.get(evaluator)?.version,
      scored: t.ok,
      errors: t.error,
      skipped: t.skipped,
      judge_cost_usd: Number(t.costUsd.toFixed(6)),
      budget_exhausted: t.budgetExhausted,
    }));
    process.stdout.write(`evaluate ${start.toISOString()} → ${end.toISOString()} (${reader.description}); results sent to the collector\n\n`);
    printRows(rows, 'table', process.stdout);
    if (worker.metrics.pollFailures > 0) {
      process.stderr.write(`tracegate: ${worker.metrics.pollFailures} store queries failed; run again to finish\n`);
      return 1;
    }
    return 0;
  } finally {
    await worker.stop();
    await reader.close();
  }
}

export async function runEvaluate(args: string[]): Promise<number> {
  const { values } = parse(args, {
    ...READER_OPTIONS,
    config: { type: 'string', short: 'c' },
    evaluator: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    gateway: { type: 'string' },
    otlp: { type: 'string' },
    'collector-token-file': { type: 'string' },
    scores: { type: 'boolean' },
    by: { type: 'string' },
    format: { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(EVALUATE_HELP);
    return 0;
  }
  return values.scores ? printScores(values) : rerun(values);
}
