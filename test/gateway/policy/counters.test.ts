/**
 * Both counter stores against the same table of cases: the in-memory one on a fake clock, the
 * Redis one against a real redis-server (test/helpers/redis.ts) with its own clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admission, Check, CounterStore } from '../../../gateway/policy/counters.js';
import { MemoryCounters } from '../../../gateway/policy/counters-memory.js';
import { RedisCounters } from '../../../gateway/policy/counters-redis.js';
import { startRedis, type TestRedis } from '../../helpers/redis.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let seq = 0;
const uniq = (s: string) => `${s}-${process.pid}-${++seq}`;
const admission = (checks: Check[], ttlMs = 60_000): Admission => ({ id: uniq('call'), checks, ttlMs });
const win = (key: string, limit: number, amount = 1): Check => ({ kind: 'window', key, limit, amount, windowMs: 60_000 });
const lease = (key: string, limit: number): Check => ({ kind: 'lease', key, limit });
const budget = (key: string, limit: number, amount: number): Check => ({ kind: 'budget', key, limit, amount, keepMs: 86_400_000 });

interface Subject {
  name: string;
  make(): CounterStore;
  /** Moves time on by ms (fake clock) or waits it (Redis). */
  pass(store: CounterStore, ms: number): Promise<void>;
}

const clocks = new WeakMap<CounterStore, { t: number }>();

const subjects: Subject[] = [
  {
    name: 'memory',
    make() {
      const clock = { t: 1_000_000_000_020 }; // 20 ms into a minute
      const s: CounterStore = new MemoryCounters(() => clock.t);
      clocks.set(s, clock);
      return s;
    },
    async pass(store, ms) {
      clocks.get(store)!.t += ms;
    },
  },
  {
    name: 'redis',
    make: () => new RedisCounters({ url: redis.url, timeoutMs: 1000, prefix: uniq('t') }),
    pass: (_s, ms) => new Promise((r) => setTimeout(r, ms)),
  },
];

describe.each(subjects)('$name counters', (subject) => {
  let store: CounterStore;
  beforeAll(async () => {
    store = subject.make();
    await store.seed([]);
  });
  afterAll(() => store.close());

  it('a window lets exactly `limit` of many parallel admissions through', async () => {
    const key = uniq('rpm');
    const results = await Promise.all(Array.from({ length: 60 }, () => store.admit(admission([win(key, 7)]))));
    expect(results.filter((r) => r.ok).length).toBe(7);
    const refused = results.find((r) => !r.ok && 'failed' in r);
    expect(refused && 'states' in refused && refused.states[0].used).toBe(7);
  });

  it('checks pass or fail together: a full team leaves the key counter untouched', async () => {
    const k = uniq('key');
    const t = uniq('team');
    expect((await store.admit(admission([win(k, 10), win(t, 1)]))).ok).toBe(true);
    const r = await store.admit(admission([win(k, 10), win(t, 1)]));
    expect(r.ok).toBe(false);
    expect(!r.ok && 'failed' in r && r.failed).toBe(1);
    const next = await store.admit(admission([win(k, 10)]));
    expect(next.ok && next.states[0].used).toBe(2);
  });

  it('a refusal by the last check leaves every counter the admission moved before it (window, lease, reservation) where it was', async () => {
    const [w, l, b, full] = ['tpm', 'conc', 'budget', 'rpm'].map(uniq);
    const checks = () => [win(w, 1000, 300), lease(l, 1), budget(b, 1000, 400), win(full, 1)];
    expect((await store.admit(admission([win(full, 1)]))).ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      const r = await store.admit(admission(checks()));
      expect(!r.ok && 'failed' in r && r.failed).toBe(3);
    }
    // nothing of the three refusals is counted: the window, the one slot and the budget are whole
    const after = await store.admit(admission([win(w, 1000, 1000), lease(l, 1), budget(b, 1000, 1000)]));
    expect(after.ok && after.states.map((st) => st.used)).toEqual([1000, 1, 1000]);
  });

  it('a settlement refunds what the real usage did not take, and adds what it took beyond', async () => {
    const key = uniq('tpm');
    const a = admission([win(key, 100, 60)]);
    const r = await store.admit(a);
    expect(r.ok).toBe(true);
    const window = r.ok ? (r.states[0].window as number) : 0;
    await store.settle({ id: a.id, windows: [{ key, windowMs: 60_000, window, delta: -45 }], leases: [], budgets: [] });
    const b = await store.admit(admission([win(key, 100, 85)]));
    expect(b.ok && b.states[0].used).toBe(100);
    expect((await store.admit(admission([win(key, 100, 1)]))).ok).toBe(false);
  });

  it('leases: exactly `limit` held at once, a release frees one, an expired one frees itself', async () => {
    const key = uniq('conc');
    const held = [admission([lease(key, 2)], 300), admission([lease(key, 2)], 300)];
    for (const a of held) expect((await store.admit(a)).ok).toBe(true);
    expect((await store.admit(admission([lease(key, 2)]))).ok).toBe(false);
    await store.settle({ id: held[0].id, windows: [], leases: [key], budgets: [] });
    const third = admission([lease(key, 2)], 60_000);
    expect((await store.admit(third)).ok).toBe(true);
    expect((await store.admit(admission([lease(key, 2)]))).ok).toBe(false);
    await subject.pass(store, 350); // held[1] (a dead process's) expires; `third` does not
    expect((await store.admit(admission([lease(key, 2)]))).ok).toBe(true);
    expect((await store.admit(admission([lease(key, 2)]))).ok).toBe(false);
  });

  it('a renewed lease outlives its first TTL', async () => {
    const key = uniq('conc');
    const a = admission([lease(key, 1)], 300);
    expect((await store.admit(a)).ok).toBe(true);
    await subject.pass(store, 200);
    await store.renew([{ id: a.id, leases: [key], budgets: [] }], 300);
    await subject.pass(store, 200);
    expect((await store.admit(admission([lease(key, 1)]))).ok).toBe(false);
  });

  it('budgets: reserve the worst case, settle to the real cost, release to exactly where it was', async () => {
    const key = uniq('budget');
    const a = admission([budget(key, 1000, 400)]);
    const r = await store.admit(a);
    expect(r.ok && r.states[0].used).toBe(400);
    await store.settle({ id: a.id, windows: [], leases: [], budgets: [{ key, spent: 123, keepMs: 86_400_000 }] });
    const b = admission([budget(key, 1000, 877)]);
    expect((await store.admit(b)).ok).toBe(true);
    expect((await store.admit(admission([budget(key, 1000, 1)]))).ok).toBe(false);
    await store.settle({ id: b.id, windows: [], leases: [], budgets: [{ key, spent: 0, keepMs: 86_400_000 }] });
    const c = await store.admit(admission([budget(key, 1000, 877)]));
    expect(c.ok && c.states[0].used).toBe(1000);
  });

  it("a dead process's reservation expires after its TTL", async () => {
    const key = uniq('budget');
    expect((await store.admit(admission([budget(key, 100, 100)], 300))).ok).toBe(true);
    expect((await store.admit(admission([budget(key, 100, 1)]))).ok).toBe(false);
    await subject.pass(store, 350);
    const r = await store.admit(admission([budget(key, 100, 100)]));
    expect(r.ok && r.states[0].used).toBe(100);
  });

  it('an amount no JSON number can hold (a client asking for 1e308 tokens) is refused on its own; the admissions made with it go through', async () => {
    const [key, w] = [uniq('budget'), uniq('tpm')];
    // made in one turn: with Redis they go in one script call
    const [bad, badWindow, huge, good] = await Promise.all([
      store.admit(admission([budget(key, 1000, Number.POSITIVE_INFINITY)])),
      store.admit(admission([win(w, 100, Number.POSITIVE_INFINITY)])),
      store.admit(admission([win(w, 100, 1e300)])),
      store.admit(admission([budget(key, 1000, 10), win(w, 100, 5)])),
    ]);
    expect([bad.ok, badWindow.ok, huge.ok]).toEqual([false, false, false]);
    expect(good.ok && good.states.map((st) => st.used)).toEqual([10, 5]);
  });

  it('budgets wait for the ledger: an unseeded store asks for a rebuild, a second seed writes nothing', async () => {
    const fresh = subject.make();
    try {
      const key = uniq('budget');
      expect(await fresh.admit(admission([budget(key, 100, 10)]))).toEqual({ ok: false, rebuild: true });
      expect((await fresh.admit(admission([win(uniq('rpm'), 1)]))).ok).toBe(true);
      await fresh.seed([{ key, spent: 60, keepMs: 86_400_000 }]);
      await fresh.seed([{ key, spent: 0, keepMs: 86_400_000 }]);
      expect(await fresh.seeded()).toBe(true);
      expect((await fresh.admit(admission([budget(key, 100, 41)]))).ok).toBe(false);
      expect((await fresh.admit(admission([budget(key, 100, 40)]))).ok).toBe(true);
    } finally {
      await fresh.close();
    }
  });
});

describe('redis counters when Redis is away', () => {
  it('a call fails within its timeout, not when Redis comes back', async () => {
    const r = await startRedis();
    const store = new RedisCounters({ url: r.url, timeoutMs: 100 });
    try {
      await store.seed([]);
      await r.kill();
      const t0 = Date.now();
      await expect(store.admit(admission([win('x', 1)]))).rejects.toMatchObject({ op: 'admit' });
      expect(Date.now() - t0).toBeLessThan(500);
    } finally {
      await store.close();
      await r.stop();
    }
  });
});

describe('redis counters leave no key without an expiry', () => {
  it('windows, ledgers and the holds all expire, also when a ledger is made again by a spend; the holds no sooner than the ledgers they give back to', async () => {
    const store = new RedisCounters({ url: redis.url, timeoutMs: 1000, prefix: uniq('ttl') });
    const day = 86_400_000;
    try {
      await store.seed([]);
      const [rpm, tpm, conc, spend, gone] = ['rpm', 'tpm', 'conc', 'spend', 'gone'].map(uniq);
      const checks = () => [win(rpm, 100), win(tpm, 10_000, 300), lease(conc, 10), budget(spend, 10_000, 500)];
      // two calls overlap (the second reservation lands on a ledger already holding one), both settle with spend
      const a = admission(checks());
      const b = admission(checks());
      expect((await store.admit(a)).ok).toBe(true);
      expect((await store.admit(b)).ok).toBe(true);
      for (const x of [a, b])
        await store.settle({
          id: x.id,
          windows: [{ key: tpm, windowMs: 60_000, window: Math.floor(Date.now() / 60_000), delta: -100 }],
          leases: [conc],
          budgets: [{ key: spend, spent: 200, keepMs: day }],
        });
      // nothing is held now: the holds are gone, and the ledger holds no reservation
      expect(await store.client.exists(store.key('holds'), store.key('holds:x'))).toBe(0);
      expect(await store.client.hget(store.key(spend), 'held')).toBe(null);
      // a reservation that expires (its process died), then a new one on the emptied ledger
      expect((await store.admit(admission([budget(spend, 10_000, 50)], 200))).ok).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
      const c = admission([budget(spend, 10_000, 50)]);
      const admitted = await store.admit(c);
      expect(admitted.ok && admitted.states[0].used).toBe(400 + 50);
      // a lease still held
      expect((await store.admit(admission([lease(conc, 10)]))).ok).toBe(true);
      // a ledger gone (its reservation expired with it) is made again by the settlement's spend
      const d = admission([budget(gone, 10_000, 70)]);
      expect((await store.admit(d)).ok).toBe(true);
      await store.client.del(store.key(gone));
      await store.settle({ id: d.id, windows: [], leases: [], budgets: [{ key: gone, spent: 30, keepMs: day }] });
      // given back to a ledger that was gone: nothing held is left behind on it
      expect(await store.client.hgetall(store.key(gone))).toEqual({ spent: '30' });

      const keys = (await store.client.keys(`${store.key('')}*`)).filter((k) => k !== store.key('ledger'));
      for (const k of [rpm, tpm, spend, gone, 'holds', 'holds:x'])
        expect(
          keys.some((x) => x.startsWith(store.key(k))),
          k,
        ).toBe(true);
      for (const k of keys) {
        const ttl = await store.client.pttl(k);
        expect(ttl, k).toBeGreaterThan(0);
        expect(ttl, k).toBeLessThanOrEqual(2 * day);
      }
      // the holds expire no sooner than the ledger their live reservation gives back to
      expect(await store.client.pttl(store.key('holds'))).toBeGreaterThanOrEqual((await store.client.pttl(store.key(spend))) - 1000);
    } finally {
      await store.close();
    }
  });
});

describe('redis counters after a replica with many calls in flight died', () => {
  it('give its leases back 1,024 a call at most (a few ms of Redis), and every one within two calls', async () => {
    const store = new RedisCounters({ url: redis.url, timeoutMs: 5000, prefix: uniq('sweep') });
    try {
      await store.seed([]);
      const key = uniq('conc');
      const held = await Promise.all(Array.from({ length: 1100 }, () => store.admit(admission([lease(key, 5000)], 200))));
      expect(held.every((r) => r.ok)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const first = await store.admit(admission([lease(key, 5000)]));
      expect(first.ok && first.states[0].used).toBe(1100 - 1024 + 1);
      const second = await store.admit(admission([lease(key, 5000)]));
      expect(second.ok && second.states[0].used).toBe(2);
    } finally {
      await store.close();
    }
  });
});
