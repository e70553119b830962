/**
 * Anthropic's SDK through tracegate's Messages endpoint to Claude on Vertex AI: the client's body
 * at rawPredict with anthropic_version and without model, its anthropic-beta header forwarded,
 * answers and streams as Anthropic sends them, and Vertex's quota error in Anthropic's envelope.
 */
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT } from '../../../helpers/providers/index.js';
import { useGoogleStack } from '../gemini/google-stack.js';

const stack = useGoogleStack({
  location: 'us-east5',
  documents: [
    `kind: Route
metadata: { name: claude }
spec:
  rules:
    - matches: [{ model: "claude-*" }]
      targets: [{ backend: vertex }]
      retry: { retries: 0 }`,
  ],
});
let client: Anthropic;
beforeAll(() => {
  client = new Anthropic({ baseURL: stack.g.url, apiKey: 'client', maxRetries: 0 });
});

describe('@anthropic-ai/sdk → tracegate /v1/messages → Claude on Vertex AI', () => {
  it('messages.create: rawPredict, the body moved to Vertex, the beta header kept', async () => {
    const r = await client.messages.create(
      { model: 'claude-sonnet-4@20250514', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } },
    );
    expect(r.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    const rec = stack.vtx.requests[0];
    expect(rec.path).toBe('/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict');
    expect(rec.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 100, system: 'Be brief.' });
    expect(rec.body.model).toBeUndefined();
    expect(rec.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(String(rec.headers.authorization)).toMatch(/^Bearer ya29\./);
  });

  it('messages.stream: streamRawPredict, the events as Anthropic sends them', async () => {
    const s = client.messages.stream({ model: 'claude-sonnet-4@20250514', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const final = await s.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    expect(stack.vtx.requests[0].path).toMatch(/:streamRawPredict$/);
  });

  it("Vertex's 429 quota error: a RateLimitError in Anthropic's envelope", async () => {
    stack.vtx.failNext(1, 429);
    const err = await client.messages.create({ model: 'claude-sonnet-4@20250514', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});
