/**
 * What a Bedrock model id says about the model: its vendor, for OpenInference `llm.system`.
 *
 * Ids are `<vendor>.<model>` (`anthropic.claude-sonnet-4-20250514-v1:0`, `amazon.nova-pro-v1:0`,
 * `meta.llama3-1-70b-instruct-v1:0`), with a cross-region inference profile's geography in front
 * (`us.`, `eu.`, `apac.`, `us-gov.`, `global.`), or an ARN of a model, an inference profile or a
 * provisioned throughput (`arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…`).
 */

/** Bedrock's vendor prefixes → OpenInference's well-known `llm.system` values (shared/reference/conventions.md). */
const SYSTEM_OF_VENDOR: Record<string, string> = {
  anthropic: 'anthropic',
  amazon: 'amazon',
  meta: 'meta',
  mistral: 'mistralai',
  cohere: 'cohere',
  ai21: 'ai21',
  deepseek: 'deepseek',
  openai: 'openai',
};

const GEOGRAPHIES = new Set(['us', 'eu', 'apac', 'us-gov', 'global', 'jp', 'au', 'ca']);

/** The vendor prefix of a model id, profile id or ARN (`anthropic`, `amazon`, …), or undefined. */
export function vendorOf(model: string): string | undefined {
  // An ARN's resource is after its last '/': a foundation model or an inference profile id.
  const id = model.startsWith('arn:') ? model.slice(model.lastIndexOf('/') + 1) : model;
  const parts = id.split('.');
  const vendor = parts.length > 2 && GEOGRAPHIES.has(parts[0]) ? parts[1] : parts.length > 1 ? parts[0] : undefined;
  return vendor?.toLowerCase();
}

/**
 * OpenInference `llm.system` of a Bedrock model: the vendor's well-known name; another vendor's
 * own prefix as it is (`qwen`, `writer`); `amazon` when the id names none (a provisioned model's
 * ARN) — Bedrock, Amazon's service, served it.
 */
export function bedrockSystem(model: string): string {
  const vendor = vendorOf(model);
  if (!vendor) return 'amazon';
  return SYSTEM_OF_VENDOR[vendor] ?? vendor;
}
