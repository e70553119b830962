import type { MergeBatch } from './journal.js';

/**
 * The counters behind rate limits, concurrency and budgets: one interface, two stores
 * (counters-memory.ts for one replica, counters-redis.ts for replicas sharing exact counts).
 *
 * An admission is a list of checks that pass or fail together: either every counter of the
 * request (its key's, its team's) moves, or none does. A store runs it atomically (one Lua
 * script in Redis), so two replicas can never both take the last unit of a limit.
 *
 * Units are integers throughout (requests, tokens, nano-dollars), so counts are exact: no float
 * drift between replicas or between the gateway and the ledger it was rebuilt from.
 */

/** A fixed window: `amount` more units fit when the window's count stays at or under `limit`. */
export interface WindowCheck {
  readonly kind: 'window';
  /** The counter, without its window; the store appends the window's index. */
  readonly key: string;
  readonly limit: number;
  readonly amount: number;
  readonly windowMs: number;
}

/** A concurrency lease: the admission's id holds one of `limit` slots until released or expired. */
export interface LeaseCheck {
  readonly kind: 'lease';
  readonly key: string;
  readonly limit: number;
}

/**
 * A budget reservation: `amount` (nano-USD) is held under the admission's id until settled to
 * the real cost, released, or expired. It fits when spent + reserved + amount <= limit.
 */
export interface BudgetCheck {
  readonly kind: 'budget';
  /** One period's ledger (its key names the period: budget:key:alice:d:2026-12-05). */
  readonly key: string;
  readonly limit: number;
  readonly amount: number;
  /** How long the ledger is kept: to the period's end and a day beyond. */
  readonly keepMs: number;
}

export type Check = WindowCheck | LeaseCheck | BudgetCheck;

export interface Admission {
  /** Unique per call: names its lease and its reservations. */
  readonly id: string;
  readonly checks: readonly Check[];
  /** Leases and reservations of this admission expire this long after the last renewal. */
  readonly ttlMs: number;
}

/** Where one check stands after an admission (or, for the check that failed, before it). */
export interface CheckState {
  /** Units counted, the admission's own included when it passed. */
  readonly used: number;
  /** Milliseconds until the window resets (windows), or a hint when a slot may free (leases, budgets). */
  readonly resetMs: number;
  /** Windows: the index of the window the units went to, for settling. */
  readonly window?: number;
}

export type AdmitResult =
  | { readonly ok: true; readonly states: readonly CheckState[] }
  /** `failed` is the index in `checks` of the first check that did not fit. */
  | { readonly ok: false; readonly failed: number; readonly states: readonly CheckState[] }
  /** Budgets were asked for, but the store's ledger is empty (first start, or Redis restarted empty): seed it first. */
  | { readonly ok: false; readonly rebuild: true };

/** How an admission ends: every counter it moved is brought to the real usage. */
export interface Settlement {
  readonly id: string;
  /** Windows: real units minus admitted units, into the window the admission counted in. */
  readonly windows: readonly { key: string; windowMs: number; window: number; delta: number }[];
  readonly leases: readonly string[];
  /** Budgets: the reservation is dropped and `spent` (nano-USD, 0 on release) added. */
  readonly budgets: readonly { key: string; spent: number; keepMs: number }[];
}

/** Spend already on record for one ledger key (rebuilt from the store, see ledger.ts). */
export interface LedgerEntry {
  readonly key: string;
  /** nano-USD */
  readonly spent: number;
  readonly keepMs: number;
}

export interface CounterStore {
  readonly kind: 'memory' | 'redis';
  admit(a: Admission): Promise<AdmitResult>;
  settle(s: Settlement): Promise<void>;
  /** Keeps live admissions' leases and reservations from expiring (long streams). */
  renew(ids: readonly { id: string; leases: readonly string[]; budgets: readonly string[] }[], ttlMs: number): Promise<void>;
  /**
   * Writes the ledger rebuilt from the store, unless another replica did since the store was
   * found empty. After it, admissions with budgets run again.
   */
  seed(entries: readonly LedgerEntry[]): Promise<void>;
  /** Whether budgets can be checked without a seed first. */
  seeded(): Promise<boolean>;
  /**
   * Adds what a replica counted on its own while this store was away (journal.ts); a shared
   * store only. Resolves whether the spend was merged too (not when the ledger was rebuilt since).
   */
  merge?(batch: MergeBatch): Promise<boolean>;
  close(): Promise<void>;
}

/** Thrown by a store whose backend cannot be reached or timed out: the fail mode decides. */
export class StoreUnavailable extends Error {
  constructor(
    message: string,
    readonly op: 'admit' | 'settle' | 'renew' | 'seed' | 'merge',
  ) {
    super(message);
  }
}

/** 1 USD in the counters' unit. */
export const NANO = 1e9;

export const toNano = (usd: number): number => Math.round(usd * NANO);
