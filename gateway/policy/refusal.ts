/**
 * How limits speak to clients: 429 refusals in OpenAI's envelope naming the limit (codes as
 * OpenAI's: `rate_limit_exceeded`, and `insufficient_quota` for budgets), 503 when the counter
 * store is away and the fail mode is closed, and the `x-ratelimit-*` headers OpenAI answers with.
 * Label values are bounded: a reason and a scope from the lists below, never a key's name.
 */
import { GatewayError, gatewayClientError, type ErrorCode } from '../errors.js';
import type { ClientError } from '../providers/types.js';

export const REASONS = ['requests', 'tokens', 'input_tokens', 'output_tokens', 'concurrency', 'daily_budget', 'monthly_budget', 'store_unavailable'] as const;
export type Reason = (typeof REASONS)[number];
export const SCOPES = ['key', 'team', 'default', 'store'] as const;
export type Scope = (typeof SCOPES)[number];

/** The limit a refusal names, in the words of the configuration. */
const LIMIT_NAME: Record<Reason, string> = {
  requests: 'requestsPerMinute',
  tokens: 'tokensPerMinute',
  input_tokens: 'inputTokensPerMinute',
  output_tokens: 'outputTokensPerMinute',
  concurrency: 'concurrentRequests',
  daily_budget: 'budget.dailyUsd',
  monthly_budget: 'budget.monthlyUsd',
  store_unavailable: 'policy.failMode',
};

export interface Refusal {
  readonly reason: Reason;
  readonly scope: Scope;
  readonly error: ClientError;
  /** For the span: tracegate.policy.limit / scope / reason / limit_value. */
  readonly attributes: Readonly<Record<string, string | number>>;
  /** The same, as the span writer takes them. */
  readonly span: { limit: string; scope: Scope; reason: Reason; limitValue?: number };
  /** x-ratelimit-* as of the refusal (the windows checked up to the one that refused), as OpenAI sends them on a 429. */
  readonly headers?: readonly (readonly [string, string])[];
}

/** `1s`, `6m0s`, `20ms`: how OpenAI writes x-ratelimit-reset-*. */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

const usd = (nano: number) => `$${(nano / 1e9).toFixed(6).replace(/0+$/, '').replace(/\.$/, '')}`;

function describe(reason: Reason, limit: number, used: number, amount: number): string {
  switch (reason) {
    case 'requests':
      return `Rate limit reached for requests per minute: limit ${limit}, used ${used}`;
    case 'tokens':
    case 'input_tokens':
    case 'output_tokens':
      return `Rate limit reached for ${reason.replace('_', ' ')} per minute: limit ${limit}, used ${used}, requested ${amount}`;
    case 'concurrency':
      return `Too many concurrent requests: limit ${limit}, in flight ${used}`;
    case 'daily_budget':
    case 'monthly_budget':
      return `${reason === 'daily_budget' ? 'Daily' : 'Monthly'} budget exceeded: budget ${usd(limit)}, spent and reserved ${usd(used)}, this call may cost up to ${usd(amount)}`;
    default:
      return 'limits cannot be checked now';
  }
}

/** From the catalogue; never retried (it is the gateway's own answer, not an upstream's). */
function refusalError(code: ErrorCode, message: string, retryAfterMs: number, type?: string): ClientError {
  return gatewayClientError(new GatewayError(code, message, { retryAfterMs, type }));
}

/** A 429 for a limit of `scope` (`name` is the key's or team's document name). */
export function limitRefusal(reason: Reason, scope: Scope, name: string | undefined, limit: number, used: number, amount: number, retryAfterMs: number): Refusal {
  const budget = reason === 'daily_budget' || reason === 'monthly_budget';
  const who = scope === 'default' ? 'the default limits' : `${scope} ${name}`;
  const message = `${describe(reason, limit, used, amount)} (${LIMIT_NAME[reason]} of ${who}). ${budget ? 'Retry after the budget period resets or raise the budget.' : `Please retry after ${resetText(retryAfterMs)}.`}`;
  // OpenAI types token-limit refusals `tokens`.
  const tokens = !budget && reason !== 'requests' && reason !== 'concurrency';
  const error = refusalError(budget ? 'insufficient_quota' : 'rate_limit_exceeded', message, retryAfterMs, tokens ? 'tokens' : undefined);
  const span = { limit: LIMIT_NAME[reason], scope, reason, limitValue: budget ? limit / 1e9 : limit };
  const attributes: Record<string, string | number> = {
    'tracegate.policy.limit': span.limit,
    'tracegate.policy.scope': scope,
    'tracegate.policy.reason': reason,
    'tracegate.policy.limit_value': span.limitValue,
  };
  return { reason, scope, error, attributes, span };
}

/** The counter store cannot be reached and the fail mode is closed. */
export function storeRefusal(): Refusal {
  const error = refusalError('policy_store_unavailable', 'Limits and budgets cannot be checked now (the counter store is unreachable); the request was not sent. Please retry shortly.', 1000);
  const span = { limit: LIMIT_NAME.store_unavailable, scope: 'store' as const, reason: 'store_unavailable' as const };
  return { reason: span.reason, scope: span.scope, error, attributes: { 'tracegate.policy.limit': span.limit, 'tracegate.policy.scope': span.scope, 'tracegate.policy.reason': span.reason }, span };
}
