/**
 * Vertex AI: Google's Gemini models (the Gemini translators at Vertex's model URLs, embeddings
 * through `:predict`, the Gemini SDK passthrough) and Anthropic's Claude models (the Anthropic
 * translators at `:rawPredict`), in one project and region. Requests carry an OAuth2 access
 * token (auth.ts): from a service account key, or the metadata server.
 *
 * Telemetry: `llm.provider` google; `llm.system` anthropic for Claude models, else vertexai;
 * `gen_ai.provider.name` gcp.vertex_ai.
 */
import { openAIToGemini } from '../gemini/chat/openai_gemini.js';
import { openAIToGeminiEmbeddings } from '../gemini/embeddings/openai_gemini.js';
import { geminiPassthrough } from '../gemini/generate/gemini_gemini.js';
import type { ProviderDescriptor } from '../types.js';
import { chatOpenAIVertexAnthropic, messagesAnthropicVertex } from './anthropic.js';
import { vertexAuth } from './auth.js';
import { byPublisher, onlyFor } from './chat.js';
import { fromVertexUpstream } from './errors.js';
import { vertexBaseUrl, vertexFields, vertexGeminiUrl } from './options.js';

export const vertexProvider: ProviderDescriptor = {
  kind: 'vertex',
  defaultBaseUrl: vertexBaseUrl,
  translators: {
    chat: byPublisher(openAIToGemini('vertex', vertexGeminiUrl), chatOpenAIVertexAnthropic),
    embeddings: onlyFor('google', openAIToGeminiEmbeddings('vertex', vertexGeminiUrl, 'predict'), 'embeddings'),
    messages: onlyFor('anthropic', messagesAnthropicVertex, 'the Messages API'),
    generate: onlyFor('google', geminiPassthrough('vertex', vertexGeminiUrl), 'generateContent'),
  },
  telemetry: { provider: 'google', system: (model) => (/claude/i.test(model) ? 'anthropic' : 'vertexai'), genai: 'gcp.vertex_ai' },
  auth: vertexAuth,
  error: fromVertexUpstream,
  config: {
    fields: vertexFields,
    secrets: ['serviceAccount'],
    check(spec, issue) {
      if (spec.apiKey !== undefined)
        issue(['apiKey'], 'vertex backends authenticate with OAuth2 access tokens: give serviceAccount (a key file as { file } or { env }), or leave both out to use the metadata server');
    },
  },
};
