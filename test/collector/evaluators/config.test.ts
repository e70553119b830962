/**
 * Evaluator documents in the configuration: valid ones compile with a version and their judge
 * key, malformed ones are refused with every problem at its path, and `tracegate validate`
 * lists them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../../helpers/text-sink.js';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../cli/commands/validate.js';
import { parseConfig } from '../../../gateway/config/load.js';
import { evaluatorSpec, evaluatorVersion } from '../../../schemas/evaluator.js';
import { backendDoc, docs } from '../../gateway/helpers.js';

const BASE = [backendDoc('up', 'simulated', 'http://127.0.0.1:1/v1'), 'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: "*" }]\n      targets: [{ backend: up }]'];
const evaluator = (name: string, spec: string) => `kind: Evaluator\nmetadata: { name: ${name} }\nspec:\n${spec}`;

function problems(...evaluators: string[]): string[] {
  const r = parseConfig(docs(...BASE, ...evaluators), { env: { EVAL_KEY: 'tg-judge' } });
  if (r.ok) return [];
  return r.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('valid Evaluator documents', () => {
  it('compile with defaults, a version and the resolved judge key', () => {
    const r = parseConfig(
      docs(
        ...BASE,
        evaluator('rel', '  type: llm-judge\n  template: relevance\n  judge: { model: gpt-4o-mini, apiKey: { env: EVAL_KEY } }'),
        evaluator('json', '  type: code\n  check: json-schema\n  target: { kind: LLM, routes: ["chat*"], metadata: { env: prod }, tags: [beta] }\n  sampling: { rate: 0.25, seed: x }'),
        evaluator(
          'custom',
          '  type: llm-judge\n  template: custom\n  prompt: "Rate {{output}} for {{input}} from 1 to 5"\n  scale: { min: 1, max: 5 }\n  pass: { atLeast: 4 }\n  version: v7\n  judge: { model: judge }',
        ),
      ),
      { env: { EVAL_KEY: 'tg-judge' } },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...r.config.evaluators.keys()]).toEqual(['rel', 'json', 'custom']);
    const rel = r.config.evaluators.get('rel')!;
    expect(rel.spec).toMatchObject({ concurrency: 4, retries: 2, timeoutSeconds: 30, target: { kind: 'LLM' }, sampling: { rate: 1, seed: '' } });
    expect(rel.version).toMatch(/^[0-9a-f]{12}$/);
    expect(r.config.evaluators.get('custom')!.version).toBe('v7');
    expect(r.config.evaluatorKeys.get('rel')).toBe('tg-judge');
    expect(r.config.evaluatorKeys.has('json')).toBe(false);
  });

  it('a version changes with what decides a score, not with sampling, concurrency or budget', () => {
    const parse = (extra: string) => evaluatorSpec.parse({ type: 'llm-judge', template: 'toxicity', judge: { model: 'm' }, ...JSON.parse(extra) });
    const v = evaluatorVersion(parse('{}'));
    expect(evaluatorVersion(parse('{"sampling":{"rate":0.1},"concurrency":9,"budget":{"dailyUsd":3},"retries":0}'))).toBe(v);
    expect(evaluatorVersion(parse('{"template":"relevance"}'))).not.toBe(v);
    expect(evaluatorVersion(evaluatorSpec.parse({ type: 'llm-judge', template: 'toxicity', judge: { model: 'other' } }))).not.toBe(v);
  });
});

describe('malformed Evaluator documents are refused with clear problems', () => {
  const cases: [string, string, RegExp][] = [
    ['no type', '  template: relevance', /Evaluator\/bad spec\.type: type must be llm-judge or code/],
    ['an unknown type', '  type: vibes', /spec\.type: type must be llm-judge or code/],
    ['an unknown template', '  type: llm-judge\n  template: helpfulness\n  judge: { model: m }', /spec\.template: .*relevance.*hallucination.*toxicity.*correctness.*custom/],
    ['no judge', '  type: llm-judge\n  template: relevance', /spec\.judge: /],
    ['custom without a prompt', '  type: llm-judge\n  template: custom\n  labels: { good: 1 }\n  judge: { model: m }', /spec\.prompt: a custom template needs its prompt/],
    [
      'custom with labels and a scale',
      '  type: llm-judge\n  template: custom\n  prompt: "{{output}}"\n  labels: { good: 1 }\n  scale: { min: 0, max: 1 }\n  judge: { model: m }',
      /spec\.labels: a custom template needs either labels or scale/,
    ],
    [
      'an unknown placeholder',
      '  type: llm-judge\n  template: custom\n  prompt: "judge {{output}} and {{context}}"\n  labels: { good: 1 }\n  judge: { model: m }',
      /spec\.prompt: unknown placeholder \{\{context\}\}/,
    ],
    ['a built-in template given a prompt', '  type: llm-judge\n  template: toxicity\n  prompt: "{{output}}"\n  judge: { model: m }', /spec\.prompt: the toxicity template brings its own prompt/],
    [
      'a pass label not among the labels',
      '  type: llm-judge\n  template: custom\n  prompt: "{{output}}"\n  labels: { good: 1, bad: 0 }\n  pass: { labels: [great] }\n  judge: { model: m }',
      /spec\.pass\.labels: "great" is not one of the labels/,
    ],
    ['a scale upside down', '  type: llm-judge\n  template: custom\n  prompt: "{{output}}"\n  scale: { min: 5, max: 1 }\n  judge: { model: m }', /spec\.scale\.max: max must be above min/],
    ['an inline judge key', '  type: llm-judge\n  template: relevance\n  judge: { model: m, apiKey: tg-secret-123 }', /spec\.judge\.apiKey: an inline key is not allowed/],
    ['a judge key from a missing variable', '  type: llm-judge\n  template: relevance\n  judge: { model: m, apiKey: { env: NOT_SET_ANYWHERE } }', /spec\.judge\.apiKey: .*NOT_SET_ANYWHERE/],
    ['a judge URL that is not one', '  type: llm-judge\n  template: relevance\n  judge: { model: m, url: "not a url" }', /spec\.judge\.url: a URL such as/],
    ['a sampling rate above 1', '  type: code\n  check: json\n  sampling: { rate: 1.5 }', /spec\.sampling\.rate: a fraction from 0 to 1/],
    ['an unknown target kind', '  type: code\n  check: json\n  target: { kind: TOOL }', /spec\.target\.kind: /],
    ['an unknown field', '  type: code\n  check: json\n  sample: 0.5', /spec: .*sample/],
    ['a regex check without a pattern', '  type: code\n  check: regex', /spec\.pattern: the regex check needs pattern/],
    ['a regex that does not compile', '  type: code\n  check: regex\n  pattern: "a(b"', /spec\.pattern: not a valid regular expression/],
    ['a contains check without a value', '  type: code\n  check: contains', /spec\.value: the contains check needs value/],
    ['a length check without bounds', '  type: code\n  check: length', /spec\.min: the length check needs min, max or both/],
    ['length bounds crossed', '  type: code\n  check: length\n  min: 10\n  max: 2', /spec\.max: max must be at least min/],
    ['hallucination on agent runs', '  type: llm-judge\n  template: hallucination\n  target: { kind: AGENT }\n  judge: { model: m }', /spec\.template: hallucination needs retrieved documents/],
    ['a concurrency of 0', '  type: code\n  check: json\n  concurrency: 0', /spec\.concurrency: /],
    ['a negative budget', '  type: code\n  check: json\n  budget: { dailyUsd: -1 }', /spec\.budget\.dailyUsd: /],
  ];
  it.each(cases)('%s', (_what, spec, expected) => {
    const p = problems(evaluator('bad', spec));
    expect(p.length).toBeGreaterThan(0);
    expect(p.join('\n')).toMatch(expected);
    // Never echoes an inline key.
    expect(p.join('\n')).not.toContain('tg-secret-123');
  });

  it('reports the problems of several documents together, with their lines', () => {
    const r = parseConfig(docs(...BASE, evaluator('a', '  type: code\n  check: regex'), evaluator('b', '  type: code\n  check: contains')));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toEqual(['Evaluator/a spec.pattern', 'Evaluator/b spec.value']);
    expect(r.problems.every((p) => typeof p.line === 'number')).toBe(true);
  });

  it('two Evaluators of one name are refused', () => {
    expect(problems(evaluator('twice', '  type: code\n  check: json'), evaluator('twice', '  type: code\n  check: json')).join('\n')).toMatch(/another Evaluator is already named "twice"/);
  });
});

describe('tracegate validate', () => {
  it('lists each Evaluator: what it scores, how, its version, sampling and budget', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracegate-eval-'));
    try {
      const file = join(dir, 'gateway.yaml');
      writeFileSync(
        file,
        docs(
          ...BASE,
          evaluator(
            'rel',
            '  type: llm-judge\n  template: relevance\n  target: { models: ["gpt-*"], teams: [shop] }\n  sampling: { rate: 0.1 }\n  budget: { dailyUsd: 2 }\n  version: v3\n  judge: { model: gpt-4o-mini }',
          ),
          evaluator('json', '  type: code\n  check: tool-args'),
        ),
      );
      let out = '';
      const sink = textSink((t) => {
        out += t;
      });
      expect(await runValidate(['--config', file], sink, sink)).toBe(0);
      expect(out).toContain('evaluator rel (version v3): llm-judge relevance via gpt-4o-mini on LLM spans where models gpt-*; teams shop, sampling 0.1, budget $2/day');
      expect(out).toMatch(/evaluator json \(version [0-9a-f]{12}\): code tool-args on LLM spans, sampling 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
