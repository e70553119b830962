import { board } from '../board.js';
import type { Dashboard } from '../model.js';
import { barchart, piechart, stat, table, timeseries, unitOverride } from '../panels.js';
import { bucket, inVar, where } from '../sql.js';
import { CALLS_WHERE, USAGE_RANGE, USAGE_WHERE, matchingCalls, standardVariables } from './common.js';
import { traceLink } from './traces.js';

/**
 * Model quality from `evaluations` (one row per score: LLM judges, code, human feedback, and
 * the collector's heuristic checks), the online evaluators' runs (`evaluator_runs`: pass/fail,
 * evaluation errors, judge spend) and finish reasons from `llm_spans`.
 * Heuristic failure rates count each call once: only findings on counted calls (the span the
 * call is billed by), divided by counted calls from the rollup.
 */

const HEURISTICS = ['truncated', 'empty_output', 'invalid_json', 'invalid_tool_arguments', 'content_filtered', 'error'];

/** Scores (not heuristics) on calls matching the variables. */
const SCORES_WHERE = where('$__timeFilter(timestamp)', "source != 'heuristic'", inVar('model', 'model'), matchingCalls('span_id', 'span_id', ['model']));

/**
 * The spans that carry an evaluation of the kind `source` names, for a lookup in llm_spans: the
 * lookup then keeps (and hashes) those spans' rows only, not every call in the range (over 30
 * days of 10 million spans with findings on a tenth of the calls: 2.1 s before, 0.8 after).
 */
const evaluated = (source: string) => `span_id IN (SELECT span_id FROM evaluations WHERE $__timeFilter(timestamp) AND ${source})`;

/** Heuristic findings on counted calls matching the variables. */
const FINDINGS_WHERE = where('$__timeFilter(timestamp)', "source = 'heuristic'", `span_id IN (SELECT span_id FROM llm_spans WHERE ${CALLS_WHERE} AND ${evaluated("source = 'heuristic'")})`);

const E = bucket('timestamp', 60);

/** Online evaluators' runs on calls matching the variables (span_id is the scored span). */
const RUNS_WHERE = where('$__timeFilter(timestamp)', matchingCalls('span_id', 'span_id'));

/** Route and team of the scored call, for scores (evaluations keep the model, not these). */
const CALL_ROUTE_TEAM = `LEFT JOIN (SELECT span_id AS sid, any(route) AS call_route, any(team) AS call_team FROM llm_spans WHERE $__timeFilter(timestamp) AND ${evaluated("source != 'heuristic'")} GROUP BY span_id) AS c ON c.sid = span_id`;

export function qualityDashboard(): Dashboard {
  return board({
    uid: 'tracegate-quality',
    title: 'tracegate / Model quality',
    description: 'Evaluation scores by model and evaluator, heuristic failure rates (truncated, empty, invalid JSON, content filter, errors), finish reasons and user feedback.',
    from: 'now-24h',
    variables: standardVariables(),
    panels: [
      stat('Scores recorded', `SELECT count() AS scores FROM evaluations WHERE ${SCORES_WHERE}`, { unit: 'short' }),
      stat('Mean LLM-judge score', `SELECT avg(score) AS mean_score FROM evaluations WHERE ${SCORES_WHERE} AND source = 'llm'`, { decimals: 2 }),
      stat(
        'Calls with a heuristic finding',
        `
        SELECT (SELECT uniqExact(span_id) FROM evaluations WHERE ${FINDINGS_WHERE})
               / nullIf((SELECT sum(calls) FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}), 0) AS flagged`,
        { unit: 'percentunit', decimals: 1 },
      ),
      stat('Positive feedback', `SELECT avg(score > 0) AS positive FROM evaluations WHERE ${SCORES_WHERE} AND source = 'human'`, {
        unit: 'percentunit',
        decimals: 0,
        description: 'Share of human feedback with a score above 0.',
      }),
      timeseries(
        'Score by evaluator',
        `
        SELECT ${E} AS time, name, avg(score) AS mean_score
        FROM evaluations
        WHERE ${SCORES_WHERE} AND score IS NOT NULL
        GROUP BY time, name
        ORDER BY time`,
        { decimals: 2 },
      ),
      timeseries(
        'Score by model (LLM judges)',
        `
        SELECT ${E} AS time, model, avg(score) AS mean_score
        FROM evaluations
        WHERE ${SCORES_WHERE} AND source = 'llm' AND score IS NOT NULL
        GROUP BY time, model
        ORDER BY time`,
        { decimals: 2 },
      ),
      stat('Evaluator pass rate', `SELECT avg(passed) AS pass_rate FROM evaluator_runs WHERE ${RUNS_WHERE} AND passed IS NOT NULL`, {
        unit: 'percentunit',
        decimals: 1,
        description: 'Share of online evaluations (LLM judges and code checks) whose verdict passes.',
      }),
      stat('Evaluation errors', `SELECT countIf(status = 'error') AS errors FROM evaluator_runs WHERE ${RUNS_WHERE}`, {
        unit: 'short',
        description: 'Evaluations that ended without a score after their retries: the judge timed out, answered what cannot be read, or was refused (budget, limits).',
      }),
      stat('Evaluation cost', `SELECT sum(cost_total) AS cost FROM evaluator_runs WHERE ${RUNS_WHERE}`, {
        unit: 'currencyUSD',
        decimals: 4,
        description: "Judge calls' spend, attributed to the evaluators: never part of the application's usage.",
      }),
      stat('Judge tokens', `SELECT sum(prompt_tokens + completion_tokens) AS tokens FROM evaluator_runs WHERE ${RUNS_WHERE}`, { unit: 'short' }),
      timeseries(
        'Pass rate by evaluator',
        `
        SELECT ${E} AS time, evaluator, avg(passed) AS pass_rate
        FROM evaluator_runs
        WHERE ${RUNS_WHERE} AND passed IS NOT NULL
        GROUP BY time, evaluator
        ORDER BY time`,
        { unit: 'percentunit' },
      ),
      timeseries(
        'Evaluation cost by evaluator',
        `
        SELECT ${E} AS time, evaluator, sum(cost_total) AS cost
        FROM evaluator_runs
        WHERE ${RUNS_WHERE}
        GROUP BY time, evaluator
        ORDER BY time`,
        { unit: 'currencyUSD', stack: true, bars: true, description: 'Judge spend per evaluator (its own budget), apart from application usage.' },
      ),
      timeseries(
        'Score by route',
        `
        SELECT ${E} AS time, call_route AS route, avg(score) AS mean_score
        FROM evaluations ${CALL_ROUTE_TEAM}
        WHERE ${SCORES_WHERE} AND score IS NOT NULL AND call_route != ''
        GROUP BY time, route
        ORDER BY time`,
        { decimals: 2 },
      ),
      timeseries(
        'Score by team',
        `
        SELECT ${E} AS time, call_team AS team, avg(score) AS mean_score
        FROM evaluations ${CALL_ROUTE_TEAM}
        WHERE ${SCORES_WHERE} AND score IS NOT NULL AND call_team != ''
        GROUP BY time, team
        ORDER BY time`,
        { decimals: 2 },
      ),
      table(
        'Scores by evaluator, model, route and team',
        `
        SELECT name AS evaluator, model, call_route AS route, call_team AS team, count() AS scores,
               avg(score) AS mean_score, countIf(label = 'error' AND score IS NULL) AS errors
        FROM evaluations ${CALL_ROUTE_TEAM}
        WHERE ${SCORES_WHERE}
        GROUP BY evaluator, model, route, team
        ORDER BY evaluator, scores DESC
        LIMIT 200`,
        { w: 24, h: 8 },
      ),
      timeseries(
        'Heuristic failure rate',
        `
        SELECT time, name, findings / calls AS rate
        FROM (SELECT ${E} AS time, name, count() AS findings FROM evaluations WHERE ${FINDINGS_WHERE} GROUP BY time, name) AS f
        INNER JOIN (SELECT ${bucket('minute', 60)} AS time, sum(calls) AS calls FROM usage_minutely WHERE ${USAGE_WHERE} GROUP BY time) AS c
          USING (time)
        ORDER BY time`,
        { unit: 'percentunit', w: 24, description: `Findings per call: ${HEURISTICS.join(', ')}.` },
      ),
      table(
        'Heuristic failure rate by model',
        `
        SELECT model, calls, ${HEURISTICS.map((h) => `coalesce(f.${h}, 0) / calls AS ${h}`).join(', ')}
        FROM (SELECT model, sum(calls) AS calls FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE} GROUP BY model) AS c
        LEFT JOIN (
          SELECT model, ${HEURISTICS.map((h) => `countIf(name = '${h}') AS ${h}`).join(', ')}
          FROM evaluations
          WHERE ${FINDINGS_WHERE}
          GROUP BY model
        ) AS f USING (model)
        ORDER BY calls DESC`,
        { w: 24, h: 7, overrides: HEURISTICS.map((h) => unitOverride(h, 'percentunit')) },
      ),
      timeseries(
        'Finish reasons',
        `
        SELECT ${bucket('timestamp', 60)} AS time, if(finish_reason = '', 'none', finish_reason) AS finish_reason, count() AS calls
        FROM llm_spans
        WHERE ${CALLS_WHERE}
        GROUP BY time, finish_reason
        ORDER BY time`,
        { unit: 'short', stack: true, bars: true, w: 16 },
      ),
      piechart(
        'Finish reasons (share)',
        `
        SELECT if(finish_reason = '', 'none', finish_reason) AS finish_reason, count() AS calls
        FROM llm_spans
        WHERE ${CALLS_WHERE}
        GROUP BY finish_reason
        ORDER BY calls DESC`,
      ),
      barchart(
        'Feedback by label',
        `
        SELECT if(label = '', toString(score), label) AS feedback, count() AS votes
        FROM evaluations
        WHERE ${SCORES_WHERE} AND source = 'human'
        GROUP BY feedback
        ORDER BY votes DESC`,
        { xField: 'feedback', w: 8, h: 8 },
      ),
      table(
        'Lowest scores',
        `
        SELECT timestamp AS time, trace_id, name, source, model, score, label, explanation
        FROM evaluations
        WHERE ${SCORES_WHERE} AND score IS NOT NULL
        ORDER BY score ASC, timestamp DESC
        LIMIT 50`,
        { w: 16, h: 8, overrides: [traceLink()] },
      ),
    ],
  });
}
