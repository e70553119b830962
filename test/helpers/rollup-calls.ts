import type { SpanRecord } from '../../collector/model.js';
import type { REFRESHABLE_VIEWS } from '../../schemas/rollups.js';
import { gatewaySpan, llmSpan, ns } from './spans.js';
import type { TempStore } from './store.js';

/**
 * Calls for the rollup tests (usage_hourly, usage_daily): an application's call and, unless
 * `appOnly`, the gateway's span of it under it (traceparent), starting `gatewayAfterMs` later.
 * Figures, services, teams and keys vary with `i`, so that rows differ key by key.
 */
export function rollupCall(at: number, i: number, opts: { models: string[]; teams: string[]; appOnly?: boolean; gatewayAfterMs?: number; model?: string }): SpanRecord[] {
  const model = opts.model ?? opts.models[i % 2];
  const app = llmSpan({ model, usage: { prompt: 100 + i, completion: 10 + (i % 7) }, start: ns(at), durationMs: 200 + ((i * 37) % 900), serviceName: `app-${i % 3}` });
  if (opts.appOnly) return [app];
  const gateway = gatewaySpan({
    traceId: app.traceId,
    parentSpanId: app.spanId,
    model,
    usage: { prompt: 120 + i, completion: 20 + (i % 5) },
    route: 'chat',
    team: opts.teams[i % 2],
    keyName: `key-${i % 3}`,
    start: ns(at + (opts.gatewayAfterMs ?? 5)),
    durationMs: 150 + ((i * 53) % 700),
    streaming: i % 4 === 0,
    ttftMs: i % 4 === 0 ? 40 + i : undefined,
    status: i % 11 === 0 ? 'Error' : undefined,
  });
  return [app, gateway];
}

/** Runs these refreshable views of `db` now, in the order given, each stopped again after. */
export async function refreshStopped(store: TempStore, db: string, ...views: (typeof REFRESHABLE_VIEWS)[number][]): Promise<void> {
  for (const v of views) {
    for (const verb of ['START', 'REFRESH', 'WAIT', 'STOP']) await store.client.command({ query: `SYSTEM ${verb} VIEW ${db}.${v}` });
  }
}

/** The sums the rollup tests compare level against level. */
export const ROLLUP_SUMS = `sum(calls) AS calls, sum(errors) AS errors, sum(streaming_calls) AS streaming, sum(gateway_calls) AS gateway,
  sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, round(sum(cost_total), 9) AS cost,
  round(sum(duration_ms_sum), 3) AS duration, round(quantileTDigestMerge(0.5)(latency_ms_state), 3) AS p50`;
