/**
 * Counters in this process: exact for one replica, and the local fallback of a Redis store that
 * fails open. Same semantics as the Redis scripts (counters-redis.ts), on the injected clock.
 */
import type { Admission, AdmitResult, CheckState, CounterStore, LedgerEntry, Settlement } from './counters.js';

interface Window {
  index: number;
  count: number;
  windowMs: number;
}

interface Ledger {
  spent: number;
  reserved: number;
  /** Reservation id → amount and expiry. */
  holds: Map<string, { amount: number; expires: number }>;
  /** No hold expires before this (a lower bound: holds are only looked through from then on). */
  nextExpiry: number;
  /** Dropped after this (the period ended a while ago). */
  keepUntil: number;
}

/** One key's concurrency leases. */
interface Leases {
  /** Admission id → expiry. */
  held: Map<string, number>;
  /** No lease expires before this (a lower bound: leases are only looked through from then on). */
  nextExpiry: number;
}

const NO_LEASES: ReadonlyMap<string, number> = new Map();

/** Old ledgers and lease sets are swept at most this often. */
const SWEEP_MS = 60_000;

export class MemoryCounters implements CounterStore {
  readonly kind = 'memory' as const;
  private readonly windows = new Map<string, Window>();
  private readonly leases = new Map<string, Leases>();
  private readonly ledgers = new Map<string, Ledger>();
  private isSeeded = false;
  private sweptAt = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  async admit(a: Admission): Promise<AdmitResult> {
    return this.admitNow(a);
  }

  /** Synchronous core (the Redis store's fail-open path calls it too). */
  admitNow(a: Admission): AdmitResult {
    const now = this.clock();
    this.sweep(now);
    if (!this.isSeeded && a.checks.some((c) => c.kind === 'budget')) return { ok: false, rebuild: true };
    const states: CheckState[] = [];
    for (let i = 0; i < a.checks.length; i++) {
      const c = a.checks[i];
      if (c.kind === 'window') {
        const index = Math.floor(now / c.windowMs);
        const w = this.windows.get(c.key);
        const used = w && w.index === index ? w.count : 0;
        const resetMs = (index + 1) * c.windowMs - now;
        if (used + c.amount > c.limit) return { ok: false, failed: i, states: [...states, { used, resetMs, window: index }] };
        states.push({ used: used + c.amount, resetMs, window: index });
      } else if (c.kind === 'lease') {
        const held = this.liveLeases(c.key, now);
        if (held.size + 1 > c.limit) return { ok: false, failed: i, states: [...states, { used: held.size, resetMs: earliest(held.values(), now) }] };
        states.push({ used: held.size + 1, resetMs: 0 });
      } else {
        const l = this.ledger(c.key, now, c.keepMs);
        const used = l.spent + l.reserved;
        if (used + c.amount > c.limit)
          return {
            ok: false,
            failed: i,
            states: [
              ...states,
              {
                used,
                resetMs: earliest(
                  [...l.holds.values()].map((h) => h.expires),
                  now,
                ),
              },
            ],
          };
        states.push({ used: used + c.amount, resetMs: 0 });
      }
    }
    // Every check fits: now move the counters.
    for (const c of a.checks) {
      if (c.kind === 'window') {
        const index = Math.floor(now / c.windowMs);
        const w = this.windows.get(c.key);
        if (w && w.index === index) w.count += c.amount;
        else this.windows.set(c.key, { index, count: c.amount, windowMs: c.windowMs });
      } else if (c.kind === 'lease') {
        let l = this.leases.get(c.key);
        if (!l) this.leases.set(c.key, (l = { held: new Map(), nextExpiry: Infinity }));
        l.held.set(a.id, now + a.ttlMs);
        if (now + a.ttlMs < l.nextExpiry) l.nextExpiry = now + a.ttlMs;
      } else {
        const l = this.ledger(c.key, now, c.keepMs);
        l.reserved += c.amount;
        l.holds.set(a.id, { amount: c.amount, expires: now + a.ttlMs });
        if (now + a.ttlMs < l.nextExpiry) l.nextExpiry = now + a.ttlMs;
      }
    }
    return { ok: true, states };
  }

  async settle(s: Settlement): Promise<void> {
    this.settleNow(s);
  }

  settleNow(s: Settlement): void {
    const now = this.clock();
    for (const w of s.windows) {
      const cur = this.windows.get(w.key);
      const index = Math.floor(now / w.windowMs);
      // A refund only while the admission's window lasts; tokens beyond the estimate land in the current one.
      if (index === w.window && cur && cur.index === index) cur.count = Math.max(0, cur.count + w.delta);
      else if (index !== w.window && w.delta > 0) {
        if (cur && cur.index === index) cur.count += w.delta;
        else this.windows.set(w.key, { index, count: w.delta, windowMs: w.windowMs });
      }
    }
    for (const key of s.leases) this.leases.get(key)?.held.delete(s.id);
    for (const b of s.budgets) {
      const l = this.ledger(b.key, now, b.keepMs);
      const h = l.holds.get(s.id);
      if (h) {
        l.reserved -= h.amount;
        l.holds.delete(s.id);
      }
      l.spent += b.spent;
    }
  }

  async renew(ids: readonly { id: string; leases: readonly string[]; budgets: readonly string[] }[], ttlMs: number): Promise<void> {
    const until = this.clock() + ttlMs;
    for (const r of ids) {
      for (const key of r.leases) {
        const m = this.leases.get(key)?.held;
        if (m?.has(r.id)) m.set(r.id, until);
      }
      for (const key of r.budgets) {
        const h = this.ledgers.get(key)?.holds.get(r.id);
        if (h) h.expires = until;
      }
    }
  }

  async seed(entries: readonly LedgerEntry[]): Promise<void> {
    if (this.isSeeded) return;
    const now = this.clock();
    for (const e of entries) this.ledger(e.key, now, e.keepMs).spent = e.spent;
    this.isSeeded = true;
  }

  async seeded(): Promise<boolean> {
    return this.isSeeded;
  }

  async close(): Promise<void> {}

  /** For tests and the fail-open path: what a ledger holds now. */
  peek(key: string): { spent: number; reserved: number } | undefined {
    const l = this.ledgers.get(key);
    if (l) this.expireHolds(l, this.clock());
    return l && { spent: l.spent, reserved: l.reserved };
  }

  private liveLeases(key: string, now: number): ReadonlyMap<string, number> {
    const l = this.leases.get(key);
    if (!l) return NO_LEASES;
    if (now >= l.nextExpiry) dropExpired(l, now);
    return l.held;
  }

  private ledger(key: string, now: number, keepMs: number): Ledger {
    let l = this.ledgers.get(key);
    if (!l) this.ledgers.set(key, (l = { spent: 0, reserved: 0, holds: new Map(), nextExpiry: Infinity, keepUntil: now + keepMs }));
    this.expireHolds(l, now);
    return l;
  }

  private expireHolds(l: Ledger, now: number): void {
    if (now < l.nextExpiry) return;
    let next = Infinity;
    for (const [id, h] of l.holds) {
      if (h.expires > now) {
        if (h.expires < next) next = h.expires;
        continue;
      }
      l.reserved -= h.amount;
      l.holds.delete(id);
    }
    l.nextExpiry = next;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_MS) return;
    this.sweptAt = now;
    for (const [k, l] of this.ledgers) if (l.keepUntil <= now) this.ledgers.delete(k);
    for (const [k, l] of this.leases) {
      dropExpired(l, now);
      if (l.held.size === 0) this.leases.delete(k);
    }
    for (const [k, w] of this.windows) if ((w.index + 1) * w.windowMs <= now) this.windows.delete(k);
  }
}

/** Drops the leases expired at `now` and moves the lower bound to the first expiry left. */
function dropExpired(l: Leases, now: number): void {
  let next = Infinity;
  for (const [id, exp] of l.held) {
    if (exp <= now) l.held.delete(id);
    else if (exp < next) next = exp;
  }
  l.nextExpiry = next;
}

/** Milliseconds until the first of some expiry times, at least 1. */
function earliest(times: Iterable<number>, now: number): number {
  let min = Infinity;
  for (const t of times) if (t < min) min = t;
  return min === Infinity ? 1000 : Math.max(1, min - now);
}
