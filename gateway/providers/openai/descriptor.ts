/**
 * OpenAI and every OpenAI-compatible server (vLLM, Ollama, LiteLLM, …): the client's API as it
 * is, the key as `Authorization: Bearer`. The URL is always given: it says which server.
 */
import { keyInHeader } from '../shared/auth.js';
import type { ProviderDescriptor } from '../types.js';
import { chatOpenAIOpenAI } from './chat/openai_openai.js';
import { embeddingsOpenAIOpenAI } from './embeddings/openai_openai.js';
import { fromOpenAIUpstream } from './errors.js';
import { responsesOpenAIOpenAI } from './responses/openai_openai.js';

/** `https://api.openai.com/v1`, as the openai SDK takes it (paths are appended). */
export const OPENAI_PUBLIC_URL = 'https://api.openai.com/v1';

export const openaiProvider: ProviderDescriptor = {
  kind: 'openai',
  translators: { chat: chatOpenAIOpenAI, embeddings: embeddingsOpenAIOpenAI, responses: responsesOpenAIOpenAI },
  telemetry: { provider: 'openai', system: 'openai', genai: 'openai' },
  auth: keyInHeader('authorization', 'Bearer'),
  error: (status, bodyText, headers) => fromOpenAIUpstream(status, bodyText, headers),
  config: { fields: {} },
};
