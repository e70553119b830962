/**
 * Provider stand-ins for tests: loopback servers on 127.0.0.1 (port 0) that speak OpenAI's and
 * Anthropic's wire formats, with per-test controls. See openai.ts and anthropic.ts for usage.
 */
export { startOpenAIStub, openAIErrorBody, type OpenAIStub, type OpenAIStubOptions } from './openai.js';
export { startAnthropicStub, anthropicErrorBody, type AnthropicStub, type AnthropicStubOptions } from './anthropic.js';
export { DEFAULT_JSON, DEFAULT_TEXT, DEFAULT_TOOL_ARGS, defaultReply, type ReplyFn, type StubReply, type StubUsage } from './reply.js';
export type { Delays, FailSpec, RecordedRequest, StubServer } from './stub.js';
