import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../../collector/model.js';
import type { HideFlag } from '../../../collector/processors/config.js';
import { contentStage } from '../../../collector/processors/content/index.js';
import { span, stageContext } from './fixtures.js';

const R = '__REDACTED__';
const IMG = 'llm.input_messages.0.message.contents.0.message_content.image.image.url';
const ALL: Attributes = {
  'llm.model_name': 'gpt-4o',
  'input.value': 'in',
  'input.mime_type': 'text/plain',
  'output.value': 'out',
  'output.mime_type': 'text/plain',
  'llm.input_messages.0.message.role': 'user',
  'llm.input_messages.0.message.content': 'hi',
  'llm.input_messages.0.message.contents.0.message_content.type': 'image',
  [IMG]: 'https://x/i.png',
  'llm.output_messages.0.message.role': 'assistant',
  'llm.output_messages.0.message.content': 'yo',
  'llm.invocation_parameters': '{"temperature":0}',
  'llm.tools.0.tool.json_schema': '{"name":"f"}',
  'embedding.embeddings.0.embedding.vector': '[0.1,0.2]',
  'embedding.embeddings.0.embedding.text': 'emb',
  'llm.prompts.0.prompt.text': 'p',
  'llm.choices.0.completion.text': 'c',
  'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
  'gen_ai.output.messages': '[{"role":"assistant","parts":[{"type":"text","content":"yo"}]}]',
  'gen_ai.prompt.0.role': 'user',
  'gen_ai.prompt.0.content': 'hi',
  'gen_ai.completion.0.content': 'yo',
  'ai.prompt.messages': '[{"role":"user","content":[{"type":"image","image":"https://x/i.png"}]}]',
  'ai.response.text': 'yo',
};
const IN_MSGS = Object.keys(ALL).filter((k) => k.startsWith('llm.input_messages.'));
const OUT_MSGS = Object.keys(ALL).filter((k) => k.startsWith('llm.output_messages.'));

const cases: Array<[flag: HideFlag, redacted: string[], dropped: string[]]> = [
  [
    'inputs',
    ['input.value', 'gen_ai.input.messages', 'ai.prompt.messages'],
    ['input.mime_type', ...IN_MSGS, 'gen_ai.prompt.0.role', 'gen_ai.prompt.0.content', 'llm.tools.0.tool.json_schema', 'llm.prompts.0.prompt.text'],
  ],
  ['outputs', ['output.value', 'gen_ai.output.messages', 'ai.response.text'], ['output.mime_type', ...OUT_MSGS, 'gen_ai.completion.0.content', 'llm.choices.0.completion.text']],
  ['inputMessages', ['gen_ai.input.messages', 'ai.prompt.messages'], [...IN_MSGS, 'gen_ai.prompt.0.role', 'gen_ai.prompt.0.content']],
  ['outputMessages', ['gen_ai.output.messages', 'ai.response.text'], [...OUT_MSGS, 'gen_ai.completion.0.content']],
  ['inputImages', [IMG, 'ai.prompt.messages'], []],
  ['inputText', ['llm.input_messages.0.message.content', 'gen_ai.prompt.0.content', 'gen_ai.input.messages', 'ai.prompt.messages'], []],
  ['outputText', ['llm.output_messages.0.message.content', 'gen_ai.completion.0.content', 'gen_ai.output.messages', 'ai.response.text'], []],
  ['llmInvocationParameters', [], ['llm.invocation_parameters']],
  ['llmTools', [], ['llm.tools.0.tool.json_schema']],
  ['embeddingsVectors', [], ['embedding.embeddings.0.embedding.vector']],
  ['embeddingsText', ['embedding.embeddings.0.embedding.text'], []],
  ['prompts', [], ['llm.prompts.0.prompt.text']],
  ['choices', [], ['llm.choices.0.completion.text']],
];

describe('content stage: OPENINFERENCE_HIDE_* flags', () => {
  it.each(cases)('hide.%s', (flag, redacted, dropped) => {
    const ctx = stageContext({ hide: { [flag]: true } });
    const [out] = contentStage([span(ALL)], ctx);
    const want: Attributes = {};
    for (const [k, v] of Object.entries(ALL)) if (!dropped.includes(k)) want[k] = redacted.includes(k) ? R : v;
    expect(out.attributes).toEqual(want);
    expect(ctx.counters.redacted).toBe(redacted.length + dropped.length);
  });

  it('no flag: the span passes unchanged (same object)', () => {
    const s = span(ALL);
    expect(contentStage([s], stageContext())[0]).toBe(s);
  });

  it('hides the message text of the deprecated GenAI per-message events', () => {
    const s = span(ALL, { events: [{ timeUnixNano: 1n, name: 'gen_ai.user.message', attributes: { content: 'secret plan', 'gen_ai.system': 'openai' } }] });
    const [out] = contentStage([s], stageContext({ hide: { inputMessages: true } }));
    expect(out.events[0].attributes).toEqual({ content: R, 'gen_ai.system': 'openai' });
  });

  it('redacts base64 images longer than the limit, keeps URLs and short data URLs', () => {
    const long = `data:image/png;base64,${'A'.repeat(200)}`;
    const attrs = {
      [IMG]: long,
      'llm.input_messages.1.message.contents.0.message_content.image.image.url': `https://x/${'a'.repeat(300)}`,
      'llm.input_messages.2.message.contents.0.message_content.image.image.url': 'data:image/png;base64,AAAA',
    };
    const [out] = contentStage([span(attrs)], stageContext({ base64ImageMaxLength: 100 }));
    expect(out.attributes).toEqual({ ...attrs, [IMG]: R });
  });
});

describe('content stage: attribute size limit', () => {
  const cut = (value: string) => contentStage([span({ big: value, small: 'ok' })], stageContext({ maxAttributeBytes: 256 }))[0];

  it.each([
    ['ASCII', 'a'.repeat(1000), 'a'.repeat(256)],
    ['two-byte characters (é)', 'é'.repeat(200), 'é'.repeat(128)],
    ['four-byte characters never split (emoji)', `x${'😀'.repeat(100)}`, `x${'😀'.repeat(63)}`],
    ['three-byte characters never split (CJK)', '漢'.repeat(100), '漢'.repeat(85)],
  ])('%s: cut on a character boundary and listed in tracegate.truncated', (_, value, want) => {
    const out = cut(value);
    expect(out.attributes.big).toBe(want);
    expect(Buffer.byteLength(out.attributes.big)).toBeLessThanOrEqual(256);
    expect(out.attributes.big).not.toContain('\uFFFD');
    expect(out.attributes.small).toBe('ok');
    expect(out.attributes['tracegate.truncated']).toBe('big');
  });

  it('a value exactly at the limit is kept whole', () => {
    const out = cut('é'.repeat(128));
    expect(out.attributes.big).toBe('é'.repeat(128));
    expect(out.attributes).not.toHaveProperty(['tracegate.truncated']);
  });

  it('event attributes are cut too and listed with their event index', () => {
    const s = span({ a: 'x'.repeat(300) }, { events: [{ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.stacktrace': 'y'.repeat(300) } }] });
    const ctx = stageContext({ maxAttributeBytes: 256 });
    const [out] = contentStage([s], ctx);
    expect(out.attributes['tracegate.truncated']).toBe('a,events.0.exception.stacktrace');
    expect(out.events[0].attributes['exception.stacktrace']).toHaveLength(256);
    expect(ctx.counters).toMatchObject({ truncatedValues: 2, truncatedSpans: 1 });
  });
});

describe('content stage: credentials never reach a table', () => {
  const secrets: Attributes = {
    'http.request.header.authorization': 'Bearer abc',
    'http.request.header.x-api-key': 'k',
    'http.request.header.cookie': 'sid=1',
    'openai.api_key': 'sk-live',
    'llm.invocation_parameters': '{"api_key":"sk-proj-abcdefghijklmnopqrstuvwxyz012345","temperature":0}',
    'input.value': 'curl -H "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345" https://api',
    'url.full': 'https://generativelanguage.googleapis.com/v1?key=AIzaSyA1234567890abcdefghijklmnopqrstuv',
    'aws.note': 'key AKIAABCDEFGHIJKLMNOP used',
    'aws.session': 'ASIAABCDEFGHIJKLMNOP',
    'slack.note': 'token xoxb-1234567890-abcdef',
    'gh.note': 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
  };
  const harmless: Attributes = {
    'llm.token_count.prompt': '12',
    'tracegate.key.name': 'team-a',
    'output.value': 'the bearer of bad news',
    'llm.model_name': 'gpt-4o',
  };

  it('masks credential keys and tokens in values, leaves the rest', () => {
    const ctx = stageContext();
    const [out] = contentStage([span({ ...secrets, ...harmless })], ctx);
    expect(out.attributes).toEqual({
      ...harmless,
      'http.request.header.authorization': R,
      'http.request.header.x-api-key': R,
      'http.request.header.cookie': R,
      'openai.api_key': R,
      'llm.invocation_parameters': `{"api_key":"${R}","temperature":0}`,
      'input.value': `curl -H "Authorization: Bearer ${R}" https://api`,
      'url.full': `https://generativelanguage.googleapis.com/v1?key=${R}`,
      'aws.note': `key ${R} used`,
      'aws.session': R,
      'slack.note': `token ${R}`,
      'gh.note': R,
    });
    expect(ctx.counters.secretsScrubbed).toBe(Object.keys(secrets).length);
  });

  it('scrubs resource and event attributes as well', () => {
    const s = span(
      {},
      {
        resourceAttributes: { 'service.name': 'app', 'deployment.api_key': 'x' },
        events: [{ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.message': '401 for Bearer abcdefghijklmnopqrstuvwxyz' } }],
      },
    );
    const [out] = contentStage([s], stageContext());
    expect(out.resourceAttributes).toEqual({ 'service.name': 'app', 'deployment.api_key': R });
    expect(out.events[0].attributes['exception.message']).toBe(`401 for Bearer ${R}`);
  });

  it('can be turned off', () => {
    const s = span(secrets);
    expect(contentStage([s], stageContext({ scrubSecrets: false }))[0]).toBe(s);
  });
});
