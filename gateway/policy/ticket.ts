/**
 * One admitted call's hold on the counters: what it counted, leased and reserved, and how that
 * ends. `end()` runs once on every path (answer, stream end, upstream error, client gone,
 * timeout, a bug): with the real usage it settles, without it releases. A fallback to a model at
 * other prices re-reserves at them (`reprice`).
 */
import type { Usage } from '../providers/types.js';
import { StoreUnavailable, type Admission, type BudgetCheck, type Check, type CheckState, type CounterStore, type Settlement } from './counters.js';
import type { Policy } from './limits.js';
import type { Linked } from './live.js';
import { limitRefusal, type Reason, type Refusal, type Scope } from './refusal.js';

export interface CheckMeta {
  reason: Reason;
  scope: { scope: Exclude<Scope, 'store'>; name?: string };
  periodEnd?: number;
}

export interface TicketParts {
  store: CounterStore;
  admission: Admission;
  metas: readonly CheckMeta[];
  states: readonly CheckState[];
  /** The model the reservation was priced for. */
  model: string;
  input: number;
  /** Output tokens the reservation covers. */
  outCap: number;
  headers: [string, string][];
}

/** Settlements a store could not take now; retried on the renewal tick. */
const MAX_PENDING = 10_000;

export class Ticket implements Linked<Ticket> {
  /** A call that no limit applies to. */
  static readonly free = new Ticket(undefined, undefined);

  readonly headers: readonly [string, string][];
  /** Whether it holds a lease or a reservation (which must be renewed while the call runs). */
  readonly holds: boolean;
  store: CounterStore | undefined;
  private budgetStore: CounterStore | undefined;
  private budgets: BudgetCheck[];
  private model: string;
  private done = false;
  /** Links of the policy's list of live tickets (live.ts). */
  prevLive: Ticket | undefined;
  nextLive: Ticket | undefined;

  constructor(
    private readonly policy: Policy | undefined,
    private readonly parts: TicketParts | undefined,
  ) {
    this.headers = parts?.headers ?? [];
    this.store = parts?.store;
    this.budgetStore = parts?.store;
    this.budgets = (parts?.admission.checks.filter((c) => c.kind === 'budget') ?? []) as BudgetCheck[];
    this.model = parts?.model ?? '';
    this.holds = !!parts?.admission.checks.some((c) => c.kind !== 'window');
  }

  /** Whether a budget reservation is held (a fallback's prices then matter). */
  get budgeted(): boolean {
    return this.budgets.length > 0;
  }

  get id(): string {
    return this.parts?.admission.id ?? '';
  }

  holdings(): { id: string; leases: string[]; budgets: string[] } {
    const checks = this.parts?.admission.checks ?? [];
    return { id: this.id, leases: checks.filter((c) => c.kind === 'lease').map((c) => c.key), budgets: this.budgets.map((c) => c.key) };
  }

  /** A stream past what its reservation covers (output tokens so far) is cut: only when a budget applies. */
  overran(outputTokens: number): boolean {
    return this.budgets.length > 0 && outputTokens > (this.parts?.outCap ?? Infinity);
  }

  /**
   * Before an attempt on `model`: re-reserves at its prices when they differ from the
   * reservation's. Nothing to re-reserve (the usual case) answers undefined at once, not a promise.
   */
  reprice(model: string): Promise<Refusal | undefined> | undefined {
    const { policy, parts } = this;
    if (!policy || !parts || this.done || this.budgets.length === 0 || model === this.model) return undefined;
    const amount = policy.env.pricing.worstCase(model, parts.input, parts.outCap);
    this.model = model;
    if (amount === this.budgets[0].amount) return undefined;
    return this.reserveAt(policy, parts, amount);
  }

  /** Moves the budget reservation to `amount`: released at the old amount, reserved again at the new one. */
  private async reserveAt(policy: Policy, parts: TicketParts, amount: number): Promise<Refusal | undefined> {
    const old = this.budgets;
    this.budgets = [];
    await this.settleOn(this.budgetStore as CounterStore, { id: this.id, windows: [], leases: [], budgets: old.map((b) => ({ key: b.key, spent: 0, keepMs: b.keepMs })) });
    const checks = old.map((b) => ({ ...b, amount }));
    const ran = await policy.run({ id: this.id, checks, ttlMs: parts.admission.ttlMs });
    if ('refusal' in ran) return ran.refusal;
    if (!ran.result.ok) {
      if ('rebuild' in ran.result) return undefined;
      const i = ran.result.failed;
      const metas = parts.metas.filter((_, j) => parts.admission.checks[j].kind === 'budget');
      const st = ran.result.states[i];
      const refusal = limitRefusal(metas[i].reason, metas[i].scope.scope, metas[i].scope.name, checks[i].limit, st.used, amount, Math.max(1, (metas[i].periodEnd ?? 0) - policy.env.clock()));
      policy.env.metrics.refused(refusal.reason, refusal.scope);
      return refusal;
    }
    // budgets left out of a fail-open admission (no ledger) hold nothing to settle
    this.budgets = ran.kept ? ran.kept.map((i) => checks[i]) : checks;
    this.budgetStore = ran.store;
    return undefined;
  }

  /**
   * Settles to `usage` (priced by the first of `models` the table knows), or releases without it.
   * Once. On this process's counters it is done when it returns (undefined, no promise).
   */
  end(usage: Usage | undefined, models: readonly (string | undefined)[] = []): Promise<void> | undefined {
    const { policy, parts } = this;
    if (!policy || !parts || this.done) return;
    this.done = true;
    policy.live.delete(this);
    const checks = parts.admission.checks;
    const windows: Settlement['windows'][number][] = [];
    const leases: string[] = [];
    for (let i = 0; i < checks.length; i++) {
      const c: Check = checks[i];
      if (c.kind === 'lease') leases.push(c.key);
      if (c.kind !== 'window' || parts.metas[i].reason === 'requests') continue;
      const reason = parts.metas[i].reason;
      const real = !usage ? 0 : reason === 'tokens' ? usage.promptTokens + usage.completionTokens : reason === 'input_tokens' ? usage.promptTokens : usage.completionTokens;
      if (real !== c.amount) windows.push({ key: c.key, windowMs: c.windowMs, window: parts.states[i].window ?? 0, delta: real - c.amount });
    }
    const spent = usage && this.budgets.length > 0 ? policy.env.pricing.settle([...models, this.model], usage) : 0;
    const budgets = this.budgets.map((b) => ({ key: b.key, spent, keepMs: b.keepMs }));
    const store = this.store as CounterStore;
    if (this.budgetStore === store) return this.settleOn(store, { id: this.id, windows, leases, budgets });
    return this.settleApart(store, this.budgetStore as CounterStore, { id: this.id, windows, leases, budgets });
  }

  /** The counters on one store and the reservation on another (re-reserved there by a fallback, reserveAt). */
  private async settleApart(store: CounterStore, budgetStore: CounterStore, s: Settlement): Promise<void> {
    await this.settleOn(store, { ...s, budgets: [] });
    await this.settleOn(budgetStore, { id: s.id, windows: [], leases: [], budgets: s.budgets });
  }

  /** Settles on `store`; this process's counters at once, without a promise (they cannot be away). */
  private settleOn(store: CounterStore, s: Settlement): Promise<void> | undefined {
    const policy = this.policy as Policy;
    const env = policy.env;
    if (store !== env.local) return this.settleShared(store, s);
    // Admitted alone while the shared store was away: the settlement is kept to be merged too.
    if (env.store !== store && env.store.merge) policy.journal.settled(s, env.clock());
    env.local.settleNow(s);
    return undefined;
  }

  private async settleShared(store: CounterStore, s: Settlement): Promise<void> {
    const policy = this.policy as Policy;
    try {
      await store.settle(s);
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) throw err;
      policy.env.metrics.fault('settle', policy.env.spec.failMode === 'open');
      if (policy.pending.length < MAX_PENDING) policy.pending.push({ store, s });
    }
  }
}
