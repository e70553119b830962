/**
 * Limits and budgets of one call, from admission to settlement.
 *
 * Admission (before anything is sent): one atomic store operation checks every limit of the
 * caller's key and team (or the default limits, without a key) and, when all fit, counts the
 * request, the tokens it may use, a concurrency lease, and a budget reservation of its worst
 * case. Tokens are checked with the estimate (input tokens from the tokenizer, plus the
 * max_tokens the client asked for) and settled with the real usage afterwards: the difference is
 * added to (or refunded from) the window the call was admitted in. Budgets reserve the worst case
 * at the model's prices and settle to the real cost; every failure path releases.
 *
 * The store is Redis or this process (counters-*.ts). When Redis cannot be reached the fail
 * mode decides: `open` counts in this process (seeded from the ledger) and counts the fault,
 * `closed` refuses with 503.
 */
import { limitsOf } from '../config/policy.js';
import type { GatewaySpec } from '../config/schema.js';
import { estimatePromptTokens, TokenBudget } from '../tokenizer.js';
import type { Endpoint } from '../providers/types.js';
import { requestedMaxTokens, type Pricing } from './budget.js';
import { StoreUnavailable, type Admission, type AdmitResult, type Check, type CheckState, type CounterStore, type Settlement } from './counters.js';
import type { MemoryCounters } from './counters-memory.js';
import type { Identity, Limits } from './identity.js';
import { rebuildLedger, type SpendSource } from './ledger.js';
import type { PolicyMetrics } from './metrics.js';
import { OutageJournal } from './journal.js';
import { Periods } from './periods.js';
import { Plan, type ScopeRef } from './plan.js';
import { limitRefusal, resetText, storeRefusal, type Refusal } from './refusal.js';
import { LiveList } from './live.js';
import { Ticket, type CheckMeta, type TicketParts } from './ticket.js';

export type PolicySpec = GatewaySpec['policy'];

export interface PolicyEnv {
  spec: PolicySpec;
  /** Redis, or the same object as `local` for counters: memory. */
  store: CounterStore;
  /** This process's counters: the store itself, or Redis's fail-open fallback. */
  local: MemoryCounters;
  pricing: Pricing;
  clock: () => number;
  /** Where spend ledgers are rebuilt from; without one, budgets start from zero (logged once). */
  spend?: SpendSource;
  metrics: PolicyMetrics;
  warn: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface CallFacts {
  /** The caller's key; undefined for the master key, or when authentication is off. */
  identity?: Identity;
  /** Authentication is off (no ApiKey): a call without identity is held to the default limits. */
  open?: boolean;
  endpoint: Endpoint;
  body: Record<string, unknown>;
  /** The model about to be called: its prices make the reservation. */
  model: string;
}

const FAULT_LOG_MS = 10_000;
const DAY = 86_400_000;

/** Characters of an `input` field (embeddings, responses): strings as they are, anything else as its JSON. */
function inputChars(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + (typeof x === 'number' ? 4 : inputChars(x)), 0);
  return v === undefined || v === null ? 0 : JSON.stringify(v).length;
}

/**
 * Input tokens a call is admitted at: the tokenizer's chat framing with text at its default
 * 4 characters a token, not its BPE (which cost about 60 µs for a 1 KB prompt on every call).
 * The real usage settles the difference.
 */
export function admissionInputTokens(endpoint: Endpoint, body: Record<string, unknown>): number {
  // Google's generateContent body: its contents, system instruction and tools, as JSON.
  if (endpoint === 'generate') return Math.ceil(inputChars([body.systemInstruction, body.contents, body.tools]) / 4);
  if (endpoint === 'embeddings' || endpoint === 'responses') return Math.ceil(inputChars(body.input) / 4) + (endpoint === 'responses' ? Math.ceil(inputChars(body.instructions) / 4) : 0);
  return estimatePromptTokens(body, new TokenBudget(0, 0));
}

const isEmpty = (l: Limits) => Object.keys(l).length === 0;

/** Admission ids: unique across replicas (a random prefix per process) without a random draw per call. */
const ID_PREFIX = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}-`;
let idSeq = 0;

export class Policy {
  private periods: Periods;
  private defaults: Limits;
  /** The default limits' plan (rebuilt by configure) and each identity's (identities are rebuilt per load). */
  private defaultPlan: Plan | undefined;
  private readonly plans = new WeakMap<Identity, Plan | null>();
  readonly live = new LiveList<Ticket>();
  /** Settlements the store could not take when the call ended: retried on the renewal tick. */
  readonly pending: { store: CounterStore; s: Settlement }[] = [];
  private readonly rebuilds = new Map<CounterStore, Promise<boolean>>();
  private readonly renewal: NodeJS.Timeout;
  private closed = false;

  constructor(readonly env: PolicyEnv) {
    this.periods = new Periods(env.spec.timeZone);
    this.defaults = limitsOf(env.spec.defaultLimits);
    this.defaultPlan = isEmpty(this.defaults) ? undefined : new Plan([{ scope: 'default', prefix: 'default', limits: this.defaults }]);
    const ttl = env.spec.reservation.ttl;
    this.renewal = setInterval(() => void this.renew(), Math.max(50, Math.floor(ttl / 3)));
    this.renewal.unref();
  }

  /**
   * A reloaded configuration's settings: default limits, time zone, reservations and fail mode
   * apply at once; the counter store stays the one the gateway started with (returns false when
   * the new settings name another, which a restart applies).
   */
  configure(spec: PolicySpec): boolean {
    const same = spec.counters === this.env.spec.counters && JSON.stringify(spec.redis) === JSON.stringify(this.env.spec.redis);
    if (spec.timeZone !== this.periods.timeZone) this.periods = new Periods(spec.timeZone);
    this.defaults = limitsOf(spec.defaultLimits);
    this.defaultPlan = isEmpty(this.defaults) ? undefined : new Plan([{ scope: 'default', prefix: 'default', limits: this.defaults }]);
    this.env.spec = { ...spec, counters: this.env.spec.counters, redis: this.env.spec.redis };
    return same;
  }

  get ttlMs(): number {
    return this.env.spec.reservation.ttl;
  }

  /** What to check for this caller: undefined when no limit applies. */
  private planOf(identity: Identity | undefined, open: boolean): Plan | undefined {
    // The master key (no identity while authentication is on) is held to no limit.
    if (!identity) return open ? this.defaultPlan : undefined;
    let plan = this.plans.get(identity);
    if (plan === undefined) {
      const scopes: ScopeRef[] = [];
      if (!isEmpty(identity.keyLimits)) scopes.push({ scope: 'key', name: identity.key, prefix: `k:${identity.key}`, limits: identity.keyLimits });
      if (identity.team !== undefined && identity.teamLimits && !isEmpty(identity.teamLimits))
        scopes.push({ scope: 'team', name: identity.team, prefix: `t:${identity.team}`, limits: identity.teamLimits });
      plan = scopes.length ? new Plan(scopes) : null;
      this.plans.set(identity, plan);
    }
    return plan ?? undefined;
  }

  /**
   * Admits the call or says which limit refuses it. A call with no limits at all costs no store
   * call, and with counters in this process no promise either (the answer is there at once).
   */
  admit(call: CallFacts): Ticket | Refusal | Promise<Ticket | Refusal> {
    const plan = this.planOf(call.identity, call.open ?? true);
    if (!plan) return Ticket.free;
    const now = this.env.clock();
    const input = plan.needTokens || plan.needBudget ? admissionInputTokens(call.endpoint, call.body) : 0;
    const asked = call.endpoint === 'embeddings' ? 0 : requestedMaxTokens(call.body);
    const outTpm = asked ?? 0;
    const outCap = call.endpoint === 'embeddings' ? 0 : (asked ?? this.env.spec.reservation.maxTokens);
    const worst = plan.needBudget ? this.env.pricing.worstCase(call.model, input, outCap) : 0;
    const { day, month } = this.periods.at(now);
    const checks = plan.checks({ total: input + outTpm, input, output: outTpm, worst }, day, month, now);
    const admission: Admission = { id: ID_PREFIX + (++idSeq).toString(36), checks, ttlMs: this.ttlMs };
    const c: Admitting = { plan, model: call.model, now, input, outCap, admission, metas: plan.metas(day, month) };
    const local = this.admitLocal(admission);
    return local ? this.outcome(c, local) : this.run(admission).then((ran) => this.outcome(c, ran));
  }

  /** The ticket of an admission that went through, or the refusal of the limit that did not. */
  private outcome(c: Admitting, ran: Ran | { refusal: Refusal }): Ticket | Refusal {
    if ('refusal' in ran) return ran.refusal;
    const { plan, admission, metas, now } = c;
    const { checks } = admission;
    const { store, result, kept } = ran;
    if (!result.ok) {
      if ('rebuild' in result) return this.refuse(storeRefusal());
      const m = metas[result.failed];
      const check = checks[result.failed];
      const st = result.states[result.failed];
      const retry = m.periodEnd !== undefined ? m.periodEnd - now : check.kind === 'lease' ? 1000 : st.resetMs;
      const amount = check.kind === 'lease' ? 1 : check.amount;
      const refusal = limitRefusal(m.reason, m.scope.scope, m.scope.name, check.limit, st.used, amount, Math.max(1, retry));
      return this.refuse({ ...refusal, headers: headersOf(plan, checks, result.states, result.failed + 1) });
    }
    // the ticket holds what was counted: without the budgets left out in an outage (`kept`)
    const pick = <T>(xs: readonly T[]): readonly T[] => (kept ? kept.map((i) => xs[i]) : xs);
    const parts: TicketParts = {
      store,
      admission: kept ? { ...admission, checks: pick(checks) } : admission,
      metas: pick(metas),
      states: pick(result.states),
      model: c.model,
      input: c.input,
      outCap: c.outCap,
      headers: headersOf(plan, checks, result.states, checks.length),
    };
    const ticket = new Ticket(this, parts);
    if (ticket.holds) this.live.add(ticket);
    return ticket;
  }

  private refuse(r: Refusal): Refusal {
    this.env.metrics.refused(r.reason, r.scope);
    return r;
  }

  /**
   * The admission on in-memory counters, without the promises of `run` (nothing there waits);
   * undefined with Redis, or when the ledger must be rebuilt first (`run` does that).
   */
  private admitLocal(a: Admission): Ran | undefined {
    const { store, local } = this.env;
    if (store !== local) return undefined;
    const result = local.admitNow(a);
    return !result.ok && 'rebuild' in result ? undefined : { store, result };
  }

  /** Runs an admission on the store; on a fault, on this process's counters or not at all, as the fail mode says. */
  async run(a: Admission): Promise<Ran | { refusal: Refusal }> {
    const { store, local } = this.env;
    try {
      // Back from an outage: what this replica counted alone goes into the store first.
      if (!this.journal.empty && store.merge) await this.mergeJournal(store);
      let result = await store.admit(a);
      if (!result.ok && 'rebuild' in result && (await this.rebuild(store))) result = await store.admit(a);
      if (!result.ok && 'rebuild' in result) throw new StoreUnavailable('the spend ledger could not be rebuilt', 'seed');
      return { store, result };
    } catch (err) {
      if (!(err instanceof StoreUnavailable) || store === local) throw err;
      const open = this.env.spec.failMode === 'open';
      this.env.metrics.fault(err.op, open);
      this.logFault(err, open);
      if (!open) return { refusal: this.refuse(storeRefusal()) };
      let result = local.admitNow(a);
      if (!result.ok && 'rebuild' in result && (await this.rebuild(local))) result = local.admitNow(a);
      if (!result.ok && 'rebuild' in result) {
        // No ledger to check budgets against: failing open serves the call without them. The
        // result is given for every check of `a` (a budget left out: nothing used), so indexes,
        // limit headers and refusals stay those of the whole list; `kept` says which were counted.
        const kept = a.checks.flatMap((c, i) => (c.kind === 'budget' ? [] : [i]));
        const checks = kept.map((i) => a.checks[i]);
        const r = local.admitNow({ ...a, checks });
        if (r.ok && store.merge) this.journal.admitted(checks, r.states, this.env.clock());
        return { store: local, result: widen(r, kept, a.checks.length), kept };
      }
      if (result.ok && store.merge) this.journal.admitted(a.checks, result.states, this.env.clock());
      return { store: local, result };
    }
  }

  /** What this replica counted alone while the store was away (fail open), merged when it is back. */
  readonly journal = new OutageJournal();
  private merging: Promise<void> | undefined;

  /** Merges the journal into the store, once at a time; on failure it is kept for the next try. */
  private mergeJournal(store: CounterStore): Promise<void> {
    this.merging ??= (async () => {
      const batch = this.journal.take();
      if (!batch) return;
      try {
        const spend = await (store.merge as NonNullable<CounterStore['merge']>)(batch);
        this.env.metrics.merged(spend ? 'with_spend' : 'windows_only');
      } catch (err) {
        this.journal.restore(batch);
        throw err;
      }
    })().finally(() => (this.merging = undefined));
    return this.merging;
  }

  private faultLoggedAt = -Infinity;

  /** A counter-store fault is logged at most every FAULT_LOG_MS (each one is counted). */
  private logFault(err: StoreUnavailable, open: boolean): void {
    const now = this.env.clock();
    if (now - this.faultLoggedAt < FAULT_LOG_MS) return;
    this.faultLoggedAt = now;
    this.env.warn(
      `${err.message}: ${open ? "serving with this replica's own counters (policy.failMode open)" : 'refusing calls with 503 (policy.failMode closed)'}; counted in tracegate_gateway_policy_store_faults_total`,
    );
  }

  /** Seeds a store's ledger from the spend store, once at a time per store. */
  rebuild(store: CounterStore): Promise<boolean> {
    let p = this.rebuilds.get(store);
    if (!p) {
      p = rebuildLedger(store, this.env, this.periods.at(this.env.clock()), DAY).finally(() => this.rebuilds.delete(store));
      this.rebuilds.set(store, p);
    }
    return p;
  }

  /** Keeps live calls' leases and reservations from expiring. */
  private async renew(): Promise<void> {
    const retry = this.pending.splice(0);
    for (let i = 0; i < retry.length; i++) {
      try {
        await retry[i].store.settle(retry[i].s);
      } catch {
        this.pending.push(...retry.slice(i)); // still away: the rest wait for the next tick
        break;
      }
    }
    const byStore = new Map<CounterStore, { id: string; leases: string[]; budgets: string[] }[]>();
    for (const t of this.live) {
      if (!t.store) continue;
      const list = byStore.get(t.store) ?? [];
      list.push(t.holdings());
      byStore.set(t.store, list);
    }
    for (const [store, list] of byStore) {
      await store.renew(list, this.ttlMs).catch((err) => this.env.metrics.fault((err as StoreUnavailable).op ?? 'renew', this.env.spec.failMode === 'open'));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewal);
    await this.env.store.close();
    if (this.env.local !== this.env.store) await this.env.local.close();
  }
}

/** What a call's admission needs once the store has answered. */
interface Admitting {
  plan: Plan;
  model: string;
  now: number;
  input: number;
  outCap: number;
  admission: Admission;
  metas: readonly CheckMeta[];
}

/** An admission's outcome: on `store`; `kept`, when some checks could not be counted, the indexes of those that were. */
export interface Ran {
  store: CounterStore;
  result: AdmitResult;
  kept?: readonly number[];
}

/** A result over `kept` of `n` checks, as a result over all `n` (a check not kept: nothing used, no wait). */
function widen(r: AdmitResult, kept: readonly number[], n: number): AdmitResult {
  if (!r.ok && 'rebuild' in r) return r;
  const states: CheckState[] = Array.from({ length: n }, () => ({ used: 0, resetMs: 0 }));
  kept.forEach((i, j) => {
    if (j < r.states.length) states[i] = r.states[j];
  });
  return r.ok ? { ok: true, states } : { ok: false, failed: kept[r.failed], states };
}

/** x-ratelimit-* names as literals: a header name built per call costs Fastify and Node a lookup of its own. */
const NAMES = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const;

/** x-ratelimit-* as OpenAI sends them: of the tightest requests and tokens windows among the first `n` checks. */
function headersOf(plan: Plan, checks: readonly Check[], states: readonly CheckState[], n: number): [string, string][] {
  const out: [string, string][] = [];
  tightest(out, plan, plan.requests, NAMES.requests, checks, states, n);
  tightest(out, plan, plan.tokens, NAMES.tokens, checks, states, n);
  return out;
}

/** Appends the limit, remaining and reset headers of the tightest window among `indexes` (those below `n`). */
function tightest(out: [string, string][], plan: Plan, indexes: readonly number[], names: readonly [string, string, string], checks: readonly Check[], states: readonly CheckState[], n: number): void {
  let best = -1;
  let left = Infinity;
  for (const i of indexes) {
    if (i >= n) break;
    const remaining = checks[i].limit - states[i].used;
    if (remaining < left) {
      left = remaining;
      best = i;
    }
  }
  if (best < 0) return;
  out.push([names[0], plan.limitTexts[best]], [names[1], String(Math.max(0, left))], [names[2], resetText(states[best].resetMs)]);
}
