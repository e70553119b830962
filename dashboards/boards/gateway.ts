import { board } from '../board.js';
import type { Dashboard } from '../model.js';
import { barchart, stat, table, timeseries, unitOverride } from '../panels.js';
import { bucket, bucketSeconds, inVar, where } from '../sql.js';
import { CALLS_WHERE, SPANS_WHERE, USAGE_RANGE, USAGE_WHERE, standardVariables } from './common.js';

/**
 * The golden signals. Rates, errors and latency by route and model read the per-minute rollup
 * (quantiles merged from t-digest states), so any range is cheap; what the rollup does not keep
 * (backend, error type) reads the typed spans (llm_spans), and fallbacks, retries, circuit breakers
 * and refusals the calls that had them (gateway_call_outcomes).
 */

const M = bucket('minute', 60);
const MS = bucketSeconds(60);

/**
 * The gateway's calls with retries, a fallback, circuit-breaker skips or a policy refusal
 * (gateway_call_outcomes, 0086: one row per such call, from its span's attributes, with its
 * route, model, team, key and whether llm_spans counts it), the counted ones that match the
 * variables. The calling service is decided later (llm_spans.app_service_name), so only a chosen
 * service looks the calls up there.
 */
const OUTCOMES = `
    FROM gateway_call_outcomes FINAL
    WHERE ${where(
      '$__timeFilter(timestamp)',
      'counted = 1',
      inVar('model', 'model'),
      inVar('team', 'team'),
      inVar('key_name', 'key'),
      inVar('route', 'route'),
      `$__conditionalAll((trace_id, span_id) IN (SELECT trace_id, span_id FROM llm_spans WHERE $__timeFilter(timestamp) AND origin = 'gateway' AND app_service_name IN (\${service:singlequote})), $service)`,
    )}`;

export function gatewayDashboard(): Dashboard {
  return board({
    uid: 'tracegate-gateway',
    title: 'tracegate / Gateway overview',
    description: 'Golden signals of the gateway: traffic, errors, latency and time to first token, fallbacks, retries, circuit breakers, policy refusals (rate limits, budgets, keys).',
    variables: standardVariables(),
    panels: [
      stat('Requests per second', `SELECT sum(calls) / greatest(dateDiff('second', $__fromTime, $__toTime), 1) AS rps FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, { unit: 'reqps', decimals: 2 }),
      stat('Error rate', `SELECT sum(errors) / nullIf(sum(calls), 0) AS error_rate FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, { unit: 'percentunit', decimals: 2 }),
      stat('Latency p95', `SELECT quantileTDigestMerge(0.95)(latency_ms_state) AS p95 FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, { unit: 'ms' }),
      stat('Policy refusals', `SELECT count() AS refusals ${OUTCOMES} AND policy_reason != ''`, {
        unit: 'short',
        description:
          'Calls the gateway refused itself: 429 for a rate limit or budget, 403 for a route or model the key may not use, 503 when limits could not be checked (gateway_call_outcomes.policy_reason, from tracegate.policy.reason).',
      }),
      timeseries(
        'Requests per second by route',
        `
        SELECT ${M} AS time, route, sum(calls) / ${MS} AS rps
        FROM usage_minutely
        WHERE ${USAGE_WHERE}
        GROUP BY time, route
        ORDER BY time`,
        { unit: 'reqps', stack: true },
      ),
      timeseries(
        'Error rate by error type',
        `
        SELECT time, error_type, failed / total AS error_rate
        FROM (
          SELECT ${bucket('timestamp', 60)} AS time,
                 if(status_code != 'Error', '', if(error_type = '', 'unknown', error_type)) AS error_type,
                 count() AS failed,
                 sum(count()) OVER (PARTITION BY time) AS total
          FROM llm_spans
          WHERE ${CALLS_WHERE}
          GROUP BY time, error_type
        )
        WHERE error_type != ''
        ORDER BY time`,
        { unit: 'percentunit', stack: true, description: 'Share of calls that failed, by error.type (raw spans).' },
      ),
      timeseries(
        'Latency p50 / p95 / p99',
        `
        SELECT time, q[1] AS p50, q[2] AS p95, q[3] AS p99
        FROM (
          SELECT ${M} AS time, quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms_state) AS q
          FROM usage_minutely
          WHERE ${USAGE_WHERE}
          GROUP BY time
        )
        ORDER BY time`,
        { unit: 'ms' },
      ),
      timeseries(
        'Time to first token p50 / p95 by route (streams)',
        `
        SELECT ${M} AS time, route, quantilesTDigestMerge(0.5, 0.95)(ttft_ms_state)[2] AS p95, quantilesTDigestMerge(0.5, 0.95)(ttft_ms_state)[1] AS p50
        FROM usage_minutely
        WHERE ${USAGE_WHERE} AND streaming_calls > 0
        GROUP BY time, route
        ORDER BY time`,
        { unit: 'ms' },
      ),
      timeseries(
        'Latency p95 by model',
        `
        SELECT ${M} AS time, model, quantileTDigestMerge(0.95)(latency_ms_state) AS p95
        FROM usage_minutely
        WHERE ${USAGE_WHERE}
        GROUP BY time, model
        ORDER BY time`,
        { unit: 'ms' },
      ),
      timeseries(
        'Latency p95 by backend',
        `
        SELECT ${bucket('timestamp', 60)} AS time, backend, quantile(0.95)(duration_ms) AS p95
        FROM llm_spans
        WHERE ${CALLS_WHERE} AND origin = 'gateway'
        GROUP BY time, backend
        ORDER BY time`,
        { unit: 'ms', description: 'Raw gateway spans: the backend that answered (after any fallback).' },
      ),
      timeseries(
        'Fallbacks, retries and circuit-breaker skips',
        `
        SELECT ${bucket('timestamp', 60)} AS time,
               countIf(fallback_used) AS fallbacks,
               sum(retries) AS retries,
               sum(length(circuit_skipped)) AS circuit_skips
        ${OUTCOMES}
        GROUP BY time
        ORDER BY time`,
        { unit: 'short', bars: true, description: 'Per bucket: calls answered by a fallback backend, retries, backends passed over because their circuit breaker was open.' },
      ),
      timeseries(
        'Policy refusals by key',
        `
        SELECT ${bucket('timestamp', 60)} AS time, key_name, count() AS refusals
        ${OUTCOMES}
          AND policy_reason != ''
        GROUP BY time, key_name
        ORDER BY time`,
        { unit: 'short', bars: true },
      ),
      timeseries(
        'Policy refusals by reason and scope',
        `
        SELECT ${bucket('timestamp', 60)} AS time,
               concat(policy_reason, ' / ', policy_scope) AS refusal,
               count() AS refusals
        ${OUTCOMES}
          AND policy_reason != ''
        GROUP BY time, refusal
        ORDER BY time`,
        {
          unit: 'short',
          bars: true,
          description:
            'Refused calls by tracegate.policy.reason (requests, tokens, input_tokens, output_tokens, concurrency, daily_budget, monthly_budget, store_unavailable, route, model) and tracegate.policy.scope (key, team, default, store), from the refusal spans.',
        },
      ),
      table(
        'Backends',
        `
        SELECT
          backend,
          count() AS calls,
          countIf(status_code = 'Error') AS errors,
          errors / calls AS error_rate,
          countIf(fallback_used) AS fallbacks,
          quantile(0.5)(duration_ms) AS p50_ms,
          quantile(0.95)(duration_ms) AS p95_ms,
          quantileIf(0.95)(ttft_ms, ttft_ms IS NOT NULL) AS ttft_p95_ms
        FROM llm_spans
        WHERE ${CALLS_WHERE} AND origin = 'gateway'
        GROUP BY backend
        ORDER BY calls DESC`,
        { w: 14, h: 8, overrides: [unitOverride('error_rate', 'percentunit'), unitOverride('p50_ms', 'ms'), unitOverride('p95_ms', 'ms'), unitOverride('ttft_p95_ms', 'ms')] },
      ),
      barchart(
        'Backends skipped by an open circuit breaker',
        `
        SELECT arrayJoin(circuit_skipped) AS backend, count() AS skips
        ${OUTCOMES}
          AND notEmpty(circuit_skipped)
        GROUP BY backend
        ORDER BY skips DESC`,
        { xField: 'backend', w: 10, h: 8 },
      ),
      table(
        'HTTP status codes',
        `
        SELECT http_status, count() AS calls, calls / sum(calls) OVER () AS share
        FROM llm_spans
        WHERE ${SPANS_WHERE} AND counted = 1 AND origin = 'gateway'
        GROUP BY http_status
        ORDER BY http_status`,
        { w: 24, h: 6, overrides: [unitOverride('share', 'percentunit')] },
      ),
    ],
  });
}
