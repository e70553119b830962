/**
 * Client keys: how they look, how they are stored, and how a presented key finds its identity.
 *
 * A key is `tg-` and 43 base62 characters (256 bits from the CSPRNG). The configuration holds only
 * `hmac-sha256:<hex>` of it under a pepper that lives outside the configuration (an environment
 * variable or a file), so a leaked configuration gives neither the keys nor a way to test guesses
 * offline. A high-entropy key needs no slow hash: nobody can enumerate 2^256 candidates, and the
 * HMAC keeps the per-request cost to one hash and one Map lookup.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { ApiKeyConfig, GatewayConfig } from '../config/model.js';
import type { Identity } from './identity.js';

export const KEY_PREFIX = 'tg-';
const KEY_CHARS = 43;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const HASH_PREFIX = 'hmac-sha256:';
export const MIN_PEPPER_CHARS = 32;
/** Longer than any key worth hashing; a longer header value is refused as malformed, unhashed. */
export const MAX_KEY_CHARS = 512;
/** Printable ASCII without space: what a key made here or elsewhere consists of. */
const KEY_SHAPE = /^[\x21-\x7e]+$/;

/** A new key: `tg-` + 43 base62 characters, drawn without modulo bias. */
export function generateKey(random: (n: number) => Buffer = randomBytes): string {
  let out = KEY_PREFIX;
  while (out.length < KEY_PREFIX.length + KEY_CHARS) {
    for (const b of random(64)) {
      // 248 = 4 * 62: bytes above it would favour the first characters.
      if (b < 248 && out.length < KEY_PREFIX.length + KEY_CHARS) out += BASE62[b % 62];
    }
  }
  return out;
}

/** Why a pepper cannot be used, or undefined. Never repeats the pepper. */
export function pepperProblem(pepper: string): string | undefined {
  if (pepper.length < MIN_PEPPER_CHARS) return `the key pepper must be at least ${MIN_PEPPER_CHARS} characters (it has ${pepper.length}); make one with: openssl rand -base64 48`;
  return undefined;
}

/** Whether a presented value could be a key at all (hashing it is then worth the time). */
export function wellFormedKey(key: string): boolean {
  return key.length > 0 && key.length <= MAX_KEY_CHARS && KEY_SHAPE.test(key);
}

/** What the configuration stores for `key`. */
export function hashKey(key: string, pepper: string): string {
  return HASH_PREFIX + createHmac('sha256', pepper).update(key, 'utf8').digest('hex');
}

export type KeyLookup = { ok: true; identity: Identity } | { ok: false; reason: 'unknown' | 'revoked' | 'expired' };

/** Verified keys remembered per configuration load (each costs one HMAC otherwise). */
export const VERIFIED_CACHE = 4096;

/**
 * Every ApiKey of one configuration by its hash, rebuilt on each load: a reload that removes or
 * revokes a key (or a key whose expiry passes) refuses it on the next request.
 *
 * Keys that verified are remembered (presented string → document), most recently used first,
 * so a busy key costs a Map lookup instead of an HMAC. The cache lives and dies with this index:
 * a reload builds a new index, so a revoked or removed key is never served from it. Only keys
 * that matched a document are kept (a flood of wrong keys cannot evict them or grow it), revocation
 * and expiry are checked on every lookup, and the cache is never logged, listed or exported.
 */
export class KeyIndex {
  private readonly byHash = new Map<string, ApiKeyConfig>();
  private readonly verified = new Map<string, ApiKeyConfig>();
  /**
   * The document of the most recently used verified key: presented again, that key is already
   * last in `verified`. Compared by identity (one key verifies to one document), not as a string.
   */
  private newest: ApiKeyConfig | undefined;

  constructor(
    config: GatewayConfig,
    private readonly pepper: string,
    private readonly cacheSize = VERIFIED_CACHE,
  ) {
    for (const k of config.apiKeys.values()) this.byHash.set(k.hash, k);
  }

  get size(): number {
    return this.byHash.size;
  }

  /** How many verified keys are remembered now (a count, never the keys). */
  get cachedKeys(): number {
    return this.verified.size;
  }

  /**
   * The identity of a presented key at `nowMs`. The index is looked up by the HMAC of what was
   * presented, not by the key: how long the lookup takes depends on digests an attacker can
   * neither choose nor compute without the pepper, so timing reveals nothing about stored keys
   * and no constant-time compare is needed. The cache of verified keys is a Map keyed by the
   * presented string: V8 hashes strings with a per-process random seed and compares contents
   * only on an equal hash, so probing it tells an attacker no more than the digest lookup does.
   */
  lookup(presented: string, nowMs: number): KeyLookup {
    let k = this.verified.get(presented);
    if (k) {
      // Most recently used last: the first entry is the one to evict.
      if (k !== this.newest) {
        this.verified.delete(presented);
        this.verified.set(presented, k);
        this.newest = k;
      }
    } else {
      k = this.byHash.get(hashKey(presented, this.pepper));
      if (!k) return { ok: false, reason: 'unknown' };
      if (this.cacheSize > 0) {
        if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value as string);
        this.verified.set(presented, k);
        this.newest = k;
      }
    }
    if (k.revoked) return { ok: false, reason: 'revoked' };
    if (k.expiresAt !== undefined && nowMs >= k.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, identity: k.identity };
  }
}
