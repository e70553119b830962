import { exposition, Gauge, single } from '../../common/metrics/registry.js';

/**
 * The evaluators' own counters, rendered into the collector's /metrics:
 *   tracegate_evaluator_evaluations_total{evaluator,status}  ok | error | skipped
 *   tracegate_evaluator_judge_calls_total{evaluator,outcome}  each try: ok, timeout, unparseable,
 *                                                             refused_budget, rate_limited, refused,
 *                                                             judge_error, unreachable
 *   tracegate_evaluator_retries_total{evaluator}
 *   tracegate_evaluator_cost_usd_total{evaluator}             judge spend (the evaluator's, not the application's)
 *   tracegate_evaluator_backlog{evaluator}                    spans waiting to be scored in the window
 *   tracegate_evaluator_in_flight{evaluator}
 *   tracegate_evaluator_budget_exhausted{evaluator}           1 while the day's budget is spent
 *   tracegate_evaluator_poll_failures_total                   store queries that failed
 */
export class EvaluatorMetrics {
  readonly evaluations = new Map<string, number>();
  readonly judgeCalls = new Map<string, number>();
  readonly retries = new Map<string, number>();
  readonly cost = new Map<string, number>();
  readonly backlog = new Map<string, number>();
  readonly inFlight = new Map<string, number>();
  readonly budgetExhausted = new Map<string, number>();
  pollFailures = 0;

  add(m: Map<string, number>, key: string, by = 1): void {
    m.set(key, (m.get(key) ?? 0) + by);
  }

  /** Drops the gauges of evaluators no longer configured (counters stay: they are totals). */
  retain(names: ReadonlySet<string>): void {
    for (const m of [this.backlog, this.inFlight, this.budgetExhausted]) for (const k of m.keys()) if (!names.has(k)) m.delete(k);
  }

  render(): string {
    const labelled = (name: string, type: 'counter' | 'gauge', help: string, m: Map<string, number>, second?: string) =>
      new Gauge(name, help, second ? ['evaluator', second] : ['evaluator'], () => [...m].map(([k, v]) => [k.split('\u0000'), v] as [string[], number]), type);
    return exposition([
      labelled('tracegate_evaluator_evaluations_total', 'counter', 'Evaluations finished, by status (ok, error, skipped).', this.evaluations, 'status'),
      labelled('tracegate_evaluator_judge_calls_total', 'counter', 'Judge calls through the gateway, each try, by outcome.', this.judgeCalls, 'outcome'),
      labelled('tracegate_evaluator_retries_total', 'counter', 'Judge calls retried after a timeout, a failure or an unreadable answer.', this.retries),
      labelled('tracegate_evaluator_cost_usd_total', 'counter', "Judge spend in USD (the evaluator's, never the application's).", this.cost),
      labelled('tracegate_evaluator_backlog', 'gauge', 'Spans waiting to be scored (matching, sampled, not yet scored by this version).', this.backlog),
      labelled('tracegate_evaluator_in_flight', 'gauge', 'Evaluations running.', this.inFlight),
      labelled('tracegate_evaluator_budget_exhausted', 'gauge', "1 while the evaluator's daily budget is spent.", this.budgetExhausted),
      single('tracegate_evaluator_poll_failures_total', 'Store queries of the evaluators that failed.', () => this.pollFailures, 'counter'),
    ]);
  }
}

export const pair = (evaluator: string, second: string) => `${evaluator}\u0000${second}`;
