/** Credential headers of providers that take a key as it is: the synchronous path of `ProviderAuth`. */
import type { AuthHeaders, ProviderAuth } from '../types.js';

const NONE: AuthHeaders = Object.freeze({}) as AuthHeaders;

/** The backend's key in header `name` (lower-case), after `scheme` when given (`Bearer`); nothing without a key. */
export function keyInHeader(name: string, scheme?: string): ProviderAuth {
  const prefix = scheme ? `${scheme} ` : '';
  return {
    secretHeaders: [name],
    keyHeader: scheme ? undefined : name,
    authorize: (_req, _backend, secret) => (secret.key === undefined ? NONE : { [name]: prefix + secret.key }),
  };
}

/** A provider that takes no credential. */
export const NO_AUTH: ProviderAuth = { secretHeaders: [], authorize: () => NONE };
