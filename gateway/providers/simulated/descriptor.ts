/**
 * `simulated`: tracegate's built-in responder (../simulated.ts) speaks OpenAI's wire format, so it
 * is served by OpenAI's translators, in-process (`UpstreamDeps.simulated`), without a key or URL.
 */
import { chatOpenAIOpenAI } from '../openai/chat/openai_openai.js';
import { embeddingsOpenAIOpenAI } from '../openai/embeddings/openai_openai.js';
import { fromOpenAIUpstream } from '../openai/errors.js';
import { responsesOpenAIOpenAI } from '../openai/responses/openai_openai.js';
import { NO_AUTH } from '../shared/auth.js';
import type { ProviderDescriptor } from '../types.js';

export const simulatedProvider: ProviderDescriptor = {
  kind: 'simulated',
  defaultBaseUrl: 'http://simulated.tracegate.invalid/v1',
  translators: { chat: chatOpenAIOpenAI, embeddings: embeddingsOpenAIOpenAI, responses: responsesOpenAIOpenAI },
  telemetry: { provider: 'simulated', system: 'openai', genai: 'simulated' },
  auth: NO_AUTH,
  error: (status, bodyText, headers) => fromOpenAIUpstream(status, bodyText, headers),
  config: { fields: {} },
  simulated: true,
};
