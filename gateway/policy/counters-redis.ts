/**
 * Counters in Redis, shared exactly by every replica: each operation is one Lua script, which
 * Redis runs atomically, so an admission's checks and increments see no other replica's in
 * between. Windows and expiries use Redis's own clock (TIME), so replicas whose clocks drift
 * still agree on which window a request falls in.
 *
 * Every key carries the hash tag `{prefix}`: a script touches keys of one slot only, so it also
 * runs on a Redis Cluster (all of tracegate's counters then live on one shard).
 *
 * Every call has a timeout (ioredis commandTimeout), and a call made while the connection is
 * lost fails at once: StoreUnavailable, and the fail mode (policy.failMode) decides.
 */
import { Redis } from 'ioredis';
import { StoreUnavailable, type Admission, type AdmitResult, type CheckState, type CounterStore, type LedgerEntry, type Settlement } from './counters.js';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%d', x) end`;

/** Drops a ledger's expired reservations (holds), giving their amounts back. */
const EXPIRE_HOLDS = `local function expire_holds(k)
  local gone = redis.call('ZRANGEBYSCORE', k .. ':x', '-inf', now)
  for _, h in ipairs(gone) do
    local amt = tonumber(redis.call('HGET', k, 'h:' .. h) or '0')
    redis.call('HINCRBY', k, 'reserved', int(-amt))
    redis.call('HDEL', k, 'h:' .. h)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', k .. ':x', '-inf', now) end
end`;

/**
 * KEYS[1] ledger marker, KEYS[2..] one per check. ARGV: id, ttlMs, n, needsLedger, then per
 * check kind (w|l|b), limit, amount, windowMs|0|keepMs. Returns {-1} (seed first),
 * {0, failedIndex, used, resetMs, window} or {1, used1, reset1, window1, ...}.
 */
const ADMIT = `${NOW}
${EXPIRE_HOLDS}
local id, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local out = {1}
for i = 1, n do
  local k, a = KEYS[i + 1], 4 + (i - 1) * 4
  local kind, limit, amount, ms = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local used, reset, idx = 0, 0, 0
  if kind == 'w' then
    idx = math.floor(now / ms)
    used = tonumber(redis.call('GET', k .. ':' .. idx) or '0')
    reset = (idx + 1) * ms - now
  elseif kind == 'l' then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
    used = redis.call('ZCARD', k)
    amount = 1
    local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    if first[2] then reset = tonumber(first[2]) - now end
  else
    expire_holds(k)
    local h = redis.call('HMGET', k, 'spent', 'reserved')
    used = tonumber(h[1] or '0') + tonumber(h[2] or '0')
    local first = redis.call('ZRANGE', k .. ':x', 0, 0, 'WITHSCORES')
    if first[2] then reset = tonumber(first[2]) - now end
  end
  if used + amount > limit then return {0, i, used, reset, idx} end
  table.insert(out, used + amount)
  table.insert(out, reset)
  table.insert(out, idx)
end
for i = 1, n do
  local k, a = KEYS[i + 1], 4 + (i - 1) * 4
  local kind, amount, ms = ARGV[a + 1], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if kind == 'w' then
    local wk = k .. ':' .. out[2 + (i - 1) * 3 + 2]
    redis.call('INCRBY', wk, int(amount))
    redis.call('PEXPIRE', wk, int(ms * 2))
  elseif kind == 'l' then
    redis.call('ZADD', k, int(now + ttl), id)
    redis.call('PEXPIRE', k, int(ttl * 2))
  else
    redis.call('HINCRBY', k, 'reserved', int(amount))
    redis.call('HSET', k, 'h:' .. id, int(amount))
    redis.call('ZADD', k .. ':x', int(now + ttl), id)
    redis.call('PEXPIRE', k, int(ms))
    redis.call('PEXPIRE', k .. ':x', int(ms))
  end
end
return out`;

/**
 * KEYS: windows, then leases, then ledgers. ARGV: id, nw, nl, nb, then per window windowMs,
 * window, delta; then per ledger spent, keepMs.
 */
const SETTLE = `${NOW}
local id, nw, nl, nb = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, nw do
  local k, a = KEYS[i], 4 + (i - 1) * 3
  local ms, idx, delta = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local cur = math.floor(now / ms)
  if cur == idx then
    local wk = k .. ':' .. idx
    if redis.call('EXISTS', wk) == 1 then
      local v = redis.call('INCRBY', wk, int(delta))
      if v < 0 then redis.call('SET', wk, '0', 'PX', int(ms * 2)) end
    end
  elseif delta > 0 then
    local wk = k .. ':' .. cur
    redis.call('INCRBY', wk, int(delta))
    redis.call('PEXPIRE', wk, int(ms * 2))
  end
end
for i = 1, nl do redis.call('ZREM', KEYS[nw + i], id) end
local base = 4 + nw * 3
for i = 1, nb do
  local k = KEYS[nw + nl + i]
  local spent, keep = tonumber(ARGV[base + (i - 1) * 2 + 1]), tonumber(ARGV[base + (i - 1) * 2 + 2])
  local amt = redis.call('HGET', k, 'h:' .. id)
  if amt then
    redis.call('HINCRBY', k, 'reserved', int(-tonumber(amt)))
    redis.call('HDEL', k, 'h:' .. id)
    redis.call('ZREM', k .. ':x', id)
  end
  if spent > 0 then
    redis.call('HINCRBY', k, 'spent', int(spent))
    redis.call('PEXPIRE', k, int(keep))
  end
end
return 1`;

/** KEYS: one per (id, key). ARGV: ttlMs, then per key kind (l|b) and id. */
const RENEW = `${NOW}
local upto = int(now + tonumber(ARGV[1]))
for i = 1, #KEYS do
  local kind, id = ARGV[2 + (i - 1) * 2], ARGV[3 + (i - 1) * 2]
  if kind == 'l' then
    redis.call('ZADD', KEYS[i], 'XX', upto, id)
    redis.call('PEXPIRE', KEYS[i], int(tonumber(ARGV[1]) * 2))
  else redis.call('ZADD', KEYS[i] .. ':x', 'XX', upto, id) end
end
return 1`;

/** KEYS[1] marker, KEYS[2..] ledgers. ARGV: per ledger spent, keepMs. Writes nothing when the marker exists. */
const SEED = `${NOW}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local spent, keep = ARGV[(i - 2) * 2 + 1], ARGV[(i - 2) * 2 + 2]
  redis.call('HSET', KEYS[i], 'spent', spent)
  redis.call('PEXPIRE', KEYS[i], keep)
end
redis.call('SET', KEYS[1], int(now))
return 1`;

interface Scripts {
  tgAdmit(...args: (string | number)[]): Promise<number[]>;
  tgSettle(...args: (string | number)[]): Promise<number>;
  tgRenew(...args: (string | number)[]): Promise<number>;
  tgSeed(...args: (string | number)[]): Promise<number>;
}

export interface RedisCountersOptions {
  url: string;
  /** Milliseconds each call may take (default 100). */
  timeoutMs?: number;
  /** Key prefix, used as the hash tag (default `tracegate`). */
  prefix?: string;
}

const KIND = { window: 'w', lease: 'l', budget: 'b' } as const;

export class RedisCounters implements CounterStore {
  readonly kind = 'redis' as const;
  readonly client: Redis & Scripts;
  private readonly tag: string;
  private readonly marker: string;

  constructor(opts: RedisCountersOptions) {
    const timeout = opts.timeoutMs ?? 100;
    this.tag = `{${opts.prefix ?? 'tracegate'}}`;
    this.marker = `${this.tag}:ledger`;
    const client = new Redis(opts.url, {
      commandTimeout: timeout,
      connectTimeout: Math.max(timeout, 1000),
      // A call made while connecting waits (within its timeout); one made while Redis is known to
      // be away fails at once (call() below), and the fail mode answers.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      lazyConnect: false,
    });
    // Errors surface on each call; the client's own event would otherwise be unhandled.
    client.on('error', () => {});
    client.defineCommand('tgAdmit', { lua: ADMIT });
    client.defineCommand('tgSettle', { lua: SETTLE });
    client.defineCommand('tgRenew', { lua: RENEW });
    client.defineCommand('tgSeed', { lua: SEED });
    this.client = client as Redis & Scripts;
  }

  /** Redis keys of a counter key (tests read them). */
  key(k: string): string {
    return `${this.tag}:${k}`;
  }

  async admit(a: Admission): Promise<AdmitResult> {
    const keys = [this.marker, ...a.checks.map((c) => this.key(c.key))];
    const needsLedger = a.checks.some((c) => c.kind === 'budget') ? '1' : '0';
    const argv: (string | number)[] = [a.id, a.ttlMs, a.checks.length, needsLedger];
    for (const c of a.checks) argv.push(KIND[c.kind], c.limit, c.kind === 'lease' ? 1 : c.amount, c.kind === 'window' ? c.windowMs : c.kind === 'budget' ? c.keepMs : 0);
    const r = await this.call('admit', () => this.client.tgAdmit(keys.length, ...keys, ...argv));
    if (r[0] === -1) return { ok: false, rebuild: true };
    if (r[0] === 0) {
      const states: CheckState[] = [];
      states[r[1] - 1] = { used: r[2], resetMs: Math.max(0, r[3]), window: r[4] };
      return { ok: false, failed: r[1] - 1, states };
    }
    const states: CheckState[] = [];
    for (let i = 0; i < a.checks.length; i++) states.push({ used: r[1 + i * 3], resetMs: r[2 + i * 3], window: r[3 + i * 3] });
    return { ok: true, states };
  }

  async settle(s: Settlement): Promise<void> {
    const keys = [...s.windows.map((w) => this.key(w.key)), ...s.leases.map((k) => this.key(k)), ...s.budgets.map((b) => this.key(b.key))];
    const argv: (string | number)[] = [s.id, s.windows.length, s.leases.length, s.budgets.length];
    for (const w of s.windows) argv.push(w.windowMs, w.window, w.delta);
    for (const b of s.budgets) argv.push(b.spent, b.keepMs);
    if (keys.length === 0) return;
    await this.call('settle', () => this.client.tgSettle(keys.length, ...keys, ...argv));
  }

  async renew(ids: readonly { id: string; leases: readonly string[]; budgets: readonly string[] }[], ttlMs: number): Promise<void> {
    const keys: string[] = [];
    const argv: (string | number)[] = [ttlMs];
    for (const r of ids) {
      for (const k of r.leases) keys.push(this.key(k)), argv.push('l', r.id);
      for (const k of r.budgets) keys.push(this.key(k)), argv.push('b', r.id);
    }
    if (keys.length === 0) return;
    await this.call('renew', () => this.client.tgRenew(keys.length, ...keys, ...argv));
  }

  async seed(entries: readonly LedgerEntry[]): Promise<void> {
    const keys = [this.marker, ...entries.map((e) => this.key(e.key))];
    const argv = entries.flatMap((e) => [Math.round(e.spent), Math.max(1, Math.round(e.keepMs))]);
    await this.call('seed', () => this.client.tgSeed(keys.length, ...keys, ...argv));
  }

  async seeded(): Promise<boolean> {
    return (await this.call('seed', () => this.client.exists(this.marker))) === 1;
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private async call<T>(op: StoreUnavailable['op'], run: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (status === 'reconnecting' || status === 'close' || status === 'end') throw new StoreUnavailable(`redis ${op} failed: not connected (${status})`, op);
    try {
      return await run();
    } catch (err) {
      throw new StoreUnavailable(`redis ${op} failed: ${(err as Error)?.message ?? String(err)}`, op);
    }
  }
}
