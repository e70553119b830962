/** Embeddings, OpenAI client → Azure OpenAI: the deployment URL, otherwise as the OpenAI passthrough. */
import { azureUrl } from '../chat/openai_azure.js';
import { openAIShaped } from '../../openai/chat/openai_common.js';
import { PassthroughStream, observeNothing } from '../../shared/passthrough_stream.js';
import { parseObject } from '../../shared/helpers.js';
import { embeddingFacts } from '../../openai/embeddings/openai_openai.js';

export const embeddingsOpenAIAzure = openAIShaped({
  endpoint: 'embeddings',
  backendKind: 'azure',
  url: (target) => azureUrl(target.backend, target.model, '/embeddings'),
  facts: embeddingFacts,
  stream: () => new PassthroughStream(observeNothing, parseObject),
});
