/**
 * `Evaluator` documents: what live traffic to score, how often, and how (an LLM judge reached
 * through tracegate's own gateway, or a built-in code check). The gateway's config loader
 * validates them with the other documents (`tracegate validate`); the collector's evaluator
 * worker and `tracegate evaluate` run them. Shared here because gateway/ and collector/ never
 * import each other.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const TARGET_KINDS = ['LLM', 'AGENT', 'RETRIEVER'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** Built-in judge prompts (collector/evaluators/templates.ts); `custom` brings its own. */
export const JUDGE_TEMPLATES = ['relevance', 'hallucination', 'toxicity', 'correctness', 'custom'] as const;
export type JudgeTemplate = (typeof JUDGE_TEMPLATES)[number];

export const CODE_CHECKS = ['json', 'json-schema', 'tool-args', 'regex', 'contains', 'length'] as const;
export type CodeCheck = (typeof CODE_CHECKS)[number];

/** Placeholders a judge prompt may use; each is filled from the scored span (or run). */
export const PROMPT_VARIABLES = ['input', 'output', 'documents', 'tool_calls', 'reference'] as const;

const globs = z.array(z.string().min(1).max(256)).max(64);
const labelName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-"');

const secretRef = z.union([z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(), z.object({ file: z.string().min(1) }).strict()], {
  error: (iss) =>
    typeof iss.input === 'string'
      ? 'an inline key is not allowed in the config file: write { env: VARIABLE } or { file: /path/to/secret }'
      : 'give exactly one of { env: VARIABLE } or { file: /path/to/secret }',
});

const target = z
  .object({
    /** LLM: one model call; AGENT: one agent run (its AGENT span); RETRIEVER: one retrieval. */
    kind: z.enum(TARGET_KINDS).default('LLM'),
    /** Globs (`*`) over the calling application's service name, the route, model, team and key. */
    services: globs.optional(),
    routes: globs.optional(),
    models: globs.optional(),
    teams: globs.optional(),
    keys: globs.optional(),
    /** Every pair must equal the span's `metadata` JSON value at that key. */
    metadata: z.record(z.string().min(1).max(256), z.string().max(1024)).optional(),
    /** The span's `tag.tags` must hold at least one of these. */
    tags: z.array(z.string().min(1).max(256)).max(64).optional(),
  })
  .strict();

const sampling = z
  .object({
    /** Fraction of matching spans scored, 0 to 1; which ones is a hash of the span id, so replicas agree. */
    rate: z.number({ error: 'a fraction from 0 to 1' }).min(0, 'a fraction from 0 to 1').max(1, 'a fraction from 0 to 1').default(1),
    /** Changes which spans a rate below 1 picks. */
    seed: z.string().max(128).default(''),
  })
  .strict();

const judge = z
  .object({
    /** The model asked through the gateway (a Route must serve it). */
    model: z.string().min(1).max(256),
    /** The gateway's OpenAI-compatible base URL; default: the gateway of this stack (`tracegate evaluate --gateway`). */
    url: z.string().url('a URL such as http://127.0.0.1:8080/v1').max(2048).optional(),
    /** The evaluator's own virtual key (an ApiKey document with metadata purpose: evaluator), so its limits and budget apply. */
    apiKey: secretRef.optional(),
    maxTokens: z.number().int().min(1).max(8192).default(256),
    temperature: z.number().min(0).max(2).default(0),
  })
  .strict();

const scale = z
  .object({ min: z.number().finite(), max: z.number().finite() })
  .strict()
  .refine((s) => s.max > s.min, { message: 'max must be above min', path: ['max'] });

const llmJudge = z
  .object({
    type: z.literal('llm-judge'),
    template: z.enum(JUDGE_TEMPLATES),
    /** With template custom: the prompt, with {{input}}, {{output}}, {{documents}}, {{tool_calls}}, {{reference}}. */
    prompt: z.string().min(1).max(16_384).optional(),
    /** Label → score the judge may answer (custom); built-in templates bring their own. */
    labels: z.record(labelName, z.number().finite()).optional(),
    /** A numeric answer within these bounds instead of labels (custom). */
    scale: scale.optional(),
    /** Labels that pass, or the least score that passes; built-in templates bring their own. */
    pass: z.union([z.object({ labels: z.array(labelName).min(1) }).strict(), z.object({ atLeast: z.number().finite() }).strict()]).optional(),
    judge,
  })
  .strict();

const code = z
  .object({
    type: z.literal('code'),
    check: z.enum(CODE_CHECKS),
    /** regex: the pattern the output must match (JavaScript syntax). */
    pattern: z.string().min(1).max(1024).optional(),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'any of i, m, s, u')
      .optional(),
    /** contains: the text the output must hold. */
    value: z.string().min(1).max(4096).optional(),
    ignoreCase: z.boolean().default(false),
    /** length: bounds on the output's characters. */
    min: z.number().int().nonnegative().optional(),
    max: z.number().int().positive().optional(),
    /** json-schema: the schema to check against; default: the request's response_format json_schema. */
    schema: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const common = {
  /** Changes when the evaluator does; default: a hash of the spec. A re-run skips spans this version scored. */
  version: z.string().min(1).max(64).optional(),
  target: target.prefault({}),
  sampling: sampling.prefault({}),
  /** Judge calls (or checks) in flight at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** The evaluator's own spend per UTC day, from the judge calls' cost; past it, scoring waits for the next day. */
  budget: z.object({ dailyUsd: z.number().nonnegative().finite() }).strict().optional(),
  /** Further tries of a judge call that timed out, failed or answered what cannot be parsed. */
  retries: z.number().int().min(0).max(5).default(2),
  timeoutSeconds: z.number().positive().max(600).default(30),
};

export const evaluatorSpec = z
  .discriminatedUnion('type', [llmJudge.extend(common), code.extend(common)], {
    error: (iss) => (iss.code === 'invalid_union' ? 'type must be llm-judge or code' : undefined),
  })
  .superRefine((s, ctx) => {
    if (s.type === 'llm-judge') {
      if (s.template === 'custom') {
        if (!s.prompt) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'a custom template needs its prompt' });
        if (!s.labels === !s.scale) ctx.addIssue({ code: 'custom', path: ['labels'], message: 'a custom template needs either labels or scale' });
        const { prompt } = s;
        if (prompt && !PROMPT_VARIABLES.some((v) => prompt.includes(`{{${v}}}`))) {
          ctx.addIssue({ code: 'custom', path: ['prompt'], message: `the prompt uses none of ${PROMPT_VARIABLES.map((v) => `{{${v}}}`).join(', ')}` });
        }
        for (const m of s.prompt?.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g) ?? []) {
          if (!(PROMPT_VARIABLES as readonly string[]).includes(m[1])) ctx.addIssue({ code: 'custom', path: ['prompt'], message: `unknown placeholder {{${m[1]}}}` });
        }
      } else {
        for (const f of ['prompt', 'labels', 'scale'] as const) {
          if (s[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `the ${s.template} template brings its own ${f}; use template: custom to set it` });
        }
      }
      if (s.pass && 'labels' in s.pass && s.labels) {
        for (const l of s.pass.labels) if (!(l in s.labels)) ctx.addIssue({ code: 'custom', path: ['pass', 'labels'], message: `"${l}" is not one of the labels` });
      }
      if (s.template === 'hallucination' && s.target.kind === 'AGENT') {
        ctx.addIssue({ code: 'custom', path: ['template'], message: 'hallucination needs retrieved documents: score LLM or RETRIEVER spans' });
      }
      return;
    }
    const need = (f: 'pattern' | 'value', check: string) => {
      if (s[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `the ${check} check needs ${f}` });
    };
    if (s.check === 'regex') {
      need('pattern', 'regex');
      if (s.pattern) {
        try {
          new RegExp(s.pattern, s.flags);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: ['pattern'], message: `not a valid regular expression: ${(err as Error).message}` });
        }
      }
    }
    if (s.check === 'contains') need('value', 'contains');
    if (s.check === 'length' && s.min === undefined && s.max === undefined) ctx.addIssue({ code: 'custom', path: ['min'], message: 'the length check needs min, max or both' });
    if (s.min !== undefined && s.max !== undefined && s.min > s.max) ctx.addIssue({ code: 'custom', path: ['max'], message: 'max must be at least min' });
  });

export type EvaluatorSpec = z.output<typeof evaluatorSpec>;
export type LlmJudgeSpec = Extract<EvaluatorSpec, { type: 'llm-judge' }>;
export type CodeSpec = Extract<EvaluatorSpec, { type: 'code' }>;
export type EvaluatorSecretRef = z.output<typeof secretRef>;

/** An Evaluator document, compiled: its name, version and spec (the judge key lives apart, resolved). */
export interface EvaluatorConfig {
  readonly name: string;
  readonly version: string;
  readonly spec: EvaluatorSpec;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/**
 * The version a result records: the spec's own, else the first 12 hex digits of a hash of what
 * decides a score (template, prompt, labels, check, judge model). Sampling, concurrency, budget
 * and retries do not change it: re-scoring is not needed when only they change.
 */
export function evaluatorVersion(spec: EvaluatorSpec): string {
  if (spec.version) return spec.version;
  const { version: _v, target: _t, sampling: _s, concurrency: _c, budget: _b, retries: _r, timeoutSeconds: _o, ...scoring } = spec;
  const judgeOnly = scoring.type === 'llm-judge' ? { ...scoring, judge: { model: scoring.judge.model, maxTokens: scoring.judge.maxTokens, temperature: scoring.judge.temperature } } : scoring;
  return createHash('sha256')
    .update(JSON.stringify(canonical(judgeOnly)))
    .digest('hex')
    .slice(0, 12);
}
