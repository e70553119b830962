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

/**
 * Admissions and settlements, any number of them in one call, each atomic: the batch runs in one
 * script, one operation after the other, so each sees every counter as the one before left it.
 * KEYS: the ledger marker, the holds (a hash: per admission id, what it holds; per lease key
 * `n:<key>`, how many leases are held on it) and the holds' expiries (a sorted set of ids, scored
 * by when each expires). Every key carries the same hash tag, so they live in one slot and a Redis
 * Cluster runs the script on one shard. ARGV[1] holds the operations as one JSON array (kinds, ids
 * and keys as strings, figures as numbers; counter keys are DNS-label names, colons and digits:
 * nothing to escape), far cheaper for the client to send than one argument per field, and for the
 * script to read with cjson than word by word with string.gmatch:
 *   A id ttlMs needsLedger n, then per check: kind(w|l|b) key limit amount ms(window|0|keep)
 *   S id nw nb, then per window: key windowMs window delta; per ledger: key spent keepMs
 * (a settlement's leases and reservations are what its hold record lists: they are not sent)
 * Keys come whole, prefix included, and figures as numbers: a key joined in the script or a
 * figure read from text costs Redis a new string each. A figure handed to a Redis command is
 * written with %d (Lua would write a number with 14 significant digits).
 * Returns one string per operation. Admission: `-1` (seed the ledger first), `0 failedIndex used
 * resetMs window`, or `1 used1 reset1 window1 ...`; settlement: `1`.
 *
 * Redis's time goes to its commands (each redis.call costs about as much again as the command's
 * own work), so an admission makes as few as it can:
 * - a window is counted first and taken back if the admission fails (one INCRBY, no GET);
 * - a lease is a count in the holds hash (one HINCRBY), not a sorted set per lease key;
 * - a budget's ledger (a hash: `spent`, and `held`, what reservations hold) is read and reserved
 *   on (HMGET, HINCRBY);
 * - what the admission holds (its leases, its reservations and their amounts) is one field of the
 *   holds hash, and its expiry one member of the expiries set: a settlement gives back exactly
 *   what that record lists and drops it, and a record that expired (its process died) is given
 *   back by the next script to run, once, before anything is checked.
 * 20 commands for an admission of a key's and a team's every limit (14 checks), 19 for its
 * settlement, where one sorted set per lease and per ledger made that 45 and 28.
 *
 * Expiries: a window's key when this admission is the first to count in it; a ledger's (the
 * period's end and a day: the same instant on every call of a period) when a reservation brings
 * `held` up from 0 or a settlement writes the first `spent` (the hash may be new then). The holds
 * hash and set live while anything is held (Redis drops them once empty) and expire no sooner
 * than every ledger a record in them reserves on: a record can never outlive what it gives back
 * to, and a ledger gone first gets nothing back (a field given back to 0 or below is dropped).
 */
const OPS = `${NOW}
local marker, holds, expiries = KEYS[1], KEYS[2], KEYS[3]
local tok = cjson.decode(ARGV[1])
local p = 1
local function nxt() local v = tok[p]; p = p + 1; return v end
-- Gives back what one hold record lists: 'l key' per lease, 'b key amount' per reservation.
local function give_back(rec)
  local w = {}
  for x in string.gmatch(rec, '%S+') do w[#w + 1] = x end
  local i = 1
  while i <= #w do
    if w[i] == 'l' then
      local f = 'n:' .. w[i + 1]
      if redis.call('HINCRBY', holds, f, -1) <= 0 then redis.call('HDEL', holds, f) end
      i = i + 2
    else
      if redis.call('HINCRBY', w[i + 1], 'held', int(-tonumber(w[i + 2]))) <= 0 then redis.call('HDEL', w[i + 1], 'held') end
      i = i + 3
    end
  end
end
-- Records whose process died: given back before anything is checked, a chunk at a time, at most
-- 1,024 a call (a few ms of Redis): after a replica with more in flight dies, the next calls give
-- back the rest, and until then its leases and reservations still count (refusing, never
-- admitting, beyond a limit).
for _ = 1, 4 do
  local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now, 'LIMIT', 0, 256)
  if #gone == 0 then break end
  local recs = redis.call('HMGET', holds, unpack(gone))
  for i = 1, #gone do if recs[i] then give_back(recs[i]) end end
  redis.call('HDEL', holds, unpack(gone))
  redis.call('ZREM', expiries, unpack(gone))
end
local seeded = nil
local keep = 0
local function first_expiry()
  local first = redis.call('ZRANGE', expiries, 0, 0, 'WITHSCORES')
  if first[2] then return tonumber(first[2]) - now end
  return 0
end
local function admit()
  local id, ttl, need, n = nxt(), nxt(), nxt(), nxt()
  local base = p
  p = p + n * 5
  if need == 1 then
    if seeded == nil then seeded = redis.call('EXISTS', marker) == 1 end
    if not seeded then return '-1' end
  end
  local out = {'1'}
  local rec = {}
  -- what this admission has counted so far, taken back if a later check fails
  local taken = {}
  local failed = nil
  for i = 1, n do
    local j = base + (i - 1) * 5
    local kind, k, limit, amount = tok[j], tok[j + 1], tok[j + 2], tok[j + 3]
    if kind == 'w' then
      local ms = tok[j + 4]
      local idx = math.floor(now / ms)
      local wk = k .. ':' .. idx
      local reset = (idx + 1) * ms - now
      -- more than the limit never fits (and is not counted: a huge amount would overflow the count)
      if amount > limit then failed = table.concat({'0', i, int(tonumber(redis.call('GET', wk) or '0')), int(reset), int(idx)}, ' '); break end
      local v = redis.call('INCRBY', wk, int(amount))
      if v == amount then redis.call('PEXPIRE', wk, int(ms * 2)) end
      taken[#taken + 1] = {'w', wk, amount}
      if v > limit then failed = table.concat({'0', i, int(v - amount), int(reset), int(idx)}, ' '); break end
      out[i + 1] = string.format('%d %d %d', v, reset, idx)
    elseif kind == 'l' then
      local f = 'n:' .. k
      local v = redis.call('HINCRBY', holds, f, 1)
      taken[#taken + 1] = {'l', f}
      if v > limit then failed = table.concat({'0', i, int(v - 1), int(first_expiry()), '0'}, ' '); break end
      rec[#rec + 1] = 'l ' .. k
      out[i + 1] = string.format('%d 0 0', v)
    else
      local h = redis.call('HMGET', k, 'spent', 'held')
      local used = tonumber(h[1] or '0') + tonumber(h[2] or '0')
      if used + amount > limit then failed = table.concat({'0', i, int(used), int(first_expiry()), '0'}, ' '); break end
      local amt = int(amount)
      if redis.call('HINCRBY', k, 'held', amt) == amount then redis.call('PEXPIRE', k, int(tok[j + 4])) end
      taken[#taken + 1] = {'b', k, amount}
      rec[#rec + 1] = 'b ' .. k .. ' ' .. amt
      if tok[j + 4] > keep then keep = tok[j + 4] end
      out[i + 1] = string.format('%d 0 0', used + amount)
    end
  end
  if failed then
    for _, t in ipairs(taken) do
      if t[1] == 'w' then redis.call('DECRBY', t[2], int(t[3]))
      elseif t[1] == 'l' then
        if redis.call('HINCRBY', holds, t[2], -1) <= 0 then redis.call('HDEL', holds, t[2]) end
      elseif redis.call('HINCRBY', t[2], 'held', int(-t[3])) <= 0 then redis.call('HDEL', t[2], 'held') end
    end
    return failed
  end
  if #rec > 0 then
    redis.call('HSET', holds, id, table.concat(rec, ' '))
    redis.call('ZADD', expiries, int(now + ttl), id)
    if ttl * 2 > keep then keep = ttl * 2 end
  end
  return table.concat(out, ' ')
end
local function settle()
  local id, nw, nb = nxt(), nxt(), nxt()
  for _ = 1, nw do
    local k, ms, idx, delta = nxt(), nxt(), nxt(), nxt()
    local cur = math.floor(now / ms)
    -- A refund only while the admission's window lasts; tokens beyond the estimate land in the current one.
    if delta ~= 0 and (cur == idx or delta > 0) then
      local wk = k .. ':' .. cur
      local v = redis.call('INCRBY', wk, int(delta))
      if v < 0 then redis.call('SET', wk, '0', 'PX', int(ms * 2))
      elseif v == delta then redis.call('PEXPIRE', wk, int(ms * 2)) end
    end
  end
  -- the leases and reservations themselves: what the hold record lists, unless it expired (given back then)
  local rec = redis.call('HGET', holds, id)
  if rec then
    give_back(rec)
    redis.call('HDEL', holds, id)
    redis.call('ZREM', expiries, id)
  end
  for _ = 1, nb do
    local k, spent, keepMs = nxt(), nxt(), nxt()
    -- the first spend may make the hash (its reservation expired with it long ago)
    if spent > 0 and redis.call('HINCRBY', k, 'spent', int(spent)) == spent then redis.call('PEXPIRE', k, int(keepMs)) end
  end
  return '1'
end
local out = {}
while p <= #tok do
  if nxt() == 'A' then out[#out + 1] = admit() else out[#out + 1] = settle() end
end
-- the holds live no shorter than what their records give back to (see above)
if keep > 0 and redis.call('PTTL', holds) < keep then
  redis.call('PEXPIRE', holds, int(keep))
  redis.call('PEXPIRE', expiries, int(keep))
end
return out`;

/** KEYS: the holds hash and the expiries set. ARGV: ttlMs, then the ids whose holds to keep. */
const RENEW = `${NOW}
local upto = int(now + tonumber(ARGV[1]))
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], 'XX', upto, ARGV[i]) end
local keep = tonumber(ARGV[1]) * 2
if redis.call('PTTL', KEYS[1]) < keep then
  redis.call('PEXPIRE', KEYS[1], int(keep))
  redis.call('PEXPIRE', KEYS[2], int(keep))
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
  let words = `"S","${s.id}",${s.windows.length},${s.budgets.length}`;
  for (const w of s.windows) words += `,"${tag}${w.key}",${w.windowMs},${w.window},${w.delta}`;
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
  /** What each live admission holds, and lease counts (OPS above). */
  private readonly holds: string;
  /** When each live admission's holds expire. */
  private readonly expiries: string;
  /** Operations waiting for this turn of the event loop to end: they go to Redis in one call. */
  private queue: Pending[] = [];
  private flushing = false;

  constructor(opts: RedisCountersOptions) {
    const timeout = opts.timeoutMs ?? 100;
    this.tag = `{${opts.prefix ?? 'tracegate'}}`;
    this.keyPrefix = `${this.tag}:`;
    this.marker = `${this.keyPrefix}ledger`;
    this.holds = `${this.keyPrefix}holds`;
    this.expiries = `${this.keyPrefix}holds:x`;
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
    client.defineCommand('tgOps', { lua: OPS, numberOfKeys: 3 });
    client.defineCommand('tgRenew', { lua: RENEW, numberOfKeys: 2 });
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
      this.client.tgOps(this.marker, this.holds, this.expiries, `${words}]`).then(
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
    const held = ids.filter((r) => r.leases.length + r.budgets.length > 0).map((r) => r.id);
    if (held.length === 0) return;
    await this.call('renew', () => this.client.tgRenew(this.holds, this.expiries, ttlMs, ...held));
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
