/**
 * The one place a provider is chosen: an exhaustive switch over the kinds of kinds.ts. The rest of
 * the gateway (translator choice, auth, error mapping, stream framing, telemetry names, the
 * Backend schema, default URLs) reaches providers only through `providerFor`.
 *
 * Adding a provider: its folder `<name>/` with a `descriptor.ts`, its kind in kinds.ts, its line here.
 */
import { anthropicProvider } from './anthropic/descriptor.js';
import { azureProvider } from './azure/descriptor.js';
import { bedrockProvider } from './bedrock/descriptor.js';
import { geminiProvider } from './gemini/descriptor.js';
import { PROVIDER_KINDS, type ProviderKind } from './kinds.js';
import { openaiProvider } from './openai/descriptor.js';
import { simulatedProvider } from './simulated/descriptor.js';
import { vertexProvider } from './vertex/descriptor.js';
import type { Endpoint, ProviderDescriptor, TelemetryNames, Translator } from './types.js';

export function providerFor(kind: ProviderKind): ProviderDescriptor {
  switch (kind) {
    case 'openai':
      return openaiProvider;
    case 'azure':
      return azureProvider;
    case 'anthropic':
      return anthropicProvider;
    case 'bedrock':
      return bedrockProvider;
    case 'gemini':
      return geminiProvider;
    case 'vertex':
      return vertexProvider;
    case 'simulated':
      return simulatedProvider;
    default: {
      const never: never = kind;
      throw new Error(`unknown provider ${String(never)}`);
    }
  }
}

/** The translator for a client endpoint on a backend of `kind`; undefined: the pair is not served (the core answers 400). */
export function translatorFor(endpoint: Endpoint, kind: ProviderKind): Translator | undefined {
  return providerFor(kind).translators[endpoint];
}

/** OpenInference `llm.system` of a call to `model`. */
export function llmSystem(names: TelemetryNames, model: string): string {
  return typeof names.system === 'string' ? names.system : names.system(model);
}

let secretHeaders: readonly string[] | undefined;
let keyHeaders: readonly string[] | undefined;

/**
 * Headers in which providers' SDKs send a bare key (`ProviderAuth.keyHeader`), in the order of
 * kinds.ts: where clients may send their tracegate key besides `Authorization: Bearer`.
 */
export function clientKeyHeaders(): readonly string[] {
  keyHeaders ??= Object.freeze([...new Set(PROVIDER_KINDS.flatMap((k) => providerFor(k).auth.keyHeader ?? []))]);
  return keyHeaders;
}

/**
 * Lower-case names of every request header that carries a credential to some provider, plus
 * `proxy-authorization`: redacted in logs, never copied into spans, refused as inline config.
 */
export function providerSecretHeaders(): readonly string[] {
  secretHeaders ??= Object.freeze([...new Set(['proxy-authorization', ...PROVIDER_KINDS.flatMap((k) => providerFor(k).auth.secretHeaders)])]);
  return secretHeaders;
}

export { PROVIDER_KINDS, type ProviderKind };
