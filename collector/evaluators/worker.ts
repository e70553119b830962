/**
 * The evaluator worker: every few seconds, for each Evaluator, it reads the next spans to score
 * from the store, scores them (at most `concurrency` at once, within the evaluator's daily
 * budget), and writes each result as an EVALUATOR span through the collector. It runs beside
 * ingest, never in it: a slow or failing judge delays only evaluations. `runUntilDone` is the
 * one-shot form `tracegate evaluate` uses to re-run an evaluator over past data.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { EvaluatorConfig } from '../../schemas/evaluator.js';
import type { ResultSink } from './emit.js';
import { EvaluatorMetrics, pair } from './metrics.js';
import { evaluate } from './runner.js';
import { countBacklog, selectCandidates, spentSince, traceDocuments, type Selection, type Window } from './select.js';
import { subjectOf, type StoredSpan } from './subject.js';

export interface WorkerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface EvaluatorWorkerOptions {
  client: ClickHouseClient;
  database: string;
  sink: ResultSink;
  /** The gateway's base URL (`http://127.0.0.1:8080/v1`) for judges whose spec names none. */
  gatewayUrl: string;
  pollMs?: number;
  /** How far back the live worker looks for spans to score. */
  lookbackMs?: number;
  /** Spans stored more recently than this are left for the next pass (count-once decides first). */
  settleMs?: number;
  /** Spans selected per evaluator and pass. */
  batch?: number;
  logger?: WorkerLogger;
  now?: () => number;
  metrics?: EvaluatorMetrics;
}

export interface Tally {
  ok: number;
  error: number;
  skipped: number;
  costUsd: number;
  budgetExhausted: boolean;
}

export interface PassSummary {
  /** Per evaluator: evaluations finished, by status. */
  byEvaluator: Map<string, Tally>;
  selected: number;
}

interface State {
  config: EvaluatorConfig;
  key?: string;
  inFlight: number;
  waiting: Array<() => void>;
  /** Span ids scored here whose EVALUATOR span may not be stored yet → when to forget them. */
  recent: Map<string, number>;
  day: string;
  spent: number;
  /** Judge tries started and not finished (budgeted evaluators), and their worst cases set aside (USD). */
  reservedCalls: number;
  reserved: number;
  /** The worst case of a try refused for want of room, while nothing ran: the budget is spent to less than it. */
  refusedWorst?: number;
  /** Calls waiting for room in the budget until a running one ends. */
  budgetWaiters: Array<() => void>;
  /** When the backlog was last counted (a scan as large as a selection: not on every pass). */
  backlogAt: number;
}

export interface EvaluatorWorker {
  readonly metrics: EvaluatorMetrics;
  /** A new set of evaluators (a configuration reload); evaluations running finish under the old one. */
  update(evaluators: ReadonlyMap<string, EvaluatorConfig>, keys: ReadonlyMap<string, string>): void;
  /** One pass over every evaluator (or only `only`) in the window; resolves when its evaluations are written. */
  pass(window?: Partial<Window>, sel?: Selection, only?: string): Promise<PassSummary>;
  /** Passes until nothing more is selected: for re-runs over past data. */
  runUntilDone(window: Partial<Window>, sel?: Selection, only?: string): Promise<PassSummary>;
  metricsText(): string;
  start(): void;
  /** Stops polling, waits for running evaluations, flushes results. Idempotent. */
  stop(): Promise<void>;
}

const RECENT_MS = 10 * 60_000;
const DAY_MS = 86_400_000;
const BACKLOG_EVERY_MS = 10_000;

export function buildEvaluatorWorker(opts: EvaluatorWorkerOptions): EvaluatorWorker {
  const now = opts.now ?? Date.now;
  const metrics = opts.metrics ?? new EvaluatorMetrics();
  const states = new Map<string, State>();
  const running = new Set<Promise<unknown>>();
  /** Traces of this worker's judge calls → when to forget them (by then their runs are stored). */
  const judgeTraces = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let passing: Promise<unknown> | undefined;
  let stopped: Promise<void> | undefined;
  let halted = false;

  function stateOf(ev: EvaluatorConfig, key: string | undefined): State {
    const prev = states.get(ev.name);
    // A changed version starts clean: its spans are new work.
    if (prev && prev.config.version === ev.version) return Object.assign(prev, { config: ev, key });
    return { config: ev, key, inFlight: 0, waiting: [], recent: new Map(), day: '', spent: 0, reservedCalls: 0, reserved: 0, budgetWaiters: [], backlogAt: -Infinity };
  }

  async function budgetLeft(s: State): Promise<boolean> {
    const budget = s.config.spec.budget?.dailyUsd;
    if (budget === undefined) return true;
    const t = now();
    const day = new Date(t).toISOString().slice(0, 10);
    if (s.day !== day) {
      s.spent = await spentSince(opts.client, opts.database, s.config.name, Math.floor(t / DAY_MS) * DAY_MS);
      s.day = day;
      s.refusedWorst = undefined;
    }
    // spent, or too little left for the try last refused (see reserve)
    const left = s.spent < budget && (s.refusedWorst === undefined || s.spent + s.refusedWorst <= budget);
    metrics.budgetExhausted.set(s.config.name, left ? 0 : 1);
    return left;
  }

  async function slot(s: State): Promise<void> {
    while (s.inFlight >= s.config.spec.concurrency && !halted) await new Promise<void>((r) => s.waiting.push(r));
    s.inFlight++;
    metrics.inFlight.set(s.config.name, s.inFlight);
  }

  function release(s: State): void {
    s.inFlight--;
    metrics.inFlight.set(s.config.name, s.inFlight);
    s.waiting.shift()?.();
  }

  /**
   * Room in the day's budget for one judge try: what was spent, plus the worst cases of the tries
   * running, plus this try's worst case (its prompt's estimated tokens and all of its max_tokens,
   * at the judge model's prices) stays within the budget. Waits while running tries may free room;
   * false when none runs and there is no room. So the tries running side by side can never spend
   * past the budget together (as far as the prompt's estimate holds: the output's set-aside is
   * exact), and the budget is left unused by less than one try's worst case.
   */
  async function reserve(s: State, budget: number, worst: number): Promise<boolean> {
    for (;;) {
      if (halted) return false;
      if (s.spent + s.reserved + worst <= budget) {
        s.reservedCalls++;
        s.reserved += worst;
        return true;
      }
      if (s.reservedCalls === 0) {
        s.refusedWorst = worst;
        return false;
      }
      await new Promise<void>((r) => s.budgetWaiters.push(r));
    }
  }

  function unreserve(s: State, worst: number, cost: number): void {
    s.reservedCalls--;
    s.reserved -= worst;
    s.spent += cost;
    for (const wake of s.budgetWaiters.splice(0)) wake();
  }

  /** Scores one span and writes the result; false when the budget had no room to start (nothing written). */
  async function score(s: State, span: StoredSpan, docs: string[], tally: Tally): Promise<boolean> {
    const name = s.config.name;
    const budget = s.config.spec.budget?.dailyUsd;
    let tries = 0;
    const record = await evaluate(s.config, subjectOf(span, docs), {
      gatewayUrl: opts.gatewayUrl,
      apiKey: s.key,
      now,
      onTry: (outcome) => {
        if (tries++ > 0) metrics.add(metrics.retries, name);
        metrics.add(metrics.judgeCalls, pair(name, outcome));
      },
      ...(budget === undefined ? {} : { reserve: (worst: number) => reserve(s, budget, worst), settle: (worst: number, cost: number) => unreserve(s, worst, cost) }),
    });
    if (!record) return false;
    // (a budget's spend is counted try by try, by unreserve)
    const cost = record.judge?.costUsd ?? 0;
    metrics.add(metrics.cost, name, cost);
    metrics.add(metrics.evaluations, pair(name, record.status));
    tally[record.status]++;
    tally.costUsd += cost;
    s.recent.set(span.spanId, now() + RECENT_MS);
    if (record.judge) judgeTraces.set(record.judge.traceId, now() + RECENT_MS);
    opts.sink.write(record);
    return true;
  }

  async function passOne(s: State, w: Window, sel: Selection, summary: PassSummary): Promise<void> {
    const name = s.config.name;
    const tally: Tally = { ok: 0, error: 0, skipped: 0, costUsd: 0, budgetExhausted: false };
    summary.byEvaluator.set(name, tally);
    const t = now();
    for (const [id, until] of s.recent) if (until < t) s.recent.delete(id);
    for (const [id, until] of judgeTraces) if (until < t) judgeTraces.delete(id);
    if (!(await budgetLeft(s))) {
      tally.budgetExhausted = true;
      return;
    }
    const exclude = [...s.recent.keys()];
    const limit = opts.batch ?? 100;
    const excludeTraces = [...judgeTraces.keys()];
    const spans = await selectCandidates(opts.client, opts.database, s.config, w, limit, { ...sel, exclude, excludeTraces });
    summary.selected += spans.length;
    const needsDocs = s.config.spec.type === 'llm-judge' && s.config.spec.template === 'hallucination' && s.config.spec.target.kind === 'LLM';
    const docs = needsDocs ? await traceDocuments(opts.client, opts.database, [...new Set(spans.map((x) => x.traceId))]) : new Map<string, string[]>();
    const jobs: Promise<void>[] = [];
    for (const span of spans) {
      await slot(s);
      if (halted || tally.budgetExhausted) {
        release(s);
        break;
      }
      const job = score(s, span, docs.get(span.traceId) ?? [], tally)
        .then((started) => {
          if (started || halted) return;
          // no room for its judge call: the spans left wait for the next budget day
          tally.budgetExhausted = true;
          metrics.budgetExhausted.set(name, 1);
        })
        .finally(() => release(s));
      running.add(job);
      void job.finally(() => running.delete(job));
      jobs.push(job);
    }
    await Promise.all(jobs);
    // Fewer than a batch selected: every waiting span was just scored.
    if (spans.length < limit) metrics.backlog.set(name, 0);
    else if (now() - s.backlogAt >= BACKLOG_EVERY_MS) {
      s.backlogAt = now();
      metrics.backlog.set(name, await countBacklog(opts.client, opts.database, s.config, w, { ...sel, exclude: [...s.recent.keys()], excludeTraces }));
    }
  }

  const worker: EvaluatorWorker = {
    metrics,
    update(evaluators, keys) {
      const next = new Map<string, State>();
      for (const ev of evaluators.values()) next.set(ev.name, stateOf(ev, keys.get(ev.name)));
      states.clear();
      for (const [k, v] of next) states.set(k, v);
      metrics.retain(new Set(states.keys()));
    },
    async pass(window = {}, sel = {}, only) {
      const t = now();
      const w: Window = {
        since: window.since ?? t - (opts.lookbackMs ?? 3_600_000),
        until: window.until ?? t + 60_000,
        storedBefore: window.storedBefore ?? t - (opts.settleMs ?? 5000),
      };
      const summary: PassSummary = { byEvaluator: new Map(), selected: 0 };
      const todo = [...states.values()].filter((s) => !only || s.config.name === only);
      await Promise.all(
        todo.map((s) =>
          passOne(s, w, sel, summary).catch((err: Error) => {
            metrics.pollFailures++;
            opts.logger?.warn({ evaluator: s.config.name, err: err.message.split('\n')[0] }, 'evaluator pass failed; the next pass tries again');
          }),
        ),
      );
      return summary;
    },
    async runUntilDone(window, sel = {}, only) {
      const total: PassSummary = { byEvaluator: new Map(), selected: 0 };
      for (;;) {
        const p = await worker.pass(window, sel, only);
        total.selected += p.selected;
        for (const [k, v] of p.byEvaluator) {
          const t = total.byEvaluator.get(k) ?? { ok: 0, error: 0, skipped: 0, costUsd: 0, budgetExhausted: false };
          total.byEvaluator.set(k, {
            ok: t.ok + v.ok,
            error: t.error + v.error,
            skipped: t.skipped + v.skipped,
            costUsd: t.costUsd + v.costUsd,
            budgetExhausted: t.budgetExhausted || v.budgetExhausted,
          });
        }
        if (p.selected === 0 || halted) return total;
      }
    },
    metricsText: () => metrics.render(),
    start() {
      if (timer || stopped) return;
      const tick = () => {
        if (passing || states.size === 0) return;
        passing = worker.pass().finally(() => (passing = undefined));
      };
      timer = setInterval(tick, opts.pollMs ?? 2000);
      timer.unref();
    },
    stop() {
      stopped ??= (async () => {
        halted = true;
        if (timer) clearInterval(timer);
        for (const s of states.values()) for (const w of s.waiting.splice(0)) w();
        await passing?.catch(() => {});
        await Promise.allSettled([...running]);
        await opts.sink.forceFlush().catch(() => {});
        await opts.sink.shutdown().catch(() => {});
      })();
      return stopped;
    },
  };
  return worker;
}
