/**
 * What a replica counted on its own while Redis was away (policy.failMode open), kept to be
 * merged into Redis when it answers again, before the next admission there: the units its local
 * windows took (requests, tokens, with the settlements' corrections) and the spend it settled.
 *
 * Exact for what it keeps, with these bounds:
 * - Windows: only windows still current when Redis answers are merged (an older one has reset);
 *   the window is the one this replica's clock named, Redis's may differ by the clocks' skew.
 * - Budgets: the spend is merged only when Redis kept its ledger through the outage (its ledger
 *   marker predates the outage). A Redis that came back empty is rebuilt from the store, whose
 *   spans already hold that spend (up to the export delay), so adding it would count it twice.
 * - Concurrency leases held locally are not merged: until those calls end, Redis does not see
 *   them, so up to that many more calls than the limit may run at once.
 * - A Redis call that timed out may still have run in Redis (its command was sent): its units are
 *   then counted twice, here and there. That errs towards refusing early, by at most the number
 *   of calls that timed out.
 */
import type { Check, CheckState, Settlement } from './counters.js';

export interface MergeBatch {
  /** Epoch ms (this replica's clock) of the first call served without Redis. */
  since: number;
  windows: { key: string; windowMs: number; window: number; count: number }[];
  budgets: { key: string; spent: number; keepMs: number }[];
}

export class OutageJournal {
  private since: number | undefined;
  private readonly windows = new Map<string, { windowMs: number; window: number; count: number }>();
  private readonly budgets = new Map<string, { spent: number; keepMs: number }>();

  get empty(): boolean {
    return this.since === undefined;
  }

  /** An admission the local counters took: `states` as they returned them. */
  admitted(checks: readonly Check[], states: readonly CheckState[], now: number): void {
    this.since ??= now;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i];
      if (c.kind === 'window' && c.amount !== 0) this.window(c.key, c.windowMs, states[i].window ?? Math.floor(now / c.windowMs), c.amount);
    }
  }

  /** A settlement the local counters took. */
  settled(s: Settlement, now: number): void {
    this.since ??= now;
    for (const w of s.windows) this.window(w.key, w.windowMs, w.window, w.delta);
    for (const b of s.budgets) {
      if (b.spent <= 0) continue;
      const e = this.budgets.get(b.key);
      if (e) {
        e.spent += b.spent;
        e.keepMs = b.keepMs;
      } else this.budgets.set(b.key, { spent: b.spent, keepMs: b.keepMs });
    }
  }

  /** Everything kept, and an empty journal. */
  take(): MergeBatch | undefined {
    if (this.since === undefined) return undefined;
    const batch: MergeBatch = {
      since: this.since,
      windows: [...this.windows].map(([key, w]) => ({ key, ...w })).filter((w) => w.count > 0),
      budgets: [...this.budgets].map(([key, b]) => ({ key, ...b })),
    };
    this.since = undefined;
    this.windows.clear();
    this.budgets.clear();
    return batch;
  }

  /** Puts back a batch that could not be merged. */
  restore(b: MergeBatch): void {
    this.since = Math.min(this.since ?? b.since, b.since);
    for (const w of b.windows) this.window(w.key, w.windowMs, w.window, w.count);
    for (const x of b.budgets) this.settled({ id: '', windows: [], leases: [], budgets: [x] }, b.since);
  }

  private window(key: string, windowMs: number, window: number, delta: number): void {
    const e = this.windows.get(key);
    // A correction for a window that has been replaced since is dropped, as the store drops it.
    if (e && e.window === window) e.count += delta;
    else if (!e || window > e.window) this.windows.set(key, { windowMs, window, count: delta });
  }
}
