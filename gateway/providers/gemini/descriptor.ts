/**
 * Gemini API (Google AI Studio keys): OpenAI chat and embeddings translated to
 * `generateContent` / `batchEmbedContents`, and `generateContent` passed through for Gemini SDK
 * clients; the key in `x-goog-api-key` (never `?key=`, which would put it in URLs and logs).
 * Errors are Google's, mapped to OpenAI's envelope for OpenAI clients.
 *
 * Telemetry: OpenInference `llm.provider` google with `llm.system` vertexai (its only well-known
 * value for Google's models), GenAI `gen_ai.provider.name` gcp.gemini (the Gemini API, as opposed
 * to gcp.vertex_ai).
 */
import { keyInHeader } from '../shared/auth.js';
import type { ProviderDescriptor } from '../types.js';
import { openAIToGemini } from './chat/openai_gemini.js';
import { openAIToGeminiEmbeddings } from './embeddings/openai_gemini.js';
import { fromGoogleUpstream } from './errors.js';
import { geminiPassthrough } from './generate/gemini_gemini.js';
import { GEMINI_PUBLIC_URL, geminiFields, geminiModelUrl } from './options.js';

export const geminiProvider: ProviderDescriptor = {
  kind: 'gemini',
  defaultBaseUrl: GEMINI_PUBLIC_URL,
  translators: {
    chat: openAIToGemini('gemini', geminiModelUrl),
    embeddings: openAIToGeminiEmbeddings('gemini', geminiModelUrl, 'batch'),
    generate: geminiPassthrough('gemini', geminiModelUrl),
  },
  telemetry: { provider: 'google', system: 'vertexai', genai: 'gcp.gemini' },
  auth: keyInHeader('x-goog-api-key'),
  error: fromGoogleUpstream,
  config: { fields: geminiFields },
};
