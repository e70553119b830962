/**
 * Counters in Redis, shared exactly by every replica: each admission and each settlement runs
 * inside a Lua script, which Redis runs atomically, so an admission's checks and increments see
 * no other replica's in between. Windows and expiries use Redis's own clock (TIME), so replicas
 * whose clocks drift still agree on which window a request falls in.
 *
 * The operations a turn of the event loop makes (the admissions and settlements of the requests
 * read in it) go in one script call, as one compact string argument: one round trip and one
 * small write for many calls, instead of a command of ~75 arguments per admission and another per
 * settlement (what cost the gateway most of its time with Redis).
 *
 * Every key carries the hash tag `{prefix}`: a script touches keys of one slot only, so it also
 * runs on a Redis Cluster (all of tracegate's counters then live on one shard).
 *
 * Every call has a timeout (ioredis commandTimeout), and a call made while the connection is
 * lost fails at once: StoreUnavailable, and the fail mode (policy.failMode) decides.
 */
import { Redis } from 'ioredis';
import type { MergeBatch } from './journal.js';
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
 * Admissions and settlements, any number of them in one call, each atomic: the batch runs in one
 * script, one operation after the other, so each sees every counter as the one before left it.
 * KEYS[1] is the ledger marker (its hash tag is every key's: the keys the client sends carry the
 * same prefix, so they live in the same slot and a Redis Cluster runs the script on one shard).
 * ARGV[1] holds the operations as one JSON array (kinds, ids and keys as strings, figures as
 * numbers; counter keys are DNS-label names, colons and digits: nothing to escape), far cheaper
 * for the client to send than one argument per field, and for the script to read with cjson than
 * word by word with string.gmatch:
 *   A id ttlMs needsLedger n, then per check: kind(w|l|b) key limit amount ms(window|0|keep)
 *   S id nw nl nb, then per window: key windowMs window delta; per lease: key; per ledger: key spent keepMs
 * Keys come whole, prefix included, and figures as numbers: a key joined in the script or a
 * figure read from text costs Redis a new string each. A figure handed to a Redis command is
 * written with %d (Lua would write a number with 14 significant digits).
 * Returns one string per operation. Admission: `-1` (seed the ledger first), `0 failedIndex used
 * resetMs window`, or `1 used1 reset1 window1 ...`; settlement: `1`.
 *
 * A ledger's expiry (the period's end and a day: the same instant on every call of a period) is
 * set when its hash or its holds' set may have been made by this call, not on every call: a
 * reservation that brings `reserved` up from 0 (the hash, or the set, which holds a member exactly
 * while some reservation is held, may be new) and a settlement that writes the first `spent`.
 * Any other call finds both with the expiry set when they were made (nothing here removes one).
 */
const OPS = `${NOW}
${EXPIRE_HOLDS}
local marker = KEYS[1]
local tok = cjson.decode(ARGV[1])
local p = 1
local function nxt() local v = tok[p]; p = p + 1; return v end
local function first_expiry(k)
  local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
  if first[2] then return tonumber(first[2]) - now end
  return 0
end
local function admit()
  local id, ttl, need, n = nxt(), nxt(), nxt(), nxt()
  local base = p
  p = p + n * 5
  if need == 1 and redis.call('EXISTS', marker) == 0 then return '-1' end
  -- Each check's Redis key, worked out once for both passes.
  local keys = {}
  local out = {'1'}
  for i = 1, n do
    local j = base + (i - 1) * 5
    local kind, k, limit, amount = tok[j], tok[j + 1], tok[j + 2], tok[j + 3]
    local used, reset, idx = 0, 0, 0
    if kind == 'w' then
      local ms = tok[j + 4]
      idx = math.floor(now / ms)
      k = k .. ':' .. idx
      used = tonumber(redis.call('GET', k) or '0')
      reset = (idx + 1) * ms - now
    elseif kind == 'l' then
      redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
      used = redis.call('ZCARD', k)
      amount = 1
    else
      expire_holds(k)
      local h = redis.call('HMGET', k, 'spent', 'reserved')
      used = tonumber(h[1] or '0') + tonumber(h[2] or '0')
    end
    keys[i] = k
    if used + amount > limit then
      if kind == 'l' then reset = first_expiry(k) elseif kind == 'b' then reset = first_expiry(k .. ':x') end
      return table.concat({'0', i, int(used), int(reset), int(idx)}, ' ')
    end
    out[i + 1] = string.format('%d %d %d', used + amount, reset, idx)
  end
  local until_, lease_keep, hold = int(now + ttl), int(ttl * 2), 'h:' .. id
  for i = 1, n do
    local j = base + (i - 1) * 5
    local kind, k = tok[j], keys[i]
    if kind == 'w' then
      -- A window's key gets its expiry when this admission is the first to count in it.
      if redis.call('INCRBY', k, int(tok[j + 3])) == tok[j + 3] then redis.call('PEXPIRE', k, int(tok[j + 4] * 2)) end
    elseif kind == 'l' then
      redis.call('ZADD', k, until_, id)
      redis.call('PEXPIRE', k, lease_keep)
    else
      local x = k .. ':x'
      local amt = int(tok[j + 3])
      local reserved = redis.call('HINCRBY', k, 'reserved', amt)
      redis.call('HSET', k, hold, amt)
      redis.call('ZADD', x, until_, id)
      -- up from 0: the hash or the holds' set may be new (see above)
      if reserved == tok[j + 3] then
        local keep = int(tok[j + 4])
        redis.call('PEXPIRE', k, keep)
        redis.call('PEXPIRE', x, keep)
      end
    end
  end
  return table.concat(out, ' ')
end
local function settle()
  local id, nw, nl, nb = nxt(), nxt(), nxt(), nxt()
  for _ = 1, nw do
    local k, ms, idx, delta = nxt(), nxt(), nxt(), nxt()
    local cur = math.floor(now / ms)
    -- A refund only while the admission's window lasts; tokens beyond the estimate land in the current one.
    if cur == idx or delta > 0 then
      local wk = k .. ':' .. cur
      local v = redis.call('INCRBY', wk, int(delta))
      if v < 0 then redis.call('SET', wk, '0', 'PX', int(ms * 2))
      elseif v == delta then redis.call('PEXPIRE', wk, int(ms * 2)) end
    end
  end
  for _ = 1, nl do redis.call('ZREM', nxt(), id) end
  local hold = 'h:' .. id
  for _ = 1, nb do
    local k, spent, keep = nxt(), nxt(), nxt()
    local amt = redis.call('HGET', k, hold)
    if amt then
      redis.call('HINCRBY', k, 'reserved', int(-tonumber(amt)))
      redis.call('HDEL', k, hold)
      redis.call('ZREM', k .. ':x', id)
    end
    -- the first spend may make the hash (its reservation expired with it long ago)
    if spent > 0 and redis.call('HINCRBY', k, 'spent', int(spent)) == spent then redis.call('PEXPIRE', k, int(keep)) end
  end
  return '1'
end
local out = {}
while p <= #tok do
  if nxt() == 'A' then out[#out + 1] = admit() else out[#out + 1] = settle() end
end
return out`;

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

/**
 * KEYS[1] marker. ARGV: since (ms), prefix, then words: nw, per window key windowMs window count;
 * nb, per ledger key spent keepMs. Windows still current get their counts; ledgers their spend,
 * only when the marker (set when the ledger was seeded, Redis's clock) predates `since`: a ledger
 * seeded since then was rebuilt from the store, which already holds that spend. Returns 1 when
 * the spend was merged, else 0.
 */
const MERGE = `${NOW}
local since, tag = tonumber(ARGV[1]), ARGV[2]
local tok = {}
for w in string.gmatch(ARGV[3], '%S+') do tok[#tok + 1] = w end
local marker = tonumber(redis.call('GET', KEYS[1]) or '-1')
local spend = marker >= 0 and marker < since
local nw = tonumber(tok[1])
for i = 0, nw - 1 do
  local k, ms, idx, count = tag .. tok[2 + i * 4], tonumber(tok[3 + i * 4]), tonumber(tok[4 + i * 4]), tok[5 + i * 4]
  if math.floor(now / ms) == idx then
    local wk = k .. ':' .. idx
    if redis.call('INCRBY', wk, count) == tonumber(count) then redis.call('PEXPIRE', wk, int(ms * 2)) end
  end
end
local b = 2 + nw * 4
if spend then
  for i = 1, tonumber(tok[b]) do
    local k = tag .. tok[b + (i - 1) * 3 + 1]
    redis.call('HINCRBY', k, 'spent', tok[b + (i - 1) * 3 + 2])
    redis.call('PEXPIRE', k, tok[b + (i - 1) * 3 + 3])
  end
end
return spend and 1 or 0`;

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
  tgOps(...args: (string | number)[]): Promise<string[]>;
  tgRenew(...args: (string | number)[]): Promise<number>;
  tgSeed(...args: (string | number)[]): Promise<number>;
  tgMerge(...args: (string | number)[]): Promise<number>;
}

export interface RedisCountersOptions {
  url: string;
  /** Milliseconds each call may take (default 100). */
  timeoutMs?: number;
  /** Key prefix, used as the hash tag (default `tracegate`). */
  prefix?: string;
}

/** Operations sent in one script call at most (a script holds Redis while it runs). */
const MAX_BATCH = 64;

interface Pending {
  op: 'admit' | 'settle';
  words: string;
  resolve: (r: string) => void;
  reject: (err: StoreUnavailable) => void;
}

/** An admission as the script reads it; `tag` is the keys' prefix (`{prefix}:`). */
function admitWords(a: Admission, tag: string): string {
  let needsLedger = '0';
  let words = '';
  for (const c of a.checks) {
    if (c.kind === 'window') words += `,"w","${tag}${c.key}",${c.limit},${c.amount},${c.windowMs}`;
    else if (c.kind === 'lease') words += `,"l","${tag}${c.key}",${c.limit},1,0`;
    else {
      words += `,"b","${tag}${c.key}",${c.limit},${c.amount},${c.keepMs}`;
      needsLedger = '1';
    }
  }
  return `"A","${a.id}",${a.ttlMs},${needsLedger},${a.checks.length}${words}`;
}

/** A settlement as the script reads it. */
function settleWords(s: Settlement, tag: string): string {
  let words = `"S","${s.id}",${s.windows.length},${s.leases.length},${s.budgets.length}`;
  for (const w of s.windows) words += `,"${tag}${w.key}",${w.windowMs},${w.window},${w.delta}`;
  for (const k of s.leases) words += `,"${tag}${k}"`;
  for (const b of s.budgets) words += `,"${tag}${b.key}",${Math.round(b.spent)},${Math.max(1, Math.round(b.keepMs))}`;
  return words;
}

export class RedisCounters implements CounterStore {
  readonly kind = 'redis' as const;
  readonly client: Redis & Scripts;
  private readonly tag: string;
  /** `{prefix}:`, what every counter's Redis key starts with. */
  private readonly keyPrefix: string;
  private readonly marker: string;
  /** Operations waiting for this turn of the event loop to end: they go to Redis in one call. */
  private queue: Pending[] = [];
  private flushing = false;

  constructor(opts: RedisCountersOptions) {
    const timeout = opts.timeoutMs ?? 100;
    this.tag = `{${opts.prefix ?? 'tracegate'}}`;
    this.keyPrefix = `${this.tag}:`;
    this.marker = `${this.keyPrefix}ledger`;
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
    client.defineCommand('tgOps', { lua: OPS, numberOfKeys: 1 });
    client.defineCommand('tgRenew', { lua: RENEW });
    client.defineCommand('tgSeed', { lua: SEED });
    client.defineCommand('tgMerge', { lua: MERGE, numberOfKeys: 1 });
    this.client = client as Redis & Scripts;
  }

  /** Redis keys of a counter key (tests read them). */
  key(k: string): string {
    return this.keyPrefix + k;
  }

  async admit(a: Admission): Promise<AdmitResult> {
    const r = (await this.batched('admit', admitWords(a, this.keyPrefix))).split(' ').map(Number);
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
    if (s.windows.length + s.leases.length + s.budgets.length === 0) return;
    await this.batched('settle', settleWords(s, this.keyPrefix));
  }

  /**
   * Queues an operation for the script call made when this turn of the event loop ends
   * (setImmediate): the requests a busy gateway reads in one turn are admitted and settled in one
   * round trip, each still atomic on its own, in the order they were made.
   */
  private batched(op: Pending['op'], words: string): Promise<string> {
    const status = this.client.status;
    if (status === 'reconnecting' || status === 'close' || status === 'end') return Promise.reject(new StoreUnavailable(`redis ${op} failed: not connected (${status})`, op));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, words, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushing = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const batch = all.slice(i, i + MAX_BATCH);
      let words = `[${batch[0].words}`;
      for (let j = 1; j < batch.length; j++) words += `,${batch[j].words}`;
      this.client.tgOps(this.marker, `${words}]`).then(
        (r) => {
          for (let j = 0; j < batch.length; j++) batch[j].resolve(r[j]);
        },
        (err: unknown) => {
          for (const p of batch) p.reject(new StoreUnavailable(`redis ${p.op} failed: ${(err as Error)?.message ?? String(err)}`, p.op));
        },
      );
    }
  }

  async renew(ids: readonly { id: string; leases: readonly string[]; budgets: readonly string[] }[], ttlMs: number): Promise<void> {
    const keys: string[] = [];
    const argv: (string | number)[] = [ttlMs];
    for (const r of ids) {
      for (const k of r.leases) {
        keys.push(this.key(k));
        argv.push('l', r.id);
      }
      for (const k of r.budgets) {
        keys.push(this.key(k));
        argv.push('b', r.id);
      }
    }
    if (keys.length === 0) return;
    await this.call('renew', () => this.client.tgRenew(keys.length, ...keys, ...argv));
  }

  async seed(entries: readonly LedgerEntry[]): Promise<void> {
    const keys = [this.marker, ...entries.map((e) => this.key(e.key))];
    const argv = entries.flatMap((e) => [Math.round(e.spent), Math.max(1, Math.round(e.keepMs))]);
    await this.call('seed', () => this.client.tgSeed(keys.length, ...keys, ...argv));
  }

  async merge(b: MergeBatch): Promise<boolean> {
    let words = String(b.windows.length);
    for (const w of b.windows) words += ` ${w.key} ${w.windowMs} ${w.window} ${Math.round(w.count)}`;
    words += ` ${b.budgets.length}`;
    for (const x of b.budgets) words += ` ${x.key} ${Math.round(x.spent)} ${Math.max(1, Math.round(x.keepMs))}`;
    return (await this.call('merge', () => this.client.tgMerge(this.marker, Math.round(b.since), this.keyPrefix, words))) === 1;
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
