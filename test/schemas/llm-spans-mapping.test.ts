import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerNames } from '../../collector/processors/normalize/providers.js';
import { computeCost, indexPrices, loadPriceTable } from '../../schemas/prices.js';
import { insertDecided, makeSpan, ns, oiSpan } from '../helpers/spans.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/** Typed values the llm_spans view derives in SQL, checked against the TypeScript that does the same. */
describe('llm_spans mapping', () => {
  let store: TempStore;
  const prices = indexPrices(loadPriceTable());
  beforeAll(async () => {
    store = await tempStore();
  });
  afterAll(async () => store?.destroy());

  const row = async (attributes: Record<string, string>) => {
    const span = makeSpan({ attributes });
    await insertDecided(store, [span]);
    const [r] = await store.rows<Record<string, unknown>>('SELECT * FROM tracegate.llm_spans WHERE span_id = {s:String}', { s: span.spanId });
    return r;
  };

  const PRICED: [string, string, { prompt: number; completion: number; cacheRead?: number; cacheWrite?: number; reasoning?: number }][] = [
    ['LLM', 'gpt-4o-mini-2024-07-18', { prompt: 1000, completion: 200, cacheRead: 400 }],
    ['LLM', 'openai/gpt-4.1', { prompt: 50, completion: 500, reasoning: 300 }],
    ['LLM', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0', { prompt: 3000, completion: 100, cacheRead: 1000, cacheWrite: 1000 }],
    ['LLM', 'claude-sonnet-4@20250514', { prompt: 10, completion: 10 }],
    ['LLM', 'o3-mini', { prompt: 100, completion: 900, reasoning: 800 }],
    ['EMBEDDING', 'text-embedding-3-small', { prompt: 12345, completion: 0 }],
  ];
  it.each(PRICED)('prices a %s span of %s as computeCost does', async (kind, model, usage) => {
    const r = await row({
      'openinference.span.kind': kind,
      'llm.model_name': model,
      'llm.token_count.prompt': String(usage.prompt),
      'llm.token_count.completion': String(usage.completion),
      ...(usage.cacheRead ? { 'llm.token_count.prompt_details.cache_read': String(usage.cacheRead) } : {}),
      ...(usage.cacheWrite ? { 'llm.token_count.prompt_details.cache_write': String(usage.cacheWrite) } : {}),
      ...(usage.reasoning ? { 'llm.token_count.completion_details.reasoning': String(usage.reasoning) } : {}),
    });
    const price = prices.find(model);
    expect(price, model).toBeDefined();
    const want = computeCost(price!, usage);
    expect(r.cost_source).toBe('price_table');
    expect(Number(r.cost_prompt)).toBeCloseTo(want.prompt, 12);
    expect(Number(r.cost_completion)).toBeCloseTo(want.completion, 12);
    expect(Number(r.cost_total)).toBeCloseTo(want.total, 12);
  });

  it('leaves an unknown model unpriced and keeps a cost the span carries', async () => {
    const unknown = await row({ 'openinference.span.kind': 'LLM', 'llm.model_name': 'my-own-model', 'llm.token_count.prompt': '10' });
    expect([unknown.cost_source, unknown.cost_total]).toEqual(['none', 0]);
    const carried = await row({ 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o', 'llm.cost.prompt': '0.5', 'llm.cost.completion': '0.25' });
    expect([carried.cost_source, carried.cost_prompt, carried.cost_completion, carried.cost_total]).toEqual(['span', 0.5, 0.25, 0.75]);
  });

  const LLM = { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o-mini' };
  const GATEWAY = { ...LLM, 'tracegate.origin': 'gateway' };
  it.each([
    ['a gateway span', { ...GATEWAY, 'tracegate.team': 'search', 'tracegate.key': 'search-prod' }, ['search', 'search-prod']],
    ['a gateway span with the old key attribute', { ...GATEWAY, 'tracegate.team': 'search', 'tracegate.key.name': 'old-name' }, ['search', 'old-name']],
    ['a gateway span with both key attributes', { ...GATEWAY, 'tracegate.key': 'new-name', 'tracegate.key.name': 'old-name' }, ['', 'new-name']],
    ['a gateway span without a key', GATEWAY, ['', '']],
    ['an application span naming a team and key', { ...LLM, 'tracegate.team': 'search', 'tracegate.key': 'search-prod' }, ['', '']],
  ] as const)('reads team and key of %s', async (_name, attributes, want) => {
    const r = await row({ ...attributes });
    expect([r.team, r.key_name]).toEqual(want);
  });

  const PROVIDERS = [
    'openai',
    'anthropic',
    'aws.bedrock',
    'azure.ai.openai',
    'azure.ai.inference',
    'gcp.vertex_ai',
    'gcp.gemini',
    'gcp.gen_ai',
    'mistral_ai',
    'x_ai',
    'deepseek',
    'cohere',
    'groq',
    'ibm.watsonx.ai',
    'perplexity',
    'openai.chat',
    'Anthropic',
    'google.vertex.chat',
    'some.new.host',
  ];
  it.each(PROVIDERS)('maps gen_ai.provider.name %s as the collector does', async (name) => {
    const model = 'claude-3-5-haiku';
    const r = await row({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': name, 'gen_ai.request.model': model });
    const want = providerNames(name, model);
    expect([r.span_kind, r.provider, r.system]).toEqual(['LLM', want.provider, want.system ?? '']);
  });

  it('reads the old GenAI names: gen_ai.system and gen_ai.usage.prompt_tokens / completion_tokens', async () => {
    const r = await row({
      'gen_ai.operation.name': 'text_completion',
      'gen_ai.system': 'mistral_ai',
      'gen_ai.request.model': 'mistral-large',
      'gen_ai.usage.prompt_tokens': '7',
      'gen_ai.usage.completion_tokens': '3',
    });
    expect([r.provider, r.system, r.prompt_tokens, r.completion_tokens, r.total_tokens]).toEqual(['mistralai', 'mistralai', 7, 3, 10]);
  });

  const KINDS: [string, string][] = [
    ['chat', 'LLM'],
    ['generate_content', 'LLM'],
    ['embeddings', 'EMBEDDING'],
    ['execute_tool', 'TOOL'],
    ['invoke_agent', 'AGENT'],
    ['create_agent', 'AGENT'],
    ['retrieval', 'RETRIEVER'],
    ['invoke_workflow', 'CHAIN'],
  ];
  it.each(KINDS)('infers kind from gen_ai.operation.name %s → %s', async (op, kind) => {
    const r = await row({ 'gen_ai.operation.name': op });
    expect(r.span_kind).toBe(kind);
  });

  it('keeps spans that are neither OpenInference nor GenAI out, and gateway spans without a kind', async () => {
    const plain = makeSpan({ attributes: { 'http.method': 'GET' } });
    const attempt = makeSpan({ attributes: { 'tracegate.origin': 'gateway', 'gen_ai.operation.name': 'chat' } });
    const prompt = oiSpan('PROMPT');
    await insertDecided(store, [plain, attempt, prompt]);
    const rows = await store.rows('SELECT span_id FROM tracegate.llm_spans WHERE span_id IN {ids:Array(String)}', { ids: [plain.spanId, attempt.spanId, prompt.spanId] });
    expect(rows).toEqual([]);
  });

  it('reads finish reasons, TTFT in seconds, estimated tokens, errors from exception events', async () => {
    const start = ns(Date.now());
    const span = makeSpan({
      start,
      status: 'Error',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.response.finish_reasons': '["length","stop"]',
        'gen_ai.response.time_to_first_chunk': '0.25',
        'tracegate.usage.estimated': 'true',
        'gen_ai.request.stream': 'true',
      },
      events: [{ timeUnixNano: start + 1n, name: 'exception', attributes: { 'exception.type': 'TimeoutError' } }],
    });
    await insertDecided(store, [span]);
    const [r] = await store.rows<Record<string, unknown>>('SELECT finish_reason, ttft_ms, tokens_estimated, streaming, status_code, error_type FROM tracegate.llm_spans WHERE span_id = {s:String}', {
      s: span.spanId,
    });
    expect(r).toEqual({ finish_reason: 'length', ttft_ms: 250, tokens_estimated: 1, streaming: 1, status_code: 'Error', error_type: 'TimeoutError' });
  });
});
