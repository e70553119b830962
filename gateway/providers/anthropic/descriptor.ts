/**
 * Anthropic: OpenAI chat translated to the Messages API, and the Messages API passed through for
 * Anthropic clients; the key in `x-api-key`. Errors keep Anthropic's envelope for Messages
 * clients and are mapped to OpenAI's for the others.
 */
import { keyInHeader } from '../shared/auth.js';
import type { ProviderDescriptor } from '../types.js';
import { chatOpenAIAnthropic } from './chat/openai_anthropic.js';
import { fromAnthropicUpstream, fromAnthropicUpstreamToOpenAI } from './errors.js';
import { messagesAnthropicAnthropic } from './messages/anthropic_anthropic.js';
import { anthropicFields } from './options.js';

/** `https://api.anthropic.com`, as the Anthropic SDK takes it (`/v1/messages` is appended). */
export const ANTHROPIC_PUBLIC_URL = 'https://api.anthropic.com';

export const anthropicProvider: ProviderDescriptor = {
  kind: 'anthropic',
  translators: { chat: chatOpenAIAnthropic, messages: messagesAnthropicAnthropic },
  telemetry: { provider: 'anthropic', system: 'anthropic', genai: 'anthropic' },
  auth: keyInHeader('x-api-key'),
  error: (status, bodyText, headers, api) => (api === 'anthropic' ? fromAnthropicUpstream(status, bodyText, headers) : fromAnthropicUpstreamToOpenAI(status, bodyText, headers)),
  config: { fields: anthropicFields },
};
