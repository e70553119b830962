/**
 * The key index's cache of verified keys: bounded, never holding a key that did not verify,
 * still checking revocation and expiry on every lookup, and gone with its configuration.
 */
import { describe, expect, it } from 'vitest';
import type { ApiKeyConfig, GatewayConfig } from '../../../gateway/config/model.js';
import { generateKey, hashKey, KeyIndex } from '../../../gateway/policy/keys.js';

const PEPPER = 'pepper-for-tests-0123456789abcdefghij';

function index(keys: { name: string; key: string; revoked?: boolean; expiresAt?: number }[], cacheSize?: number): KeyIndex {
  const apiKeys = new Map<string, ApiKeyConfig>(
    keys.map((k) => [
      k.name,
      { identity: { key: k.name, metadata: {}, allowedRoutes: [], allowedModels: [], keyLimits: {} }, hash: hashKey(k.key, PEPPER), revoked: !!k.revoked, expiresAt: k.expiresAt },
    ]),
  );
  return new KeyIndex({ apiKeys } as unknown as GatewayConfig, PEPPER, cacheSize);
}

describe('KeyIndex', () => {
  const keys = Array.from({ length: 5 }, (_, i) => ({ name: `k${i}`, key: generateKey() }));

  it('remembers at most cacheSize verified keys, and answers the same for every key after eviction', () => {
    const idx = index(keys, 2);
    for (let round = 0; round < 3; round++) {
      for (const k of keys) expect(idx.lookup(k.key, 0)).toMatchObject({ ok: true, identity: { key: k.name } });
      expect(idx.cachedKeys).toBe(2);
    }
  });

  it('never caches a key that did not verify: a flood of wrong keys neither grows it nor evicts good ones', () => {
    const idx = index(keys, 3);
    idx.lookup(keys[0].key, 0);
    for (let i = 0; i < 100; i++) expect(idx.lookup(generateKey(), 0)).toEqual({ ok: false, reason: 'unknown' });
    expect(idx.cachedKeys).toBe(1);
  });

  it('checks expiry and revocation on every lookup, cached or not', () => {
    const expiring = { name: 'exp', key: generateKey(), expiresAt: 1000 };
    const revoked = { name: 'rev', key: generateKey(), revoked: true };
    const idx = index([expiring, revoked]);
    expect(idx.lookup(expiring.key, 999).ok).toBe(true);
    expect(idx.lookup(expiring.key, 1000)).toEqual({ ok: false, reason: 'expired' });
    expect(idx.lookup(revoked.key, 0)).toEqual({ ok: false, reason: 'revoked' });
    expect(idx.lookup(revoked.key, 0)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('a reload (a new index) does not know a key the new configuration dropped, however often it was used', () => {
    const before = index(keys);
    for (let i = 0; i < 3; i++) expect(before.lookup(keys[0].key, 0).ok).toBe(true);
    const after = index(keys.slice(1));
    expect(after.lookup(keys[0].key, 0)).toEqual({ ok: false, reason: 'unknown' });
  });
});
