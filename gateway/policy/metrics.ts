/**
 * The policy's own metrics: refusals by reason and scope, counter-store faults by operation,
 * ledger rebuilds by result. Every label value comes from a fixed list (refusal.ts), never from a
 * key or team name.
 */
import { Counter } from '../../common/metrics/registry.js';
import type { Reason, Scope } from './refusal.js';

export interface PolicyMetrics {
  refused(reason: Reason, scope: Scope): void;
  /** A counter-store call that failed or timed out; `served` says whether the fail mode served it. */
  fault(op: string, served: boolean): void;
  rebuilt(result: 'ok' | 'failed'): void;
  /** What a replica counted alone during an outage was merged into the store (with its spend, or its windows only). */
  merged(result: 'with_spend' | 'windows_only'): void;
  render(): string;
}

export function buildPolicyMetrics(): PolicyMetrics {
  const refusals = new Counter(
    'tracegate_gateway_policy_refusals_total',
    'Calls refused by a limit or budget, by reason and scope (key, team, default; store when the counter store was away and the fail mode is closed)',
    ['reason', 'scope'],
  );
  const faults = new Counter(
    'tracegate_gateway_policy_store_faults_total',
    'Counter-store (Redis) calls that failed or timed out, by operation and what the fail mode did (served locally or refused)',
    ['op', 'outcome'],
  );
  const rebuilds = new Counter('tracegate_gateway_policy_ledger_rebuilds_total', 'Spend ledgers rebuilt from the store (at start, after Redis came back empty), by result', ['result']);
  const merges = new Counter(
    'tracegate_gateway_policy_outage_merges_total',
    'Counts this replica kept alone while the counter store was away (fail open), merged into it when it came back: with the spend, or windows only (the ledger was rebuilt from the store meanwhile)',
    ['result'],
  );
  return {
    refused: (reason, scope) => refusals.inc([reason, scope]),
    fault: (op, served) => faults.inc([op, served ? 'served' : 'refused']),
    rebuilt: (result) => rebuilds.inc([result]),
    merged: (result) => merges.inc([result]),
    render: () => [refusals, faults, rebuilds, merges].map((m) => m.render()).join('\n'),
  };
}
