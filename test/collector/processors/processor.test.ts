import { describe, expect, it } from 'vitest';
import type { ZodError } from 'zod';
import { buildProcessor, parseProcessorConfig, ProcessorConfigSchema, STAGES, hideFlagsFromEnv } from '../../../collector/processors/index.js';
import { perSpan } from '../../../collector/processors/context.js';
import { contentStage } from '../../../collector/processors/content/index.js';
import { span, stageContext, TEST_PRICES } from './fixtures.js';

describe('processor config', () => {
  it('defaults: nothing hidden, 32 KiB values, base64 images 32000, secrets scrubbed, signals on', () => {
    const c = parseProcessorConfig({}, {});
    expect(c).toMatchObject({ maxAttributeBytes: 32768, base64ImageMaxLength: 32000, scrubSecrets: true, qualitySignals: true });
    expect(Object.values(c.hide).every((v) => v === false)).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    ['env sets a flag', {}, { OPENINFERENCE_HIDE_INPUTS: 'true' }, true],
    ['env value is case-insensitive', {}, { OPENINFERENCE_HIDE_INPUTS: 'TRUE' }, true],
    ['config wins over env (false)', { hide: { inputs: false } }, { OPENINFERENCE_HIDE_INPUTS: 'true' }, false],
    ['config wins over env (true)', { hide: { inputs: true } }, { OPENINFERENCE_HIDE_INPUTS: 'false' }, true],
    ['other words leave the default', {}, { OPENINFERENCE_HIDE_INPUTS: 'yes please' }, false],
  ])('precedence config > env > default: %s', (_, raw, env, want) => {
    expect(parseProcessorConfig(raw, env).hide.inputs).toBe(want);
  });

  it('reads every OPENINFERENCE_HIDE_* variable, the deprecated EMBEDDING_VECTORS name too', () => {
    const names = [
      'INPUTS',
      'OUTPUTS',
      'INPUT_MESSAGES',
      'OUTPUT_MESSAGES',
      'INPUT_IMAGES',
      'INPUT_TEXT',
      'OUTPUT_TEXT',
      'LLM_INVOCATION_PARAMETERS',
      'LLM_TOOLS',
      'EMBEDDING_VECTORS',
      'EMBEDDINGS_TEXT',
      'PROMPTS',
      'CHOICES',
    ];
    const env = Object.fromEntries(names.map((n) => [`OPENINFERENCE_HIDE_${n}`, 'true']));
    const flags = hideFlagsFromEnv(env);
    expect(Object.keys(flags).sort()).toEqual(Object.keys(parseProcessorConfig({}, {}).hide).sort());
    expect(Object.values(flags).every(Boolean)).toBe(true);
    expect(hideFlagsFromEnv({ OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS: 'false', OPENINFERENCE_HIDE_EMBEDDING_VECTORS: 'true' }).embeddingsVectors).toBe(false);
  });

  it('reads OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH unless configured', () => {
    expect(parseProcessorConfig({}, { OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH: '500' }).base64ImageMaxLength).toBe(500);
    expect(parseProcessorConfig({ base64ImageMaxLength: 9 }, { OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH: '500' }).base64ImageMaxLength).toBe(9);
    expect(parseProcessorConfig({}, { OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH: 'lots' }).base64ImageMaxLength).toBe(32000);
  });

  it('reports every problem with its path', () => {
    const r = ProcessorConfigSchema.safeParse({ hide: { inputs: 'yes', bogus: true }, maxAttributeBytes: 10 });
    expect(r.success).toBe(false);
    const paths = (r.error as ZodError).issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['hide.inputs', 'hide', 'maxAttributeBytes']));
  });
});

describe('buildProcessor', () => {
  const genaiChat = () =>
    span({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.output.type': 'json',
      'gen_ai.usage.input_tokens': '1000000',
      'gen_ai.usage.output_tokens': '100000',
      'gen_ai.response.finish_reasons': '["stop"]',
      'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"give JSON"}]}]',
      'gen_ai.output.messages': '[{"role":"assistant","parts":[{"type":"text","content":"Sure: {"}]}]',
      'http.request.header.authorization': 'Bearer sk-abc',
    });

  it('lists the stages in one place, in order', () => {
    expect(STAGES.map(([name]) => name)).toEqual(['normalize', 'cost', 'quality', 'content']);
  });

  it('normalizes, prices, judges the content before hiding it, changing the given spans in place', () => {
    const p = buildProcessor(ProcessorConfigSchema.parse({ hide: { outputs: true } }), { prices: TEST_PRICES, env: {} });
    const input = [genaiChat()];
    const [out] = p.process(input);
    expect(out).toBe(input[0]);
    expect(out.attributes).toMatchObject({
      'openinference.span.kind': 'LLM',
      'llm.token_count.total': '1100000',
      'llm.cost.total': '3.5',
      'output.value': '__REDACTED__',
      'gen_ai.output.messages': '__REDACTED__',
      'http.request.header.authorization': '__REDACTED__',
      'llm.input_messages.0.message.content': 'give JSON',
    });
    expect(out.attributes).not.toHaveProperty(['llm.output_messages.0.message.content']);
    // The quality stage saw the output before the content stage hid it.
    expect(out.events.map((e) => e.attributes['gen_ai.evaluation.name'])).toEqual(['invalid_json']);
    expect(p.counters()).toMatchObject({ spans: 1, priced: 1, secretsScrubbed: 1, normalizedFrom: { genai: 1 }, signals: { invalid_json: 1 } });
  });

  it('reads hide flags from the environment it is given', () => {
    const p = buildProcessor(ProcessorConfigSchema.parse({}), { prices: TEST_PRICES, env: { OPENINFERENCE_HIDE_INPUTS: 'true' } });
    expect(p.process([genaiChat()])[0].attributes['gen_ai.input.messages']).toBe('__REDACTED__');
  });

  it('can run without quality signals, and loads the bundled price table by default', () => {
    const p = buildProcessor(ProcessorConfigSchema.parse({ qualitySignals: false }), { env: {} });
    const [out] = p.process([genaiChat()]);
    expect(out.events).toEqual([]);
    expect(Number(out.attributes['llm.cost.total'])).toBeGreaterThan(0);
  });

  it('counters() is a copy', () => {
    const p = buildProcessor(ProcessorConfigSchema.parse({}), { prices: TEST_PRICES, env: {} });
    p.counters().spans = 99;
    expect(p.counters().spans).toBe(0);
  });
});

describe('a span a stage throws on', () => {
  it('is passed on unchanged and counted; the rest of the batch is processed', () => {
    const ctx = stageContext();
    const stage = perSpan((s) => {
      if (s.name === 'bad') throw new Error('bug');
      return { ...s, name: 'done' };
    });
    const bad = span({}, { name: 'bad' });
    const out = stage([bad, span({})], ctx);
    expect(out[0]).toBe(bad);
    expect(out[1].name).toBe('done');
    expect(ctx.counters.stageErrors).toBe(1);
  });

  it('loses its attributes in the content stage rather than leak them', () => {
    const s = span({ 'http.request.header.authorization': 'Bearer x' });
    Object.defineProperty(s.attributes, 'poison', {
      enumerable: true,
      get: () => {
        throw new Error('bug');
      },
    });
    const ctx = stageContext();
    const [out] = contentStage([s], ctx);
    expect(out.attributes).toEqual({});
    expect(out.spanId).toBe('b7ad6b7169203331');
    expect(ctx.counters.stageErrors).toBe(1);
  });
});
