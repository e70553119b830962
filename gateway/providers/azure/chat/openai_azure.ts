/**
 * Chat Completions, OpenAI client → Azure OpenAI. Azure addresses a deployment, not a model:
 * `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`, with the key
 * in an `api-key` header (the core adds it, see ../descriptor.ts). The deployment is the backend's
 * `deployment`, else the target model. The body keeps `model` set to the target model: Azure
 * ignores it on deployment URLs, and it keeps request bodies alike across backends.
 * Answers are OpenAI-shaped (plus Azure's content-filter fields) and pass through.
 */
import { joinUrl } from '../../shared/helpers.js';
import type { BackendDescriptor } from '../../types.js';
import { azureOptions, AZURE_DEFAULT_API_VERSION } from '../options.js';
import { chatCompletionFacts, openAIShaped } from '../../openai/chat/openai_common.js';
import { OpenAIChatStream } from '../../openai/chat/openai_stream.js';

/** `{endpoint}/openai/deployments/{deployment}{op}?api-version=…`. */
export function azureUrl(backend: BackendDescriptor, model: string, op: string): string {
  const o = azureOptions(backend);
  const deployment = encodeURIComponent(o.deployment ?? model);
  return joinUrl(backend.baseUrl, `/openai/deployments/${deployment}${op}`, {
    'api-version': o.apiVersion ?? AZURE_DEFAULT_API_VERSION,
  });
}

export const chatOpenAIAzure = openAIShaped({
  endpoint: 'chat',
  backendKind: 'azure',
  url: (target) => azureUrl(target.backend, target.model, '/chat/completions'),
  facts: chatCompletionFacts,
  stream: (ctx) => new OpenAIChatStream(ctx),
});
