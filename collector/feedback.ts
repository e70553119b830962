/**
 * `POST /v1/feedback`: a score or label on a span or a trace, from a person or an evaluator,
 * written to `evaluations` with the target's model, provider, agent, service and session copied
 * onto the row (so quality groups by model without a join).
 *
 * Where that context comes from:
 * - a span (span_id given): its typed `llm_spans` row (decided by count-once or not yet); a span that is not an OpenInference span
 *   (or not inserted yet) falls back to its raw `otel_traces` row. An agent name or session the
 *   span does not carry is taken from its trace (below), so a score on an LLM call inside an
 *   agent run groups under that agent.
 * - a trace (no span_id): its `agent_runs` row (the root span's kind, service, agent and session;
 *   the model and provider when the run used exactly one); before the rollup has seen the trace,
 *   its root span in `otel_traces`.
 * Feedback may arrive before its spans: the row is written anyway, with the context left empty,
 * and the answer says so (`context: "none"`).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../common/store.js';
import { requireBearer } from './receivers/auth.js';

export const EXPLANATION_MAX_CHARS = 10_000;
const ZERO_TRACE = /^0{32}$/;
const ZERO_SPAN = /^0{16}$/;

export const FeedbackSchema = z
  .object({
    trace_id: z
      .string()
      .regex(/^[0-9a-f]{32}$/i, 'must be 32 hex characters')
      .refine((s) => !ZERO_TRACE.test(s), 'must not be all zeros'),
    span_id: z
      .string()
      .regex(/^[0-9a-f]{16}$/i, 'must be 16 hex characters')
      .refine((s) => !ZERO_SPAN.test(s), 'must not be all zeros')
      .optional(),
    name: z.string().min(1).max(200),
    score: z.number().finite().optional(),
    label: z.string().min(1).max(200).optional(),
    explanation: z.string().max(EXPLANATION_MAX_CHARS, `must be at most ${EXPLANATION_MAX_CHARS} characters`).optional(),
    source: z.enum(['human', 'llm', 'code', 'heuristic']).default('human'),
    identifier: z.string().max(200).optional(),
  })
  .strict()
  .refine((f) => f.score !== undefined || f.label !== undefined, {
    message: 'give a score, a label or both',
    path: ['score'],
    // also when other fields failed, so one answer names every problem
    when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value),
  });

export type Feedback = z.output<typeof FeedbackSchema>;

/** What is copied onto the evaluations row. */
export interface TargetContext {
  model: string;
  provider: string;
  agent_name: string;
  service_name: string;
  session_id: string;
  span_kind: string;
}

/** Which table the context was read from. */
export type ContextSource = 'llm_spans' | 'agent_runs' | 'otel_traces' | 'none';

const EMPTY: TargetContext = { model: '', provider: '', agent_name: '', service_name: '', session_id: '', span_kind: '' };

/** The raw-row expressions, for spans the typed views do not hold (yet). */
const RAW_CONTEXT = `
    coalesce(nullIf(SpanAttributes['llm.response.model_name'], ''), SpanAttributes['llm.model_name']) AS model,
    lower(coalesce(nullIf(SpanAttributes['llm.provider'], ''), SpanAttributes['llm.system'])) AS provider,
    SpanAttributes['agent.name'] AS agent_name, ServiceName AS service_name, SpanAttributes['session.id'] AS session_id,
    upper(SpanAttributes['openinference.span.kind']) AS span_kind`;

const spanQueries = (db: string): Array<[ContextSource, string]> => [
  [
    'llm_spans',
    // its typed row whether count-once has decided it or not (llm_spans reads a model call once
    // decided, 0082): feedback right after a call gets the same context; FINAL: its latest version
    `SELECT model, provider, agent_name, app_service_name AS service_name, session_id, span_kind
     FROM ${db}.llm_spans_data FINAL WHERE trace_id = {trace:String} AND span_id = {span:String} LIMIT 1`,
  ],
  ['otel_traces', `SELECT ${RAW_CONTEXT} FROM ${db}.otel_traces WHERE TraceId = {trace:String} AND SpanId = {span:String} LIMIT 1`],
];

const traceQueries = (db: string): Array<[ContextSource, string]> => [
  [
    'agent_runs',
    `SELECT if(length(models) = 1, models[1], '') AS model,
       (SELECT if(uniqExact(provider) = 1, any(provider), '') FROM ${db}.llm_spans
         WHERE trace_id = {trace:String} AND counted AND provider != '') AS provider,
       agent_name, service_name, session_id, root_span_kind AS span_kind
     FROM ${db}.agent_runs WHERE trace_id = {trace:String} LIMIT 1`,
  ],
  // the root span (no parent), else the earliest
  [
    'otel_traces',
    `SELECT ${RAW_CONTEXT} FROM ${db}.otel_traces WHERE TraceId = {trace:String}
     ORDER BY ParentSpanId != '' ASC, Timestamp ASC LIMIT 1`,
  ],
];

/** The first query, in order, that finds a row. */
async function firstContext(store: Store, queries: Array<[ContextSource, string]>, params: Record<string, string>): Promise<[ContextSource, TargetContext]> {
  for (const [source, query] of queries) {
    const rs = await store.client.query({ query, query_params: params, format: 'JSONEachRow' });
    const row = (await rs.json<TargetContext>())[0];
    if (row) return [source, row];
  }
  return ['none', EMPTY];
}

/** The context of the feedback's target: the span given, else the trace. */
export async function targetContext(store: Store, traceId: string, spanId?: string): Promise<[ContextSource, TargetContext]> {
  const db = store.database;
  if (!spanId) return firstContext(store, traceQueries(db), { trace: traceId });
  const [source, span] = await firstContext(store, spanQueries(db), { trace: traceId, span: spanId });
  if (source === 'none' || (span.agent_name && span.session_id)) return [source, span];
  const [, trace] = await firstContext(store, traceQueries(db), { trace: traceId });
  return [source, { ...span, agent_name: span.agent_name || trace.agent_name, session_id: span.session_id || trace.session_id }];
}

export interface FeedbackRouteDeps {
  store: Store;
  /** When set, the route wants `authorization: Bearer <token>` like the receivers. */
  authToken?: string;
  now?: () => number;
}

export function registerFeedbackRoute(app: FastifyInstance, deps: FeedbackRouteDeps): void {
  app.post('/v1/feedback', { onRequest: requireBearer(deps.authToken) }, async (req, reply) => {
    const parsed = FeedbackSchema.safeParse(req.body);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
      return reply.code(400).send({
        error: { message: `invalid feedback: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, type: 'invalid_request_error', code: 'invalid_feedback', fields },
      });
    }
    const f = parsed.data;
    const traceId = f.trace_id.toLowerCase();
    const spanId = f.span_id?.toLowerCase() ?? '';
    const [source, ctx] = await targetContext(deps.store, traceId, spanId || undefined);
    const row = {
      timestamp: ((deps.now?.() ?? Date.now()) / 1000).toFixed(3),
      trace_id: traceId,
      span_id: spanId,
      name: f.name,
      score: f.score ?? null,
      label: f.label ?? '',
      explanation: f.explanation ?? '',
      source: f.source,
      identifier: f.identifier ?? '',
      ...ctx,
      via: 'api',
    };
    await deps.store.client.insert({ table: `${deps.store.database}.evaluations`, values: [row], format: 'JSONEachRow' });
    return reply.code(201).send({ status: 'recorded', trace_id: traceId, span_id: spanId, model: row.model || null, context: source });
  });
}
