/**
 * Chat Completions, OpenAI client → OpenAI or any OpenAI-compatible server (vLLM, Ollama,
 * llama.cpp, …): a passthrough. Only `model` changes (and stream usage is forced on when the
 * core asks); answers and errors go back as the upstream wrote them.
 */
import { joinUrl } from '../../shared/helpers.js';
import { chatCompletionFacts, openAIShaped } from './openai_common.js';
import { OpenAIChatStream } from './openai_stream.js';

export const chatOpenAIOpenAI = openAIShaped({
  endpoint: 'chat',
  backendKind: 'openai',
  url: (target) => joinUrl(target.backend.baseUrl, '/chat/completions'),
  facts: chatCompletionFacts,
  stream: (ctx) => new OpenAIChatStream(ctx),
});
