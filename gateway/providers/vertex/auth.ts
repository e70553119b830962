/**
 * Vertex AI requests carry `Authorization: Bearer <OAuth2 access token>`: from the backend's
 * service account key (`serviceAccount`), else from the metadata server (`metadataUrl`). One
 * token cache per backend of a loaded config, kept with the backend's options object (a reload
 * builds new ones, and the old caches go with the old config); a cached token is added without
 * waiting, so only a refresh makes a request wait.
 */
import type { AuthHeaders, BackendDescriptor, BackendSecret, ProviderAuth } from '../types.js';
import { metadataTokens, METADATA_URL, parseServiceAccount, serviceAccountTokens } from './credentials.js';
import { vertexOptions } from './options.js';
import { TokenCache } from './token-cache.js';

interface Entry {
  /** What the cache's tokens are for: a different key or server replaces the cache. */
  credential: string;
  cache: TokenCache;
}

const caches = new WeakMap<object, Entry>();

/** What a backend's cache is kept with: its options object, one per backend of a loaded config. */
const holderOf = (backend: BackendDescriptor, secret: BackendSecret): object => backend.options ?? secret.fields;

function cacheFor(backend: BackendDescriptor, secret: BackendSecret): TokenCache {
  const holder = holderOf(backend, secret);
  const sa = secret.fields.serviceAccount;
  const metadata = vertexOptions(backend).metadataUrl ?? METADATA_URL;
  const credential = sa !== undefined ? `sa\n${sa}` : `md\n${metadata}`;
  let e = caches.get(holder);
  if (!e || e.credential !== credential) {
    // Parsing the key throws a CredentialError (its message names no secret) when it is unusable.
    const fetch = sa !== undefined ? serviceAccountTokens(parseServiceAccount(sa)) : metadataTokens(metadata);
    e = { credential, cache: new TokenCache(fetch) };
    caches.set(holder, e);
  }
  return e.cache;
}

export const vertexAuth: ProviderAuth = {
  secretHeaders: ['authorization'],
  authorize(req, backend, secret): AuthHeaders | Promise<AuthHeaders> {
    const cache = cacheFor(backend, secret);
    const kept = cache.peek();
    if (kept !== undefined) return { authorization: `Bearer ${kept}` };
    return cache.get(req.signal).then((token) => ({ authorization: `Bearer ${token}` }));
  },
  // Vertex refused the token (revoked, or the account's rights changed): the next call fetches one.
  refused: (backend, secret) => caches.get(holderOf(backend, secret))?.cache.invalidate(),
};
