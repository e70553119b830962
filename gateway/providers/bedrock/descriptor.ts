/**
 * AWS Bedrock: OpenAI chat through Converse (or InvokeModel with Anthropic's body, `api: invoke`),
 * and Anthropic Messages clients through InvokeModel; streams in the AWS event stream framing;
 * requests signed with SigV4 (or a Bedrock API key as a bearer token). See options.ts for the
 * Backend fields and which API serves what, auth.ts for credentials, errors.ts for the error map.
 *
 * Telemetry: OpenInference `llm.provider` aws (the host) and `llm.system` the model's vendor from
 * its id (anthropic for Claude, amazon for Nova and Titan, meta for Llama, …, models.ts), as the
 * OpenInference spec separates system and provider (system openai + provider azure); GenAI
 * `gen_ai.provider.name` aws.bedrock.
 */
import type { ProviderDescriptor } from '../types.js';
import { authorizeBedrock, BEDROCK_SECRET_HEADERS } from './auth.js';
import { chatOpenAIBedrock } from './chat/openai_bedrock.js';
import { fromBedrockUpstream } from './errors.js';
import { EventStreamDecoder } from './eventstream.js';
import { messagesAnthropicBedrock } from './messages/anthropic_bedrock.js';
import { bedrockSystem } from './models.js';
import { BEDROCK_SECRET_FIELDS, bedrockFields, checkBedrockSpec, runtimeUrl } from './options.js';

export const bedrockProvider: ProviderDescriptor = {
  kind: 'bedrock',
  defaultBaseUrl: runtimeUrl,
  translators: { chat: chatOpenAIBedrock, messages: messagesAnthropicBedrock },
  streamDecoder: (limits) => new EventStreamDecoder(limits.maxEventBytes),
  telemetry: { provider: 'aws', system: bedrockSystem, genai: 'aws.bedrock' },
  auth: { secretHeaders: BEDROCK_SECRET_HEADERS, authorize: authorizeBedrock },
  error: fromBedrockUpstream,
  config: { fields: bedrockFields, secrets: BEDROCK_SECRET_FIELDS, check: checkBedrockSpec },
};
