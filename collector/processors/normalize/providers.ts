/**
 * Provider names between the conventions. OpenInference splits the host (`llm.provider`:
 * aws, azure, google, …) from the model vendor (`llm.system`: openai, anthropic, vertexai, …);
 * GenAI has one `gen_ai.provider.name` (aws.bedrock, azure.ai.openai, gcp.vertex_ai, …), OpenLLMetry
 * writes free-form `gen_ai.system` values (OpenAI, Anthropic, Bedrock…), the Vercel AI SDK writes
 * provider ids with an API suffix (openai.chat, anthropic.messages, amazon-bedrock, google.vertex.chat).
 */
export interface ProviderNames {
  provider?: string;
  system?: string;
}

const P = (provider: string, system?: string): ProviderNames => (system ? { provider, system } : { provider });

const KNOWN: Record<string, ProviderNames> = {
  openai: P('openai', 'openai'),
  anthropic: P('anthropic', 'anthropic'),
  'aws.bedrock': P('aws'),
  aws: P('aws'),
  bedrock: P('aws'),
  'amazon-bedrock': P('aws'),
  'azure.ai.openai': P('azure', 'openai'),
  'azure.ai.inference': P('azure'),
  'azure-openai': P('azure', 'openai'),
  azure: P('azure'),
  'gcp.vertex_ai': P('google', 'vertexai'),
  'gcp.gemini': P('google', 'vertexai'),
  'gcp.gen_ai': P('google', 'vertexai'),
  'google.vertex': P('google', 'vertexai'),
  'google.generative-ai': P('google', 'vertexai'),
  google: P('google', 'vertexai'),
  vertexai: P('google', 'vertexai'),
  vertex_ai: P('google', 'vertexai'),
  gemini: P('google', 'vertexai'),
  mistral_ai: P('mistralai', 'mistralai'),
  mistralai: P('mistralai', 'mistralai'),
  mistral: P('mistralai', 'mistralai'),
  x_ai: P('xai', 'xai'),
  xai: P('xai', 'xai'),
  deepseek: P('deepseek', 'deepseek'),
  cohere: P('cohere', 'cohere'),
  'ibm.watsonx.ai': P('ibm'),
  watsonx: P('ibm'),
  groq: P('groq'),
  perplexity: P('perplexity'),
  together: P('together'),
  togetherai: P('together'),
  fireworks: P('fireworks'),
  cerebras: P('cerebras'),
  moonshot: P('moonshot'),
  ollama: P('ollama'),
};

/** Model vendor from the model name, for hosts that serve many vendors (Bedrock, Azure AI, Groq…). */
export function systemFromModel(model: string | undefined): string | undefined {
  if (!model) return undefined;
  const m = model.toLowerCase();
  if (m.includes('claude')) return 'anthropic';
  if (/(^|[./])(gpt|o[1-9]|chatgpt|text-embedding|davinci|babbage|whisper|dall-e|tts-)/.test(m)) return 'openai';
  if (m.includes('gemini') || m.includes('gemma')) return 'vertexai';
  if (/mistral|mixtral|codestral|ministral|pixtral|magistral/.test(m)) return 'mistralai';
  if (m.includes('grok')) return 'xai';
  if (m.includes('deepseek')) return 'deepseek';
  if (m.includes('command') || m.startsWith('cohere.')) return 'cohere';
  if (m.includes('llama')) return 'meta';
  if (m.includes('titan') || m.includes('nova')) return 'amazon';
  if (m.includes('jamba') || m.startsWith('ai21.')) return 'ai21';
  return undefined;
}

const cache = new Map<string, ProviderNames>();

/** OpenInference provider and system for a provider name of any convention. */
export function providerNames(raw: string, model?: string): ProviderNames {
  const key = raw.trim().toLowerCase();
  let found = cache.get(key);
  if (!found) {
    let probe = key;
    found = KNOWN[probe];
    // `openai.chat`, `google.vertex.chat`: drop API suffixes until a known name remains.
    while (!found && probe.includes('.')) {
      probe = probe.slice(0, probe.lastIndexOf('.'));
      found = KNOWN[probe];
    }
    found ??= { provider: probe };
    if (cache.size < 1000) cache.set(key, found);
  }
  if (found.system) return found;
  const system = systemFromModel(model);
  return system ? { provider: found.provider, system } : found;
}
