/** The passthrough body: the client's own bytes when nothing changes, re-serialized otherwise. */
import { describe, expect, it } from 'vitest';
import { passthroughChatBody } from '../../gateway/providers/openai/chat/openai_common.js';

const raw = '{ "model": "gpt-4o",  "messages": [{"role":"user","content":"hi"}], "x_unknown": 1 }';
const body = JSON.parse(raw) as Record<string, unknown>;
const streamRaw = '{"model":"gpt-4o","stream":true,"messages":[]}';
const streamBody = JSON.parse(streamRaw) as Record<string, unknown>;

describe('passthroughChatBody', () => {
  it.each([
    { name: 'same model: the raw text as is', body, model: 'gpt-4o', opts: { forceUsageOnStream: true, rawBody: raw }, want: raw },
    { name: 'model override: re-serialized with the new model', body, model: 'gpt-4o-2024', opts: { forceUsageOnStream: true, rawBody: raw }, want: JSON.stringify({ ...body, model: 'gpt-4o-2024' }) },
    {
      name: 'stream with forced usage: re-serialized',
      body: streamBody,
      model: 'gpt-4o',
      opts: { forceUsageOnStream: true, rawBody: streamRaw },
      want: JSON.stringify({ ...streamBody, stream_options: { include_usage: true } }),
    },
    { name: 'stream, usage not forced: raw', body: streamBody, model: 'gpt-4o', opts: { forceUsageOnStream: false, rawBody: streamRaw }, want: streamRaw },
    { name: 'no raw text: serialized', body, model: 'gpt-4o', opts: { forceUsageOnStream: true }, want: JSON.stringify(body) },
  ])('$name', ({ body: b, model, opts, want }) => {
    expect(passthroughChatBody(b, model, opts)).toBe(want);
  });
});
