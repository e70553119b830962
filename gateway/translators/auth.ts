import type { BackendKind } from './types.js';

/**
 * The header that carries a provider key, for the core to add to an `UpstreamRequest`.
 * Translators never see keys; this is the one place that knows each provider's header.
 */
export function authHeader(kind: BackendKind, key: string): [name: string, value: string] {
  switch (kind) {
    case 'openai':
      return ['authorization', `Bearer ${key}`];
    case 'azure':
      return ['api-key', key];
    case 'anthropic':
      return ['x-api-key', key];
    default: {
      const never: never = kind;
      throw new Error(`unknown backend kind ${String(never)}`);
    }
  }
}

/** Header names that carry secrets, lower-case: redact them in logs and never copy them into spans. */
export const SECRET_HEADERS: readonly string[] = ['authorization', 'api-key', 'x-api-key', 'proxy-authorization'];
