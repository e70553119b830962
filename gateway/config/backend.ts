/**
 * A Backend document compiled: its provider's own fields become `options`, its provider's secret
 * fields are resolved apart from the config (like `apiKey`), and a missing `url` is the provider's
 * default (gateway/providers/types.ts `ProviderConfig`, `defaultBaseUrl`).
 */
import { providerFor } from '../providers/registry.js';
import type { ProviderDescriptor } from '../providers/types.js';
import type { BackendConfig, ConfigProblem } from './model.js';
import type { BackendSpec, GatewaySpec, SecretRef } from './schema.js';
import { resolveCredential, type SecretSources } from './secrets.js';

export interface BackendDoc {
  name: string;
  spec: BackendSpec;
  at: (path: (string | number)[], message: string) => ConfigProblem;
}

/** Where a compiled backend's credentials go: `keys` (apiKey) and `providerSecrets` (secret fields), by backend name. */
export interface BackendSecrets {
  keys: Map<string, string>;
  providerSecrets: Map<string, Readonly<Record<string, string>>>;
}

/** The base URL when the document gives none; `undefined` when the provider has no default (the schema requires `url` then). */
export function defaultUrl(p: ProviderDescriptor, options: Readonly<Record<string, unknown>>): string | undefined {
  return typeof p.defaultBaseUrl === 'function' ? p.defaultBaseUrl(options) : p.defaultBaseUrl;
}

export function compileBackend(d: BackendDoc, gw: GatewaySpec, sources: SecretSources, into: BackendSecrets, problems: ConfigProblem[]): BackendConfig {
  const s = d.spec;
  const provider = providerFor(s.provider);
  const spec = s as unknown as Readonly<Record<string, unknown>>;
  const secretFields = provider.config.secrets ?? [];
  const options: Record<string, unknown> = {};
  for (const f of Object.keys(provider.config.fields)) if (spec[f] !== undefined && !secretFields.includes(f)) options[f] = spec[f];
  let disabled = resolveCredential(s.apiKey, sources, { keys: into.keys, name: d.name, label: 'key' }, (m) => problems.push(d.at(['spec', 'apiKey'], m)));
  if (secretFields.length) {
    const fields = new Map<string, string>();
    for (const f of secretFields) {
      const why = resolveCredential(spec[f] as SecretRef | undefined, sources, { keys: fields, name: f, label: f }, (m) => problems.push(d.at(['spec', f], m)));
      disabled ??= why;
    }
    into.providerSecrets.set(d.name, Object.freeze(Object.fromEntries(fields)));
  }
  return {
    name: d.name,
    provider: s.provider,
    url: s.url ?? defaultUrl(provider, options) ?? '',
    options,
    headers: s.headers ?? {},
    connections: s.connections,
    circuitBreaker: { ...gw.defaults.circuitBreaker, ...s.circuitBreaker },
    backendRef: s.backendRef,
    disabled,
  };
}
