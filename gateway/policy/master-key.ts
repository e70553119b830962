/**
 * The gateway's master key (LiteLLM's `master_key`): an admin credential that every /v1/* route
 * accepts, as `Authorization: Bearer KEY` or in a header providers' SDKs send a bare key in,
 * beside any ApiKey (authenticate.ts). It carries no identity and so no identity limits. The key
 * is compared in constant time and never logged: the headers carrying it are redacted
 * (SECRET_HEADERS) and never copied into spans or upstream requests.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const MIN_MASTER_KEY_CHARS = 8;

/** Fixed-length digests, so neither the comparison's time nor its length check says anything about the key. */
const digest = (s: string) => createHash('sha256').update(s).digest();

/** A constant-time test of a presented credential against `key`. */
export function masterKeyMatcher(key: string): (presented: string) => boolean {
  if (key.length < MIN_MASTER_KEY_CHARS) throw new Error(`the master key must be at least ${MIN_MASTER_KEY_CHARS} characters`);
  const want = digest(key);
  return (presented) => timingSafeEqual(digest(presented), want);
}
