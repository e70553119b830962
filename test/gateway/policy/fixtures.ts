/** What the policy's integration tests share: keys with limits, the status of a call, Redis ledgers. */
import type { Redis } from 'ioredis';
import { generateKey, hashKey } from '../../../gateway/policy/keys.js';

export const PEPPER = 'pepper-for-policy-tests-0123456789abcdef';
/** $0.15 / $0.60 per million tokens: 150 / 600 nano-USD a token. */
export const MODEL = 'gpt-4o-mini';

/** A fresh key per name. */
export const keysFor = (limits: Record<string, string>): Record<string, string> => Object.fromEntries(Object.keys(limits).map((k) => [k, generateKey()]));

/** One ApiKey document per name, with its limits (YAML flow text) and optional team. */
export function apiKeyDocs(limits: Record<string, string>, keys: Record<string, string>, team?: string): string[] {
  return Object.entries(limits).map(([name, l]) => `kind: ApiKey\nmetadata: { name: ${name} }\nspec:\n${team ? `  team: ${team}\n` : ''}  hash: ${hashKey(keys[name], PEPPER)}\n  limits: { ${l} }`);
}

/** The HTTP status a client call ended with (200 when it succeeded). */
export const statusOf = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => 200,
    (e: { status?: number }) => e.status ?? 0,
  );

/** Today's UTC date, as day ledgers are named with the default time zone. */
export const today = (at = Date.now()) => new Date(at).toISOString().slice(0, 10);

/** A key's ledger of the day in Redis, in nano-USD. */
export async function dayLedger(redis: Redis, key: string, at = Date.now()): Promise<{ spent: number; reserved: number }> {
  const h = await redis.hgetall(`{tracegate}:k:${key}:d:${today(at)}`);
  return { spent: Number(h.spent ?? 0), reserved: Number(h.held ?? 0) };
}
