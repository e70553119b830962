/** Token estimates are sane: known counts for plain text, OpenAI's chat framing, tools and images. */
import { describe, expect, it } from 'vitest';
import { countTokens, countTokensWithin, EXACT_MS, encodingFor, estimateChatUsage, estimateEmbeddingUsage, estimatePromptTokens, steadyBudget } from '../../gateway/tokenizer.js';

describe('tokenizer', () => {
  it.each([
    ['gpt-4o-mini', 'o200k_base'],
    ['openai/gpt-4.1', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['gpt-5', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['claude-sonnet-4', 'cl100k_base'],
    [undefined, 'cl100k_base'],
  ])('%s uses %s', (model, enc) => expect(encodingFor(model)).toBe(enc));

  it('counts plain text with the model encoding; special tokens are text', () => {
    expect(countTokens('Hello, world!', 'gpt-4o')).toBe(4);
    expect(countTokens('Hello, world!', 'gpt-4')).toBe(4);
    expect(countTokens('', 'gpt-4o')).toBe(0);
    expect(countTokens('a <|endoftext|> b', 'gpt-4o')).toBeGreaterThan(3);
  });

  it('frames chat messages the way OpenAI counts them', () => {
    // "Hello" (1) + role "user" (1) + 3 per message + 3 reply priming
    expect(estimatePromptTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello' }] })).toBe(8);
    const named = estimatePromptTokens({ model: 'gpt-4o', messages: [{ role: 'user', name: 'bob', content: 'Hello' }] });
    expect(named).toBe(10);
  });

  const body = {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'You are terse.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
  };

  it('counts parts, images and tools, and marks the result estimated', () => {
    const u = estimateChatUsage(body, 'A cat on a sofa.', [{ id: 'c', name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(u.estimated).toBe(true);
    expect(u.promptTokens).toBeGreaterThan(85 + 10);
    expect(u.promptTokens).toBeLessThan(200);
    expect(u.completionTokens).toBeGreaterThan(countTokens('A cat on a sofa.', 'gpt-4o'));
    expect(u.totalTokens).toBe(u.promptTokens + u.completionTokens);
    expect(estimateChatUsage(body, '', '{"city":"Paris"}').completionTokens).toBeGreaterThan(0);
  });

  it('never throws on odd bodies', () => {
    expect(estimateChatUsage({}, '').promptTokens).toBe(3);
    expect(estimateChatUsage({ messages: 'nope', tools: {} } as Record<string, unknown>, 'x').completionTokens).toBe(1);
  });

  it('a text past the exact budget is sampled, marked, and close to the exact count', () => {
    const word = 'a'.repeat(1_000_000); // one "word": BPE merging is quadratic in it, so it is chunked
    const u = estimateChatUsage({ model: 'gpt-4o', messages: [{ role: 'user', content: word }] }, word);
    expect(u.sampled).toBe(true);
    expect(u.completionTokens).toBeGreaterThan(100_000);
    expect(u.completionTokens).toBeLessThan(150_000); // 8 characters a token
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20_000);
    const exact = 10 * 20_000; // 10 tokens per sentence
    const t = estimateChatUsage({ model: 'gpt-4o', messages: [] }, text);
    expect(Math.abs(t.completionTokens - exact) / exact).toBeLessThan(0.05);
    expect(estimateChatUsage({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, 'short').sampled).toBe(false);
  });

  it('embeddings: strings, lists and token arrays', () => {
    expect(estimateEmbeddingUsage({ model: 'text-embedding-3-small', input: 'Hello, world!' }).promptTokens).toBe(4);
    expect(estimateEmbeddingUsage({ input: ['a', 'b'] }).promptTokens).toBe(2);
    expect(estimateEmbeddingUsage({ input: [1, 2, 3] }).promptTokens).toBe(3);
    expect(estimateEmbeddingUsage({ input: [[1, 2], [3]] }).promptTokens).toBe(3);
  });

  it('a steady budget counts the same however long the machine takes: no deadline, the characters bound it', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(80);
    const steady = steadyBudget();
    const until = performance.now() + EXACT_MS + 5;
    while (performance.now() < until); // a machine slower than the time budget
    expect(steady.expired()).toBe(false);
    expect(countTokensWithin(text, 'gpt-4o', steady)).toBe(countTokens(text, 'gpt-4o'));
    expect(steady.sampled).toBe(false);
  });
});
