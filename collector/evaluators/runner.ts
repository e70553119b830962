/**
 * Runs one evaluator on one subject and says what happened as an EvaluationRecord: a score, an
 * evaluation error (after the retries: the judge timed out, answered garbage, or was refused),
 * or a skip (the span lacks what the evaluator needs); nothing (undefined) when its budget has no
 * room for the first judge try. Never throws.
 */
import { backoffDelay, NO_JITTER, sleep, type Backoff } from '../../common/backoff.js';
import type { EvaluatorConfig, LlmJudgeSpec } from '../../schemas/evaluator.js';
import { runCheck } from './checks.js';
import { CheckTimeoutError } from './regex-thread.js';
import type { EvaluationRecord } from './emit.js';
import { askJudge, judgeWorstCase, newTraceId, type JudgeAnswer, type JudgeFailure } from './judge.js';
import { parseVerdict } from './parse.js';
import type { Subject } from './subject.js';
import { missingInput, renderPrompt, rubricOf } from './templates.js';

/** What one judge try ended in, for the counters. */
export type TryOutcome = 'ok' | JudgeFailure | 'unparseable';

export interface RunDeps {
  /** Gateway base URL used when the spec names none. */
  gatewayUrl: string;
  /** The evaluator's judge key (its virtual key at the gateway). */
  apiKey?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called after every judge try. */
  onTry?: (outcome: TryOutcome) => void;
  /**
   * Sets aside a judge try's worst case (USD, judgeWorstCase) in the evaluator's budget before the
   * try; false when it does not fit (the try is not made). Each try sets aside its own.
   */
  reserve?: (worstUsd: number) => Promise<boolean>;
  /** After a try `reserve` let through: its set-aside given back and its real cost (USD) spent. */
  settle?: (worstUsd: number, costUsd: number) => void;
}

/** Judge retries: 250 ms doubling, at most 4 s. */
const JUDGE_RETRY: Backoff = { initialMs: 250, maxMs: 4000, multiplier: 2, spread: NO_JITTER };

async function judge(ev: EvaluatorConfig & { spec: LlmJudgeSpec }, s: Subject, deps: RunDeps, base: Omit<EvaluationRecord, 'status' | 'attempts' | 'endMs'>): Promise<EvaluationRecord | undefined> {
  const now = deps.now ?? Date.now;
  const spec = ev.spec;
  const rubric = rubricOf(spec);
  const missing = missingInput(rubric, s);
  if (missing) return { ...base, status: 'skipped', message: missing, attempts: 0, endMs: now() };
  const prompt = renderPrompt(rubric, s);
  const traceId = newTraceId();
  const spend = { model: spec.judge.model, traceId, promptTokens: 0, completionTokens: 0, costUsd: 0 };
  let last: { type: string; message: string } = { type: 'judge_error', message: '' };
  let attempts = 0;
  const worst = judgeWorstCase(spec.judge.model, prompt, spec.judge.maxTokens);
  for (let i = 0; i <= spec.retries; i++) {
    if (i > 0) await (deps.sleep ?? sleep)(backoffDelay(JUDGE_RETRY, i - 1));
    // no room in the budget: before the first try nothing happened (no record: the span waits for
    // the next budget day); before a retry the run ends with the last try's error
    if (deps.reserve && !(await deps.reserve(worst))) {
      if (attempts === 0) return undefined;
      break;
    }
    attempts++;
    // the set-aside is given back whatever happens to the try (askJudge answers failures, but a
    // reservation kept by a throw would hold every later try of this evaluator)
    let a: JudgeAnswer | undefined;
    try {
      a = await askJudge({
        baseURL: spec.judge.url ?? deps.gatewayUrl,
        apiKey: deps.apiKey,
        model: spec.judge.model,
        prompt,
        maxTokens: spec.judge.maxTokens,
        temperature: spec.judge.temperature,
        timeoutMs: spec.timeoutSeconds * 1000,
        traceId,
        evaluator: ev.name,
      });
    } finally {
      deps.settle?.(worst, a?.costUsd ?? 0);
    }
    spend.promptTokens += a.promptTokens;
    spend.completionTokens += a.completionTokens;
    spend.costUsd += a.costUsd;
    if (!a.ok) {
      deps.onTry?.(a.failure);
      last = { type: a.failure, message: a.message };
      continue;
    }
    spend.model = a.model;
    const v = parseVerdict(rubric, a.text);
    if (!v.ok) {
      deps.onTry?.('unparseable');
      last = { type: 'unparseable', message: `the judge's answer cannot be read: ${v.reason}` };
      continue;
    }
    deps.onTry?.('ok');
    return { ...base, status: 'ok', ...v.verdict, attempts, judge: spend, endMs: now() };
  }
  return { ...base, status: 'error', errorType: last.type, message: last.message, attempts, judge: spend, endMs: now() };
}

export async function evaluate(ev: EvaluatorConfig, s: Subject, deps: RunDeps): Promise<EvaluationRecord | undefined> {
  const now = deps.now ?? Date.now;
  const base = {
    evaluator: ev.name,
    version: ev.version,
    source: ev.spec.type === 'llm-judge' ? ('llm' as const) : ('code' as const),
    target: { traceId: s.traceId, spanId: s.spanId, kind: s.kind },
    startMs: now(),
  };
  try {
    if (ev.spec.type === 'llm-judge') return await judge(ev as EvaluatorConfig & { spec: LlmJudgeSpec }, s, deps, base);
    const r = await runCheck(ev.spec, s);
    if (r.kind === 'skipped') return { ...base, status: 'skipped', message: r.reason, attempts: 0, endMs: now() };
    return { ...base, status: 'ok', score: r.score, label: r.label, explanation: r.explanation, passed: r.passed, attempts: 1, endMs: now() };
  } catch (err) {
    const errorType = err instanceof CheckTimeoutError ? 'timeout' : 'internal';
    return { ...base, status: 'error', errorType, message: (err as Error).message.slice(0, 200), attempts: 0, endMs: now() };
  }
}
