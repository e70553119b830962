import { describe, expect, it } from 'vitest';
import { normalizeStage } from '../../../collector/processors/normalize/index.js';
import { json, span, stageContext, type NormalizeCase } from './fixtures.js';

type Case = NormalizeCase;

const cases: Case[] = [
  {
    name: 'OpenInference as the OpenAI instrumentation emits it: kept as sent, only the convention recorded',
    attrs: {
      'openinference.span.kind': 'LLM',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o-2024-08-06',
      'llm.invocation_parameters': json({ model: 'gpt-4o', temperature: 0 }),
      'llm.token_count.prompt': '100',
      'llm.token_count.completion': '20',
      'llm.token_count.total': '120',
      'llm.token_count.prompt_details.cache_read': '40',
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.content': 'hi',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': 'hello',
      'input.value': json({ messages: [{ role: 'user', content: 'hi' }] }),
      'input.mime_type': 'application/json',
      'tag.tags': '["a"]',
    },
    expect: { 'tracegate.normalized_from': 'openinference', 'llm.token_count.prompt': '100', 'llm.token_count.total': '120', 'llm.model_name': 'gpt-4o-2024-08-06' },
    absent: ['llm.provider'],
  },
  {
    name: 'OpenInference with a provider but no system: the system from provider and model',
    attrs: { 'openinference.span.kind': 'LLM', 'llm.provider': 'azure', 'llm.model_name': 'gpt-4o' },
    expect: { 'llm.system': 'openai', 'llm.provider': 'azure' },
  },
  {
    name: 'OpenInference without a total: the total is filled',
    attrs: { 'openinference.span.kind': 'LLM', 'llm.token_count.prompt': '7', 'llm.token_count.completion': '3' },
    expect: { 'llm.token_count.total': '10' },
  },
  {
    name: 'GenAI new names: Bedrock-hosted Claude, cached and cache-write tokens inside input_tokens, messages with parts',
    attrs: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aws.bedrock',
      'gen_ai.request.model': 'anthropic.claude-sonnet-4-20250514-v1:0',
      'gen_ai.response.model': 'anthropic.claude-sonnet-4-20250514-v1:0',
      'gen_ai.request.temperature': '0.2',
      'gen_ai.request.max_tokens': '512',
      'gen_ai.usage.input_tokens': '1000',
      'gen_ai.usage.output_tokens': '200',
      'gen_ai.usage.cache_read.input_tokens': '600',
      'gen_ai.usage.cache_creation.input_tokens': '100',
      'gen_ai.conversation.id': 'conv-1',
      'gen_ai.response.finish_reasons': '["tool_call"]',
      'gen_ai.input.messages': json([
        { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
        { role: 'user', parts: [{ type: 'text', content: 'weather?' }] },
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'c0', name: 'weather', arguments: { city: 'Oslo' } }] },
        { role: 'tool', parts: [{ type: 'tool_call_response', id: 'c0', response: 'rain' }] },
      ]),
      'gen_ai.output.messages': json([
        {
          role: 'assistant',
          parts: [
            { type: 'text', content: 'It rains.' },
            { type: 'tool_call', id: 'c1', name: 'umbrella', arguments: { n: 1 } },
          ],
          finish_reason: 'tool_call',
        },
      ]),
    },
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'aws',
      'llm.system': 'anthropic',
      'llm.model_name': 'anthropic.claude-sonnet-4-20250514-v1:0',
      'llm.token_count.prompt': '1000',
      'llm.token_count.completion': '200',
      'llm.token_count.total': '1200',
      'llm.token_count.prompt_details.cache_read': '600',
      'llm.token_count.prompt_details.cache_write': '100',
      'session.id': 'conv-1',
      'llm.finish_reason': 'tool_call',
      'llm.invocation_parameters': json({ max_tokens: 512, temperature: 0.2 }),
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'be brief',
      'llm.input_messages.2.message.tool_calls.0.tool_call.function.name': 'weather',
      'llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments': json({ city: 'Oslo' }),
      'llm.input_messages.3.message.role': 'tool',
      'llm.input_messages.3.message.tool_call_id': 'c0',
      'llm.input_messages.3.message.content': 'rain',
      'llm.output_messages.0.message.content': 'It rains.',
      'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'c1',
      'output.value': 'It rains.',
      'output.mime_type': 'text/plain',
      'input.mime_type': 'application/json',
      'gen_ai.provider.name': 'aws.bedrock',
      'tracegate.normalized_from': 'genai',
    },
  },
  {
    name: 'GenAI old names: gen_ai.system and prompt/completion tokens, no operation name',
    attrs: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.prompt_tokens': '50', 'gen_ai.usage.completion_tokens': '10' },
    expect: {
      'openinference.span.kind': 'LLM',
      'llm.provider': 'openai',
      'llm.system': 'openai',
      'llm.model_name': 'gpt-4o',
      'llm.request.model_name': 'gpt-4o',
      'llm.token_count.prompt': '50',
      'llm.token_count.completion': '10',
      'llm.token_count.total': '60',
    },
    absent: ['llm.token_count.prompt_details.cache_read'],
  },
  {
    name: 'GenAI reasoning tokens stay inside output_tokens',
    attrs: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'o3',
      'gen_ai.usage.input_tokens': '10',
      'gen_ai.usage.output_tokens': '500',
      'gen_ai.usage.reasoning.output_tokens': '400',
    },
    expect: { 'llm.token_count.completion': '500', 'llm.token_count.completion_details.reasoning': '400', 'llm.token_count.total': '510' },
  },
  {
    name: 'OpenLIT cost on the span (gen_ai.usage.cost) becomes llm.cost.total',
    attrs: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': '10',
      'gen_ai.usage.output_tokens': '2',
      'gen_ai.usage.cost': '0.00045',
    },
    expect: { 'llm.cost.total': '0.00045', 'llm.token_count.total': '12' },
  },
  {
    name: 'GenAI invoke_agent: AGENT with agent.name, its summed usage is not an LLM call',
    attrs: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'planner',
      'gen_ai.agent.id': 'a1',
      'gen_ai.usage.input_tokens': '10',
      'gen_ai.usage.output_tokens': '5',
      'gen_ai.conversation.id': 's9',
    },
    expect: { 'openinference.span.kind': 'AGENT', 'agent.name': 'planner', 'session.id': 's9' },
    absent: ['llm.token_count.prompt'],
  },
  {
    name: 'GenAI execute_tool: TOOL with name, call id, arguments and result',
    attrs: {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.description': 'web search',
      'gen_ai.tool.call.id': 'call_1',
      'gen_ai.tool.call.arguments': '{"q":"x"}',
      'gen_ai.tool.call.result': 'found',
    },
    expect: {
      'openinference.span.kind': 'TOOL',
      'tool.name': 'search',
      'tool.description': 'web search',
      'tool_call.id': 'call_1',
      'input.value': '{"q":"x"}',
      'input.mime_type': 'application/json',
      'output.value': 'found',
      'output.mime_type': 'text/plain',
    },
  },
  {
    name: "the gateway's per-attempt child span (GenAI keys, no kind on purpose) gets no kind, so a call counts once",
    attrs: { 'tracegate.backend': 'openai-main', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'tracegate.retries': '0' },
    expect: { 'tracegate.normalized_from': 'genai' },
    absent: ['openinference.span.kind', 'llm.model_name', 'llm.provider'],
  },
  {
    name: 'a model name alone (no provider, no operation) is not enough to call a span LLM',
    attrs: { 'gen_ai.request.model': 'gpt-4o' },
    expect: { 'tracegate.normalized_from': 'genai' },
    absent: ['openinference.span.kind'],
  },
  {
    name: 'GenAI tool name without an operation name still makes a TOOL span',
    attrs: { 'gen_ai.tool.name': 'calc' },
    expect: { 'openinference.span.kind': 'TOOL', 'tool.name': 'calc' },
  },
  {
    name: 'GenAI embeddings: EMBEDDING with embedding.model_name and no llm.system',
    attrs: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'text-embedding-3-small', 'gen_ai.usage.input_tokens': '12' },
    expect: { 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'text-embedding-3-small', 'llm.token_count.prompt': '12', 'llm.provider': 'openai' },
    absent: ['llm.system', 'llm.model_name'],
  },
  {
    name: 'GenAI retrieval and workflow operations',
    attrs: { 'gen_ai.operation.name': 'retrieval' },
    expect: { 'openinference.span.kind': 'RETRIEVER' },
  },
  {
    name: 'GenAI invoke_workflow is a CHAIN',
    attrs: { 'gen_ai.operation.name': 'invoke_workflow' },
    expect: { 'openinference.span.kind': 'CHAIN' },
  },
  {
    name: "both conventions on one span (the gateway's): OpenInference messages kept, GenAI ones not re-derived",
    attrs: {
      'openinference.span.kind': 'LLM',
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.content': 'from OI',
      'input.value': '{"messages":[]}',
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.input.messages': '[{"role":"system","parts":[{"type":"text","content":"from GenAI"}]}]',
    },
    expect: { 'llm.input_messages.0.message.content': 'from OI', 'tracegate.normalized_from': 'openinference,genai' },
    absent: ['llm.input_messages.1.message.role'],
  },
  {
    name: 'keys the span already has win over derived ones',
    attrs: { 'openinference.span.kind': 'LLM', 'llm.model_name': 'mine', 'gen_ai.request.model': 'theirs', 'gen_ai.provider.name': 'openai', 'session.id': 'keep', 'gen_ai.conversation.id': 'other' },
    expect: { 'llm.model_name': 'mine', 'session.id': 'keep', 'llm.provider': 'openai', 'tracegate.normalized_from': 'openinference,genai' },
  },
];

describe('normalize: conventions to OpenInference', () => {
  it.each(cases)('$name', ({ attrs, spanName, expect: want, absent }) => {
    const ctx = stageContext();
    const input = span(attrs, spanName ? { name: spanName } : {});
    const [out] = normalizeStage([input], ctx);
    expect(out.attributes).toMatchObject(want);
    for (const k of absent ?? []) expect(out.attributes).not.toHaveProperty([k]);
    // Original keys are kept; the given span is changed in place (see the processor README).
    for (const [k, v] of Object.entries(attrs)) if (!(k in want)) expect(out.attributes[k]).toBe(v);
    expect(out).toBe(input);
  });

  it('leaves a span of no known convention as it is (same object)', () => {
    const s = span({ 'http.request.method': 'GET', 'url.full': 'http://x/y' });
    expect(normalizeStage([s], stageContext())[0]).toBe(s);
  });

  it('counts the conventions seen', () => {
    const ctx = stageContext();
    normalizeStage([span({ 'gen_ai.system': 'openai', 'llm.request.type': 'chat' }), span({ 'ai.operationId': 'ai.toolCall' })], ctx);
    expect(ctx.counters.normalizedFrom).toEqual({ openinference: 0, genai: 1, openllmetry: 1, vercel: 1 });
  });
});

const providerCases: Array<[raw: string, model: string | undefined, provider: string, system: string | undefined]> = [
  ['openai', 'gpt-4o', 'openai', 'openai'],
  ['anthropic', 'claude-sonnet-4', 'anthropic', 'anthropic'],
  ['aws.bedrock', 'meta.llama3-70b-instruct-v1:0', 'aws', 'meta'],
  ['aws.bedrock', 'amazon.nova-pro-v1:0', 'aws', 'amazon'],
  ['gcp.vertex_ai', 'gemini-2.5-pro', 'google', 'vertexai'],
  ['gcp.gemini', 'gemini-2.5-flash', 'google', 'vertexai'],
  ['gcp.gen_ai', 'gemini-2.5-flash', 'google', 'vertexai'],
  ['azure.ai.openai', 'gpt-4o', 'azure', 'openai'],
  ['azure.ai.inference', 'Llama-3.3-70B-Instruct', 'azure', 'meta'],
  ['mistral_ai', 'mistral-large-latest', 'mistralai', 'mistralai'],
  ['x_ai', 'grok-4', 'xai', 'xai'],
  ['deepseek', 'deepseek-chat', 'deepseek', 'deepseek'],
  ['groq', 'llama-3.3-70b-versatile', 'groq', 'meta'],
  ['OpenAI', 'gpt-4o', 'openai', 'openai'], // OpenLLMetry spelling
  ['Bedrock', 'anthropic.claude-3-haiku', 'aws', 'anthropic'],
  ['openai.chat', 'gpt-4o', 'openai', 'openai'], // AI SDK provider ids
  ['anthropic.messages', 'claude-sonnet-4', 'anthropic', 'anthropic'],
  ['amazon-bedrock', 'anthropic.claude-3-haiku', 'aws', 'anthropic'],
  ['google.vertex.chat', 'gemini-2.5-pro', 'google', 'vertexai'],
  ['google.generative-ai', 'gemini-2.5-pro', 'google', 'vertexai'],
  ['azure-openai.chat', 'gpt-4o', 'azure', 'openai'],
  ['mistral.chat', 'mistral-small', 'mistralai', 'mistralai'],
  ['xai.chat', 'grok-3', 'xai', 'xai'],
  ['somecloud', 'unknown-model', 'somecloud', undefined],
];

describe('normalize: provider names between the conventions', () => {
  it.each(providerCases)('%s (%s) → provider %s, system %s', (raw, model, provider, system) => {
    const [out] = normalizeStage([span({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': raw, 'gen_ai.request.model': model ?? '' })], stageContext());
    expect(out.attributes['llm.provider']).toBe(provider);
    expect(out.attributes['llm.system']).toBe(system);
  });
});
