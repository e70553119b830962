import { board } from '../board.js';
import type { Dashboard } from '../model.js';
import { piechart, stat, table, timeseries, unitOverride } from '../panels.js';
import { bucket } from '../sql.js';
import { CALLS_WHERE, USAGE_RANGE, USAGE_WHERE, standardVariables } from './common.js';

/**
 * Tokens and cost, all from the per-minute rollup except the per-user table (users are not a
 * rollup dimension). Caching savings: cache-read tokens × (input price − cached-input price),
 * prices from the newest load of `model_prices`, first match in weight order (the order the
 * collector prices with).
 */

const M = bucket('minute', 60);

const PRICES = `
    (SELECT groupArray((regex, input, cached_input))
       FROM (SELECT regex, input, cached_input FROM model_prices
             WHERE load_id = (SELECT max(load_id) FROM model_prices)
             ORDER BY weight DESC, ordinal)) AS prices`;

/**
 * The price entry of a model name (a `vendor/` route prefix dropped), or zeros: the first entry
 * whose pattern matches, found in one Hyperscan pass over every pattern as llm_spans_mv prices
 * (0071), not one regex call per entry and row (the 30-day series: 5,760 rows of 71 entries
 * each, 407 ms against 202).
 */
const priceOf = (model: string) => `prices[arrayMin(multiMatchAllIndices(replaceRegexpOne(lower(${model}), '^.*/', ''), arrayMap(p -> p.1, prices)))]`;

/** USD saved by cache reads, per row of a subquery with `model` and `cache_read_tokens`. */
const SAVED = `cache_read_tokens * greatest(${priceOf('model')}.2 - ${priceOf('model')}.3, 0) / 1e6`;

/** A stacked series of cost or tokens per value of a rollup dimension. */
const MEASURES = {
  Cost: { expr: 'sum(cost_total) AS cost', opts: { unit: 'currencyUSD', stack: true, bars: true } },
  Tokens: { expr: 'sum(total_tokens) AS tokens', opts: { unit: 'short', stack: true } },
} as const;

const seriesBy = (measure: keyof typeof MEASURES, dim: string, title: string) =>
  timeseries(
    `${measure} by ${title}`,
    `
    SELECT ${M} AS time, ${dim}, ${MEASURES[measure].expr}
    FROM usage_minutely
    WHERE ${USAGE_WHERE}
    GROUP BY time, ${dim}
    ORDER BY time`,
    { ...MEASURES[measure].opts },
  );

const SPEND_UNITS = [unitOverride('cost', 'currencyUSD'), unitOverride('cost_per_call', 'currencyUSD')];

export function tokensDashboard(): Dashboard {
  return board({
    uid: 'tracegate-tokens',
    title: 'tracegate / Tokens and cost',
    description: 'Token use and cost by model, provider, team and key; spend and tokens per team and per key; cached-token share and what caching saved.',
    from: 'now-24h',
    variables: standardVariables(),
    panels: [
      stat('Cost', `SELECT sum(cost_total) AS cost FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, { unit: 'currencyUSD', decimals: 2 }),
      stat('Tokens', `SELECT sum(total_tokens) AS tokens FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, { unit: 'short' }),
      stat('Cached share of prompt tokens', `SELECT sum(cache_read_tokens) / nullIf(sum(prompt_tokens), 0) AS cached_share FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE}`, {
        unit: 'percentunit',
        decimals: 1,
      }),
      stat(
        'Saved by caching',
        `
        WITH ${PRICES}
        SELECT sum(${SAVED}) AS saved
        FROM (SELECT model, sum(cache_read_tokens) AS cache_read_tokens FROM ${USAGE_RANGE} WHERE ${USAGE_WHERE} GROUP BY model)`,
        { unit: 'currencyUSD', decimals: 2, description: 'Cache-read tokens × (input price − cached-input price).' },
      ),
      seriesBy('Cost', 'model', 'model'),
      seriesBy('Cost', 'provider', 'provider'),
      seriesBy('Cost', 'team', 'team'),
      seriesBy('Cost', 'key_name', 'key'),
      seriesBy('Tokens', 'team', 'team'),
      seriesBy('Tokens', 'key_name', 'key'),
      timeseries(
        'Tokens by kind',
        `
        SELECT ${M} AS time,
               sum(prompt_tokens - cache_read_tokens - cache_write_tokens) AS prompt_uncached,
               sum(cache_read_tokens) AS prompt_cache_read,
               sum(cache_write_tokens) AS prompt_cache_write,
               sum(completion_tokens - reasoning_tokens) AS completion,
               sum(reasoning_tokens) AS reasoning
        FROM usage_minutely
        WHERE ${USAGE_WHERE}
        GROUP BY time
        ORDER BY time`,
        { unit: 'short', stack: true },
      ),
      timeseries(
        'Tokens by model',
        `
        SELECT ${M} AS time, model, sum(total_tokens) AS tokens
        FROM usage_minutely
        WHERE ${USAGE_WHERE}
        GROUP BY time, model
        ORDER BY time`,
        { unit: 'short', stack: true },
      ),
      timeseries(
        'Cached share of prompt tokens by model',
        `
        SELECT ${M} AS time, model, sum(cache_read_tokens) / nullIf(sum(prompt_tokens), 0) AS cached_share
        FROM usage_minutely
        WHERE ${USAGE_WHERE}
        GROUP BY time, model
        ORDER BY time`,
        { unit: 'percentunit', min: 0, max: 1 },
      ),
      timeseries(
        'Saved by caching',
        `
        WITH ${PRICES}
        SELECT time, sum(${SAVED}) AS saved
        FROM (
          SELECT ${M} AS time, model, sum(cache_read_tokens) AS cache_read_tokens
          FROM usage_minutely
          WHERE ${USAGE_WHERE}
          GROUP BY time, model
        )
        GROUP BY time
        ORDER BY time`,
        { unit: 'currencyUSD', bars: true },
      ),
      table(
        'Spend and tokens by team',
        `
        SELECT team, uniqExactIf(key_name, key_name != '') AS keys, sum(cost_total) AS cost, sum(calls) AS calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS tokens,
               cost / nullIf(calls, 0) AS cost_per_call
        FROM ${USAGE_RANGE}
        WHERE ${USAGE_WHERE}
        GROUP BY team
        ORDER BY cost DESC`,
        { w: 12, h: 9, description: 'Calls without a team (no gateway key, or a key without one) are the empty team.', overrides: SPEND_UNITS },
      ),
      table(
        'Spend and tokens by key (top spenders)',
        `
        SELECT key_name AS key, team, sum(cost_total) AS cost, sum(calls) AS calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS tokens,
               cost / nullIf(calls, 0) AS cost_per_call
        FROM ${USAGE_RANGE}
        WHERE ${USAGE_WHERE}
        GROUP BY key, team
        ORDER BY cost DESC
        LIMIT 50`,
        { w: 12, h: 9, description: 'Keys are ApiKey document names; calls the gateway did not authenticate by key have none.', overrides: SPEND_UNITS },
      ),
      table(
        'Top users',
        `
        SELECT user_id AS user, sum(cost_total) AS cost, count() AS calls, sum(total_tokens) AS tokens, uniqExact(session_id) AS sessions
        FROM llm_spans
        WHERE ${CALLS_WHERE} AND user_id != ''
        GROUP BY user
        ORDER BY cost DESC
        LIMIT 20`,
        { w: 12, h: 9, description: 'From raw spans (kept for the raw retention).', overrides: [unitOverride('cost', 'currencyUSD')] },
      ),
      piechart(
        'Cost share by provider',
        `
        SELECT provider, sum(cost_total) AS cost
        FROM ${USAGE_RANGE}
        WHERE ${USAGE_WHERE}
        GROUP BY provider
        ORDER BY cost DESC`,
        { unit: 'currencyUSD', w: 12 },
      ),
      table(
        'Cost by model',
        `
        WITH ${PRICES}
        SELECT model, provider, sum(calls) AS calls, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(cache_read_tokens) AS cache_read, sum(cost_total) AS cost, sum(${SAVED}) AS saved_by_cache
        FROM ${USAGE_RANGE}
        WHERE ${USAGE_WHERE}
        GROUP BY model, provider
        ORDER BY cost DESC`,
        { w: 12, h: 8, overrides: [unitOverride('cost', 'currencyUSD'), unitOverride('saved_by_cache', 'currencyUSD')] },
      ),
    ],
  });
}
