/**
 * Azure OpenAI: OpenAI's API at deployment URLs (`{url}/openai/deployments/{deployment}/…?api-version=`),
 * the key in an `api-key` header; its errors are OpenAI's.
 */
import { fromOpenAIUpstream } from '../openai/errors.js';
import { keyInHeader } from '../shared/auth.js';
import type { ProviderDescriptor } from '../types.js';
import { chatOpenAIAzure } from './chat/openai_azure.js';
import { embeddingsOpenAIAzure } from './embeddings/openai_azure.js';
import { azureFields } from './options.js';

export const azureProvider: ProviderDescriptor = {
  kind: 'azure',
  translators: { chat: chatOpenAIAzure, embeddings: embeddingsOpenAIAzure },
  telemetry: { provider: 'azure', system: 'openai', genai: 'azure.ai.openai' },
  auth: keyInHeader('api-key'),
  error: (status, bodyText, headers) => fromOpenAIUpstream(status, bodyText, headers),
  config: { fields: azureFields },
};
