/**
 * The one place a translator is chosen: an exhaustive switch per endpoint over backend kinds.
 * `undefined` means the pair is not served (e.g. Responses or Messages on an Azure backend); the
 * core answers that with a clear 400 naming the endpoint and backend.
 */
import { chatOpenAIAnthropic } from './chat/openai_anthropic.js';
import { chatOpenAIAzure } from './chat/openai_azure.js';
import { chatOpenAIOpenAI } from './chat/openai_openai.js';
import { embeddingsOpenAIAzure } from './embeddings/openai_azure.js';
import { embeddingsOpenAIOpenAI } from './embeddings/openai_openai.js';
import { messagesAnthropicAnthropic } from './messages/anthropic_anthropic.js';
import { responsesOpenAIOpenAI } from './responses/openai_openai.js';
import type { BackendKind, Endpoint, Translator } from './types.js';

export function translatorFor(endpoint: Endpoint, kind: BackendKind): Translator | undefined {
  switch (kind) {
    case 'openai':
      return endpoint === 'chat' ? chatOpenAIOpenAI
        : endpoint === 'embeddings' ? embeddingsOpenAIOpenAI
        : endpoint === 'responses' ? responsesOpenAIOpenAI
        : undefined;
    case 'azure':
      return endpoint === 'chat' ? chatOpenAIAzure : endpoint === 'embeddings' ? embeddingsOpenAIAzure : undefined;
    case 'anthropic':
      return endpoint === 'chat' ? chatOpenAIAnthropic : endpoint === 'messages' ? messagesAnthropicAnthropic : undefined;
    default: {
      const never: never = kind;
      throw new Error(`unknown backend kind ${String(never)}`);
    }
  }
}

export type * from './types.js';
export { authHeader, SECRET_HEADERS } from './auth.js';
export { isRetryableStatus, retryAfterMs, openaiError, anthropicError } from './errors.js';
