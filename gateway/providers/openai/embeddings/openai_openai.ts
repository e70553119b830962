/**
 * Embeddings, OpenAI client → OpenAI-compatible server: a passthrough with `model` replaced.
 * The answer's `usage` has prompt and total tokens only.
 */
import { openAIShaped } from '../chat/openai_common.js';
import { PassthroughStream, observeNothing } from '../../shared/passthrough_stream.js';
import { joinUrl, parseObject, str } from '../../shared/helpers.js';
import type { ResponseFacts } from '../../types.js';
import { usageFromOpenAI } from '../../shared/usage.js';

export function embeddingFacts(json: Record<string, unknown>): ResponseFacts {
  const facts: ResponseFacts = {};
  if (str(json.model)) facts.responseModel = json.model as string;
  const usage = usageFromOpenAI(json.usage);
  if (usage) facts.usage = usage;
  return facts;
}

export const embeddingsOpenAIOpenAI = openAIShaped({
  endpoint: 'embeddings',
  backendKind: 'openai',
  url: (target) => joinUrl(target.backend.baseUrl, '/embeddings'),
  facts: embeddingFacts,
  stream: () => new PassthroughStream(observeNothing, parseObject),
});
