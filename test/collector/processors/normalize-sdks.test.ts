import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../../collector/model.js';
import { normalizeStage } from '../../../collector/processors/normalize/index.js';
import { span, stageContext } from './fixtures.js';

interface Case {
  name: string;
  attrs: Attributes;
  spanName?: string;
  expect: Attributes;
  absent?: string[];
}

const json = (v: unknown) => JSON.stringify(v);

const openllmetry: Case[] = [
  {
    name: 'OpenLLMetry chat span: flattened prompts/completions, tool calls, association properties',
    attrs: {
      'llm.request.type': 'chat',
      'gen_ai.system': 'OpenAI',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.prompt_tokens': '30',
      'gen_ai.usage.completion_tokens': '5',
      'llm.usage.total_tokens': '35',
      'gen_ai.prompt.0.role': 'system',
      'gen_ai.prompt.0.content': 'be brief',
      'gen_ai.prompt.1.role': 'user',
      'gen_ai.prompt.1.content': 'add 2 and 3',
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.finish_reason': 'tool_calls',
      'gen_ai.completion.0.tool_calls.0.id': 'call_9',
      'gen_ai.completion.0.tool_calls.0.name': 'add',
      'gen_ai.completion.0.tool_calls.0.arguments': '{"a":2,"b":3}',
      'traceloop.association.properties.session_id': 'sess-7',
      'traceloop.association.properties.user_id': 'u-1',
      'traceloop.association.properties.tier': 'gold',
    },
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'openai',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o-2024-08-06',
      'llm.token_count.prompt': '30',
      'llm.token_count.completion': '5',
      'llm.token_count.total': '35',
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.1.message.content': 'add 2 and 3',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'call_9',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'add',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"a":2,"b":3}',
      'llm.finish_reason': 'tool_calls',
      'session.id': 'sess-7',
      'user.id': 'u-1',
      metadata: json({ session_id: 'sess-7', user_id: 'u-1', tier: 'gold' }),
      'tracegate.normalized_from': 'genai,openllmetry',
    },
  },
  {
    name: 'OpenLLMetry Anthropic: uncached prompt_tokens beside cache_read/cache_creation are added up',
    attrs: {
      'llm.request.type': 'chat',
      'gen_ai.system': 'Anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-20250514',
      'gen_ai.usage.prompt_tokens': '10',
      'gen_ai.usage.cache_read_input_tokens': '2000',
      'gen_ai.usage.cache_creation_input_tokens': '500',
      'gen_ai.usage.completion_tokens': '100',
    },
    expect: {
      'llm.token_count.prompt': '2510',
      'llm.token_count.prompt_details.cache_read': '2000',
      'llm.token_count.prompt_details.cache_write': '500',
      'llm.token_count.total': '2610',
    },
  },
  {
    name: 'OpenLLMetry Anthropic with a reported total that shows the input left the cache out',
    attrs: {
      'llm.request.type': 'chat',
      'gen_ai.system': 'Anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-20250514',
      'gen_ai.usage.prompt_tokens': '800',
      'gen_ai.usage.cache_read_input_tokens': '300',
      'gen_ai.usage.completion_tokens': '50',
      'llm.usage.total_tokens': '1150',
    },
    expect: { 'llm.token_count.prompt': '1100', 'llm.token_count.total': '1150' },
  },
  {
    name: 'OpenLLMetry before the GenAI names: llm.vendor, llm.prompts/completions, llm.usage',
    attrs: {
      'llm.request.type': 'chat',
      'llm.vendor': 'OpenAI',
      'llm.request.model': 'gpt-4o',
      'llm.usage.prompt_tokens': '11',
      'llm.usage.completion_tokens': '4',
      'llm.usage.total_tokens': '15',
      'llm.prompts.0.role': 'user',
      'llm.prompts.0.content': 'hi',
      'llm.completions.0.role': 'assistant',
      'llm.completions.0.content': 'hello',
      'llm.completions.0.finish_reason': 'stop',
    },
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'openai',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o',
      'llm.token_count.total': '15',
      'llm.input_messages.0.message.content': 'hi',
      'llm.output_messages.0.message.content': 'hello',
      'llm.finish_reason': 'stop',
      'tracegate.normalized_from': 'openllmetry',
    },
  },
  {
    name: 'OpenLLMetry workflow: CHAIN with entity input/output',
    attrs: { 'traceloop.span.kind': 'workflow', 'traceloop.entity.name': 'joke', 'traceloop.entity.input': '{"args":[]}', 'traceloop.entity.output': '"ha"' },
    expect: { 'openinference.span.kind': 'CHAIN', 'input.value': '{"args":[]}', 'input.mime_type': 'application/json', 'output.value': '"ha"' },
  },
  {
    name: 'OpenLLMetry agent: AGENT named by the entity',
    attrs: { 'traceloop.span.kind': 'agent', 'traceloop.entity.name': 'researcher' },
    expect: { 'openinference.span.kind': 'AGENT', 'agent.name': 'researcher' },
  },
  {
    name: 'OpenLLMetry tool: TOOL named by the entity',
    attrs: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'search', 'traceloop.entity.input': 'q' },
    expect: { 'openinference.span.kind': 'TOOL', 'tool.name': 'search', 'input.value': 'q', 'input.mime_type': 'text/plain' },
  },
  {
    name: 'OpenLLMetry embedding request type',
    attrs: { 'llm.request.type': 'embedding', 'gen_ai.system': 'OpenAI', 'gen_ai.request.model': 'text-embedding-3-small', 'gen_ai.usage.prompt_tokens': '9' },
    expect: { 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'text-embedding-3-small', 'llm.token_count.prompt': '9' },
  },
];

const vercel: Case[] = [
  {
    name: 'AI SDK v4 doGenerate: promptTokens/completionTokens, prompt messages, response text, telemetry metadata',
    attrs: {
      'ai.operationId': 'ai.generateText.doGenerate',
      'ai.model.id': 'gpt-4o',
      'ai.model.provider': 'openai.chat',
      'ai.usage.promptTokens': '20',
      'ai.usage.completionTokens': '5',
      'ai.prompt.format': 'messages',
      'ai.prompt.messages': json([{ role: 'system', content: 'be kind' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }]),
      'ai.response.text': 'hello',
      'ai.response.finishReason': 'stop',
      'ai.response.model': 'gpt-4o-2024-08-06',
      'ai.settings.maxTokens': '100',
      'ai.telemetry.functionId': 'greet',
      'ai.telemetry.metadata.sessionId': 'abc',
      'ai.telemetry.metadata.userId': 'u2',
      'gen_ai.system': 'openai.chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.prompt_tokens': '20',
      'gen_ai.usage.completion_tokens': '5',
    },
    spanName: 'ai.generateText.doGenerate greet',
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'openai',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o-2024-08-06',
      'llm.request.model_name': 'gpt-4o',
      'llm.response.model_name': 'gpt-4o-2024-08-06',
      'llm.token_count.prompt': '20',
      'llm.token_count.completion': '5',
      'llm.token_count.total': '25',
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'be kind',
      'llm.input_messages.1.message.content': 'hi',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': 'hello',
      'output.value': 'hello',
      'llm.finish_reason': 'stop',
      'llm.invocation_parameters': json({ max_tokens: 100 }),
      'session.id': 'abc',
      'user.id': 'u2',
      metadata: json({ sessionId: 'abc', userId: 'u2', functionId: 'greet' }),
      'tracegate.normalized_from': 'genai,vercel',
    },
  },
  {
    name: 'AI SDK v5 doStream on Anthropic: uncached inputTokens + cachedInputTokens + cache creation from provider metadata',
    attrs: {
      'ai.operationId': 'ai.streamText.doStream',
      'ai.model.id': 'claude-sonnet-4-20250514',
      'ai.model.provider': 'anthropic.messages',
      'ai.usage.inputTokens': '50',
      'ai.usage.outputTokens': '30',
      'ai.usage.totalTokens': '80',
      'ai.usage.cachedInputTokens': '20',
      'ai.response.providerMetadata': json({ anthropic: { cacheCreationInputTokens: 200 } }),
      'ai.response.finishReason': 'tool-calls',
      'ai.response.toolCalls': json([{ toolCallId: 't1', toolName: 'weather', input: { city: 'Paris' } }]),
    },
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'anthropic',
      'llm.system': 'anthropic',
      'llm.token_count.prompt': '270',
      'llm.token_count.prompt_details.cache_read': '20',
      'llm.token_count.prompt_details.cache_write': '200',
      'llm.token_count.completion': '30',
      'llm.token_count.total': '300',
      'llm.output_messages.0.message.tool_calls.0.tool_call.id': 't1',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'weather',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': json({ city: 'Paris' }),
      'output.mime_type': 'application/json',
    },
  },
  {
    name: 'AI SDK v5 on OpenAI: inputTokens already include cachedInputTokens, outputTokens include reasoning',
    attrs: {
      'ai.operationId': 'ai.generateText.doGenerate',
      'ai.model.id': 'o3',
      'ai.model.provider': 'openai.responses',
      'ai.usage.inputTokens': '1000',
      'ai.usage.cachedInputTokens': '400',
      'ai.usage.outputTokens': '300',
      'ai.usage.reasoningTokens': '100',
      'ai.usage.totalTokens': '1300',
    },
    expect: { 'llm.token_count.prompt': '1000', 'llm.token_count.completion': '300', 'llm.token_count.completion_details.reasoning': '100', 'llm.token_count.total': '1300' },
  },
  {
    name: 'AI SDK on Gemini: a total showing reasoning outside outputTokens adds it',
    attrs: {
      'ai.operationId': 'ai.generateText.doGenerate',
      'ai.model.id': 'gemini-2.5-flash',
      'ai.model.provider': 'google.generative-ai',
      'ai.usage.inputTokens': '10',
      'ai.usage.outputTokens': '20',
      'ai.usage.reasoningTokens': '70',
      'ai.usage.totalTokens': '100',
    },
    expect: { 'llm.system': 'vertexai', 'llm.provider': 'google', 'llm.token_count.completion': '90', 'llm.token_count.total': '100' },
  },
  {
    name: 'AI SDK outer generateText span: CHAIN with prompt and text, its summed usage not counted',
    attrs: { 'ai.operationId': 'ai.generateText', 'ai.model.id': 'gpt-4o', 'ai.prompt': json({ prompt: 'hi' }), 'ai.response.text': 'hello', 'ai.usage.promptTokens': '20', 'ai.usage.completionTokens': '5' },
    expect: { 'openinference.span.kind': 'CHAIN', 'input.value': json({ prompt: 'hi' }), 'output.value': 'hello' },
    absent: ['llm.token_count.prompt', 'llm.model_name'],
  },
  {
    name: 'AI SDK v4 tool call: args/result',
    attrs: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'weather', 'ai.toolCall.id': 'call_1', 'ai.toolCall.args': '{"city":"Oslo"}', 'ai.toolCall.result': '"rain"' },
    expect: { 'openinference.span.kind': 'TOOL', 'tool.name': 'weather', 'tool_call.id': 'call_1', 'input.value': '{"city":"Oslo"}', 'output.value': '"rain"' },
  },
  {
    name: 'AI SDK v5 tool call: input/output, kind from the span name',
    spanName: 'ai.toolCall weather',
    attrs: { 'ai.toolCall.name': 'weather', 'ai.toolCall.id': 'call_2', 'ai.toolCall.input': '{"city":"Rome"}', 'ai.toolCall.output': 'sun' },
    expect: { 'openinference.span.kind': 'TOOL', 'tool.name': 'weather', 'input.value': '{"city":"Rome"}', 'output.value': 'sun' },
  },
  {
    name: 'AI SDK embed: doEmbed is the EMBEDDING call',
    attrs: { 'ai.operationId': 'ai.embed.doEmbed', 'ai.model.id': 'text-embedding-3-small', 'ai.model.provider': 'openai.embedding', 'ai.usage.tokens': '8', 'ai.values': '["hi"]' },
    expect: { 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'text-embedding-3-small', 'llm.token_count.prompt': '8' },
  },
  {
    name: 'AI SDK prompt messages with tool calls, tool results and images',
    attrs: {
      'ai.operationId': 'ai.generateText.doGenerate',
      'ai.model.id': 'gpt-4o',
      'ai.prompt.messages': json([
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', image: 'https://x/cat.png' }] },
        { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'k1', toolName: 'look', args: { deep: true } }] },
        { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'k1', toolName: 'look', result: { animal: 'cat' } }] },
      ]),
    },
    expect: {
      'llm.input_messages.0.message.content': 'what is this?',
      'llm.input_messages.0.message.contents.0.message_content.type': 'image',
      'llm.input_messages.0.message.contents.0.message_content.image.image.url': 'https://x/cat.png',
      'llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments': '{"deep":true}',
      'llm.input_messages.2.message.role': 'tool',
      'llm.input_messages.2.message.tool_call_id': 'k1',
      'llm.input_messages.2.message.content': '{"animal":"cat"}',
    },
  },
];

describe.each([
  ['OpenLLMetry', openllmetry],
  ['Vercel AI SDK', vercel],
])('normalize: %s', (_, cases) => {
  it.each(cases)('$name', ({ attrs, spanName, expect: want, absent }) => {
    const [out] = normalizeStage([span(attrs, spanName ? { name: spanName } : {})], stageContext());
    expect(out.attributes).toMatchObject(want);
    for (const k of absent ?? []) expect(out.attributes).not.toHaveProperty([k]);
    for (const [k, v] of Object.entries(attrs)) expect(out.attributes[k]).toBe(v);
  });
});
