/**
 * The parts of an evaluation that need no network: reading a judge's answer, the code checks,
 * the prompts the templates render, and sampling (exact in expectation, reproducible).
 */
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../../collector/evaluators/checks.js';
import { evaluate } from '../../../collector/evaluators/runner.js';
import { parseVerdict } from '../../../collector/evaluators/parse.js';
import { sampled, samplingThreshold } from '../../../collector/evaluators/select.js';
import { subjectOf, type Subject } from '../../../collector/evaluators/subject.js';
import { missingInput, renderPrompt, rubricOf } from '../../../collector/evaluators/templates.js';
import { evaluatorSpec, type CodeSpec, type EvaluatorConfig, type LlmJudgeSpec } from '../../../schemas/evaluator.js';

const judgeSpec = (extra: object = {}) => evaluatorSpec.parse({ type: 'llm-judge', template: 'toxicity', judge: { model: 'm' }, ...extra }) as LlmJudgeSpec;
const codeSpec = (extra: object) => evaluatorSpec.parse({ type: 'code', ...extra }) as CodeSpec;

function subject(o: Partial<Subject> = {}): Subject {
  return { traceId: 't', spanId: 's', kind: 'LLM', model: 'm', input: 'q', output: 'a', toolCalls: [], documents: [], reference: '', toolSchemas: new Map(), ...o };
}

describe('a judge answer', () => {
  const toxicity = rubricOf(judgeSpec());
  const scale = rubricOf(judgeSpec({ template: 'custom', prompt: '{{output}}', scale: { min: 1, max: 5 }, pass: { atLeast: 4 } }));
  const ok: [string, string, string, number, boolean][] = [
    ['JSON', '{"label":"non-toxic","explanation":"polite"}', 'non-toxic', 1, true],
    ['JSON in a fence after prose', 'Sure.\n```json\n{"label": "toxic", "explanation": "insults"}\n```', 'toxic', 0, false],
    ['a bare label', 'toxic', 'toxic', 0, false],
    ['a bare label with punctuation and case', ' "Non-Toxic". ', 'non-toxic', 1, true],
    ['a sentence naming one label', 'The text is non-toxic overall.', 'non-toxic', 1, true],
  ];
  it.each(ok)('reads %s', (_w, text, label, score, passed) => {
    const r = parseVerdict(toxicity, text);
    expect(r).toMatchObject({ ok: true, verdict: { label, score, passed } });
  });
  const bad: [string, string][] = [
    ['nothing', '   '],
    ['garbage', 'banana'],
    ['an unknown JSON label', '{"label":"spicy"}'],
    ['two labels at once', 'it is toxic and non-toxic'],
    ['JSON without a label', '{"explanation":"hmm"}'],
  ];
  it.each(bad)('refuses %s', (_w, text) => expect(parseVerdict(toxicity, text).ok).toBe(false));

  it('reads numbers on a scale and refuses those outside it', () => {
    expect(parseVerdict(scale, '{"score": 4, "explanation": "good"}')).toMatchObject({ ok: true, verdict: { score: 4, passed: true, explanation: 'good' } });
    expect(parseVerdict(scale, '2 — weak')).toMatchObject({ ok: true, verdict: { score: 2, passed: false } });
    expect(parseVerdict(scale, '{"score": 9}')).toMatchObject({ ok: false, reason: 'the score 9 is outside 1..5' });
    expect(parseVerdict(scale, 'great')).toMatchObject({ ok: false });
  });
});

describe('templates', () => {
  it('fill the span fields in once, never re-reading placeholders a value contains', () => {
    const r = rubricOf(judgeSpec({ template: 'correctness' }));
    const p = renderPrompt(r, subject({ input: 'What is {{reference}}?', reference: 'Paris', output: 'Lyon' }));
    expect(p).toContain('[Question]: What is {{reference}}?');
    expect(p).toContain('[Reference]: Paris');
    expect(p).toContain('[Answer]: Lyon');
  });
  it('skip a span without what the template needs', () => {
    expect(missingInput(rubricOf(judgeSpec({ template: 'correctness' })), subject())).toMatch(/no reference/);
    expect(missingInput(rubricOf(judgeSpec({ template: 'hallucination' })), subject())).toMatch(/no retrieved documents/);
    expect(missingInput(rubricOf(judgeSpec({ template: 'hallucination' })), subject({ documents: ['d'] }))).toBeUndefined();
  });
  it('read the conversation, the answer, tool calls, documents, reference and schemas from OpenInference attributes', () => {
    const s = subjectOf({
      traceId: 't',
      spanId: 's',
      kind: 'LLM',
      model: 'm',
      attributes: {
        'llm.input_messages.0.message.role': 'system',
        'llm.input_messages.0.message.content': 'Be brief.',
        'llm.input_messages.1.message.role': 'user',
        'llm.input_messages.1.message.content': 'Weather?',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'weather',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"city":"Paris"}',
        'llm.tools.0.tool.json_schema': JSON.stringify({ type: 'function', function: { name: 'weather', parameters: { type: 'object', required: ['city'] } } }),
        'llm.invocation_parameters': JSON.stringify({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }),
        metadata: JSON.stringify({ reference: 'sunny' }),
        'retrieval.documents.1.document.content': 'second',
        'retrieval.documents.0.document.content': 'first',
      },
    });
    expect(s.input).toBe('system: Be brief.\nuser: Weather?');
    expect(s.toolCalls).toEqual([{ name: 'weather', arguments: '{"city":"Paris"}' }]);
    expect(s.toolSchemas.get('weather')).toEqual({ type: 'object', required: ['city'] });
    expect(s.responseSchema).toEqual({ type: 'object' });
    expect(s.reference).toBe('sunny');
    expect(s.documents).toEqual(['first', 'second']);
  });
});

describe('code checks', () => {
  const verdict = async (spec: CodeSpec, s: Subject) => {
    const r = await runCheck(spec, s);
    return r.kind === 'verdict' ? r.label : `skipped: ${r.reason}`;
  };
  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
  const cases: [string, CodeSpec, Partial<Subject>, string][] = [
    ['valid JSON', codeSpec({ check: 'json' }), { output: '{"a":1}' }, 'pass'],
    ['invalid JSON', codeSpec({ check: 'json' }), { output: '{"a":' }, 'fail'],
    ['conforms to response_format', codeSpec({ check: 'json-schema' }), { output: '{"answer":"x"}', responseSchema: schema }, 'pass'],
    ['breaks response_format', codeSpec({ check: 'json-schema' }), { output: '{"answer":1}', responseSchema: schema }, 'fail'],
    ['no schema to check', codeSpec({ check: 'json-schema' }), { output: '{}' }, 'skipped: no schema: the evaluator sets none and the request asked for no json_schema response_format'],
    ['the evaluator schema wins', codeSpec({ check: 'json-schema', schema: { type: 'array' } }), { output: '[]', responseSchema: schema }, 'pass'],
    [
      'tool arguments valid',
      codeSpec({ check: 'tool-args' }),
      { toolCalls: [{ name: 'w', arguments: '{"city":"Paris"}' }], toolSchemas: new Map([['w', { type: 'object', required: ['city'] }]]) },
      'pass',
    ],
    [
      'tool arguments missing a field',
      codeSpec({ check: 'tool-args' }),
      { toolCalls: [{ name: 'w', arguments: '{}' }], toolSchemas: new Map([['w', { type: 'object', required: ['city'] }]]) },
      'fail',
    ],
    ['tool arguments not JSON', codeSpec({ check: 'tool-args' }), { toolCalls: [{ name: 'w', arguments: '{city' }], toolSchemas: new Map([['w', { type: 'object' }]]) }, 'fail'],
    ['a tool the request did not offer', codeSpec({ check: 'tool-args' }), { toolCalls: [{ name: 'x', arguments: '{}' }], toolSchemas: new Map([['w', { type: 'object' }]]) }, 'fail'],
    ['no tool calls', codeSpec({ check: 'tool-args' }), {}, 'skipped: the span has no tool calls'],
    ['regex match', codeSpec({ check: 'regex', pattern: '^order #\\d+$', flags: 'i' }), { output: 'ORDER #12' }, 'pass'],
    ['regex miss', codeSpec({ check: 'regex', pattern: '^order #\\d+$' }), { output: 'order 12' }, 'fail'],
    ['contains', codeSpec({ check: 'contains', value: 'Paris', ignoreCase: true }), { output: 'in paris' }, 'pass'],
    ['does not contain', codeSpec({ check: 'contains', value: 'Paris' }), { output: 'in paris' }, 'fail'],
    ['length within', codeSpec({ check: 'length', min: 2, max: 5 }), { output: 'héllo' }, 'pass'],
    ['too long', codeSpec({ check: 'length', max: 3 }), { output: 'hello' }, 'fail'],
    ['too short', codeSpec({ check: 'length', min: 3 }), { output: '' }, 'fail'],
  ];
  it.each(cases)('%s', async (_w, spec, s, expected) => expect(await verdict(spec, subject(s))).toBe(expected));

  it('a schema that cannot be compiled skips instead of failing the answer', async () => {
    expect(await verdict(codeSpec({ check: 'json-schema', schema: { type: 'no-such-type' } }), subject({ output: '{}' }))).toMatch(/^skipped: the schema cannot be used/);
  });

  it('a pattern that backtracks for ever on an answer shaped against it is stopped: an evaluation error, the event loop free, the next match fine', async () => {
    const ev = { name: 'evil', version: 'v1', spec: codeSpec({ check: 'regex', pattern: '^(a+)+$' }) } as EvaluatorConfig;
    const ticks: number[] = [];
    const beat = setInterval(() => ticks.push(Date.now()), 10);
    const started = Date.now();
    const r = await evaluate(ev, subject({ output: `${'a'.repeat(40)}!` }), { gatewayUrl: 'http://127.0.0.1:9/v1' });
    clearInterval(beat);
    expect(r).toMatchObject({ status: 'error', errorType: 'timeout' });
    expect((r as { message: string }).message).toMatch(/took longer than 250 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    // the loop kept beating while the thread backtracked
    expect(ticks.length).toBeGreaterThan(5);
    expect(await verdict(codeSpec({ check: 'regex', pattern: '^a+$' }), subject({ output: 'aaa' }))).toBe('pass');
  });
});

describe('sampling', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => i.toString(16).padStart(16, '0'));
  it.each([0.01, 0.1, 0.5, 0.9])('picks a fraction %f of spans, within 4 standard deviations', (rate) => {
    const n = ids.filter((id) => sampled(id, rate, 'seed')).length;
    const sd = Math.sqrt(ids.length * rate * (1 - rate));
    expect(Math.abs(n - ids.length * rate)).toBeLessThan(4 * sd);
  });
  it('is reproducible, nested across rates for one seed, and changes with the seed', () => {
    const pick = (rate: number, seed: string) => ids.filter((id) => sampled(id, rate, seed));
    expect(pick(0.3, 'a')).toEqual(pick(0.3, 'a'));
    const low = new Set(pick(0.1, 'a'));
    expect(pick(0.3, 'a').filter((id) => low.has(id))).toHaveLength(low.size);
    expect(pick(0.3, 'b')).not.toEqual(pick(0.3, 'a'));
  });
  it('takes all at 1 and none at 0', () => {
    expect(ids.every((id) => sampled(id, 1))).toBe(true);
    expect(ids.some((id) => sampled(id, 0))).toBe(false);
    expect(samplingThreshold(0.5)).toBe(1n << 63n);
  });
});
