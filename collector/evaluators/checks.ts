/**
 * `code` evaluators: checks that need no model. Each passes (score 1, label pass) or fails
 * (score 0, label fail, the explanation says where), or is skipped when the span has nothing to
 * check (no tool calls, no schema).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { CodeSpec } from '../../schemas/evaluator.js';
import type { Subject } from './subject.js';
import { regexMatches } from './regex-thread.js';

export type CheckResult = { kind: 'verdict'; score: number; label: 'pass' | 'fail'; explanation: string; passed: boolean } | { kind: 'skipped'; reason: string };

const pass = (explanation: string): CheckResult => ({ kind: 'verdict', score: 1, label: 'pass', explanation, passed: true });
const fail = (explanation: string): CheckResult => ({ kind: 'verdict', score: 0, label: 'fail', explanation, passed: false });

// strict: false — schemas come from applications' requests and may use keywords Ajv does not know.
const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: true });
const compiled = new WeakMap<object, ValidateFunction | Error>();

function validator(schema: Record<string, unknown>): ValidateFunction | Error {
  let v = compiled.get(schema);
  if (!v) {
    try {
      v = ajv.compile(schema);
    } catch (err) {
      v = new Error(`the schema cannot be used: ${(err as Error).message.slice(0, 200)}`);
    }
    compiled.set(schema, v);
  }
  return v;
}

function parse(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: (err as Error).message.slice(0, 200) };
  }
}

function conforms(text: string, schema: Record<string, unknown>, what: string): CheckResult {
  const parsed = parse(text);
  if (!parsed.ok) return fail(`${what} is not JSON: ${parsed.message}`);
  const v = validator(schema);
  if (v instanceof Error) return { kind: 'skipped', reason: v.message };
  if (v(parsed.value)) return pass(`${what} conforms to its schema`);
  const e = v.errors?.[0];
  return fail(`${what} does not conform to its schema: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim());
}

function toolArgs(s: Subject): CheckResult {
  if (s.toolCalls.length === 0) return { kind: 'skipped', reason: 'the span has no tool calls' };
  for (const c of s.toolCalls) {
    const schema = s.toolSchemas.get(c.name);
    if (!schema) {
      const p = parse(c.arguments);
      if (!p.ok) return fail(`the arguments of ${c.name} are not JSON: ${p.message}`);
      if (s.toolSchemas.size > 0) return fail(`${c.name} is not one of the tools the request offered`);
      continue;
    }
    const r = conforms(c.arguments, schema, `the arguments of ${c.name}`);
    if (r.kind !== 'verdict' || !r.passed) return r;
  }
  return pass(`${s.toolCalls.length} tool call${s.toolCalls.length === 1 ? '' : 's'} with valid arguments`);
}

export async function runCheck(spec: CodeSpec, s: Subject): Promise<CheckResult> {
  const out = s.output;
  switch (spec.check) {
    case 'json': {
      const p = parse(out);
      return p.ok ? pass('the output is valid JSON') : fail(`the output is not valid JSON: ${p.message}`);
    }
    case 'json-schema': {
      const schema = spec.schema ?? s.responseSchema;
      if (!schema) return { kind: 'skipped', reason: 'no schema: the evaluator sets none and the request asked for no json_schema response_format' };
      return conforms(out, schema, 'the output');
    }
    case 'tool-args':
      return toolArgs(s);
    case 'regex': {
      const { pattern } = spec;
      // The schema requires it (schemas/evaluator.ts); without one there is nothing to check.
      if (pattern === undefined) return { kind: 'skipped', reason: 'the regex check has no pattern' };
      // off the event loop and time-limited (regex-thread.ts): the answer may be shaped against the pattern
      return (await regexMatches(pattern, spec.flags, out)) ? pass(`the output matches /${pattern}/`) : fail(`the output does not match /${pattern}/`);
    }
    case 'contains': {
      const { value } = spec;
      if (value === undefined) return { kind: 'skipped', reason: 'the contains check has no value' };
      const has = spec.ignoreCase ? out.toLowerCase().includes(value.toLowerCase()) : out.includes(value);
      return has ? pass(`the output contains "${value}"`) : fail(`the output does not contain "${value}"`);
    }
    case 'length': {
      const n = [...out].length;
      if (spec.min !== undefined && n < spec.min) return fail(`the output has ${n} characters, fewer than ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return fail(`the output has ${n} characters, more than ${spec.max}`);
      return pass(`the output has ${n} characters`);
    }
    default: {
      const never: never = spec.check;
      throw new Error(`check ${String(never)} is not built`);
    }
  }
}
