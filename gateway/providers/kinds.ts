/**
 * Every provider a Backend document can name (`spec.provider`), in one list: the config schema's
 * enum is made from it and `providerFor` (registry.ts) switches over it. A provider added here
 * fails to compile until the registry has its line. `openai` is every OpenAI-compatible server
 * (vLLM, Ollama, …); `simulated` is tracegate's built-in responder.
 */
export const PROVIDER_KINDS = ['openai', 'azure', 'anthropic', 'bedrock', 'gemini', 'vertex', 'simulated'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
