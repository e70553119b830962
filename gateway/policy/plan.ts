/**
 * What the policy checks for one caller, worked out once per configuration load instead of on
 * every call: for each scope (the key's and its team's limits, or the default limits) the
 * counters in order (requests, tokens, input and output tokens per minute, concurrency, daily and
 * monthly budget), their store keys and limits, and what a refusal of each one names. A call
 * only fills in its amounts (tokens, the reservation) and, for budgets, the period's ledger key,
 * which is worked out once per period.
 */
import { toNano, type Check, type LeaseCheck, type WindowCheck } from './counters.js';
import type { Limits } from './identity.js';
import type { Period } from './periods.js';
import type { Reason, Scope } from './refusal.js';
import type { CheckMeta } from './ticket.js';

export interface ScopeRef {
  scope: Exclude<Scope, 'store'>;
  name?: string;
  /** The scope's counters' key prefix: `k:<key>`, `t:<team>` or `default`. */
  prefix: string;
  limits: Limits;
}

/** What a call needs to fill in: tokens estimated for it and its worst-case cost. */
export interface Amounts {
  /** input + requested output tokens (tokensPerMinute) */
  total: number;
  input: number;
  output: number;
  /** nano-USD */
  worst: number;
}

type Step =
  /** Requests per minute and concurrency: the same check on every call. */
  | { kind: 'fixed'; check: WindowCheck | LeaseCheck }
  | { kind: 'tokens'; key: string; limit: number; of: 'total' | 'input' | 'output' }
  | { kind: 'budget'; prefix: string; limit: number; period: 'day' | 'month' };

const MINUTE = 60_000;
const DAY = 86_400_000;

const hasTokens = (l: Limits) => l.tokensPerMinute !== undefined || l.inputTokensPerMinute !== undefined || l.outputTokensPerMinute !== undefined;
const hasBudget = (l: Limits) => l.dailyBudgetUsd !== undefined || l.monthlyBudgetUsd !== undefined;

export class Plan {
  private readonly steps: Step[] = [];
  private readonly base: { reason: Reason; scope: ScopeRef }[] = [];
  readonly needTokens: boolean;
  readonly needBudget: boolean;
  /** Indexes of the requests and tokens windows (for x-ratelimit-*). */
  readonly requests: number[] = [];
  readonly tokens: number[] = [];
  /** Each check's limit as header text (x-ratelimit-limit-*), written once instead of on every call. */
  readonly limitTexts: string[] = [];
  private dayId = '';
  private monthId = '';
  private budgetKeys: string[] = [];
  private periodMetas: CheckMeta[] = [];

  constructor(scopes: readonly ScopeRef[]) {
    for (const s of scopes) {
      const l = s.limits;
      const p = s.prefix;
      const add = (step: Step, reason: Reason) => {
        if (reason === 'requests') this.requests.push(this.steps.length);
        if (reason === 'tokens') this.tokens.push(this.steps.length);
        this.steps.push(step);
        this.base.push({ reason, scope: s });
        this.limitTexts.push(String(step.kind === 'fixed' ? step.check.limit : step.limit));
      };
      if (l.requestsPerMinute !== undefined) add({ kind: 'fixed', check: { kind: 'window', key: `${p}:rpm`, limit: l.requestsPerMinute, amount: 1, windowMs: MINUTE } }, 'requests');
      if (l.tokensPerMinute !== undefined) add({ kind: 'tokens', key: `${p}:tpm`, limit: l.tokensPerMinute, of: 'total' }, 'tokens');
      if (l.inputTokensPerMinute !== undefined) add({ kind: 'tokens', key: `${p}:itpm`, limit: l.inputTokensPerMinute, of: 'input' }, 'input_tokens');
      if (l.outputTokensPerMinute !== undefined) add({ kind: 'tokens', key: `${p}:otpm`, limit: l.outputTokensPerMinute, of: 'output' }, 'output_tokens');
      if (l.concurrentRequests !== undefined) add({ kind: 'fixed', check: { kind: 'lease', key: `${p}:conc`, limit: l.concurrentRequests } }, 'concurrency');
      if (l.dailyBudgetUsd !== undefined) add({ kind: 'budget', prefix: p, limit: toNano(l.dailyBudgetUsd), period: 'day' }, 'daily_budget');
      if (l.monthlyBudgetUsd !== undefined) add({ kind: 'budget', prefix: p, limit: toNano(l.monthlyBudgetUsd), period: 'month' }, 'monthly_budget');
    }
    this.needTokens = scopes.some((s) => hasTokens(s.limits));
    this.needBudget = scopes.some((s) => hasBudget(s.limits));
  }

  get size(): number {
    return this.steps.length;
  }

  /** What each check is for, in the periods of `day` and `month` (budgets: the period's end, for Retry-After). */
  metas(day: Period, month: Period): readonly CheckMeta[] {
    this.at(day, month);
    return this.periodMetas;
  }

  /** The call's checks, in the plan's order. */
  checks(a: Amounts, day: Period, month: Period, now: number): Check[] {
    this.at(day, month);
    const out: Check[] = new Array(this.steps.length);
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i];
      if (s.kind === 'fixed') out[i] = s.check;
      else if (s.kind === 'tokens') out[i] = { kind: 'window', key: s.key, limit: s.limit, amount: a[s.of], windowMs: MINUTE };
      else out[i] = { kind: 'budget', key: this.budgetKeys[i], limit: s.limit, amount: a.worst, keepMs: (s.period === 'day' ? day.end : month.end) - now + DAY };
    }
    return out;
  }

  private at(day: Period, month: Period): void {
    if (day.id === this.dayId && month.id === this.monthId) return;
    this.budgetKeys = this.steps.map((s) => (s.kind === 'budget' ? `${s.prefix}:${s.period === 'day' ? day.id : month.id}` : ''));
    this.periodMetas = this.base.map((b, i) => {
      const s = this.steps[i];
      return s.kind === 'budget' ? { ...b, periodEnd: s.period === 'day' ? day.end : month.end } : b;
    });
    this.dayId = day.id;
    this.monthId = month.id;
  }
}
