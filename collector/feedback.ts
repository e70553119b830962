/**
 * `POST /v1/feedback`: a score or label on a span or a trace, from a person or an evaluator,
 * written to `evaluations` with the span's model, provider, agent, service and session copied
 * onto the row (so quality groups by model without a join).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../common/store.js';

export const FeedbackSchema = z
  .object({
    trace_id: z.string().regex(/^[0-9a-f]{32}$/i, 'must be 32 hex characters'),
    span_id: z.string().regex(/^[0-9a-f]{16}$/i, 'must be 16 hex characters').optional(),
    name: z.string().min(1).max(200),
    score: z.number().finite().optional(),
    label: z.string().min(1).max(200).optional(),
    explanation: z.string().max(10_000).optional(),
    source: z.enum(['human', 'llm', 'code', 'heuristic']).default('human'),
    identifier: z.string().max(200).optional(),
  })
  .strict()
  .refine((f) => f.score !== undefined || f.label !== undefined, { message: 'give a score, a label or both', path: ['score'] });

export type Feedback = z.output<typeof FeedbackSchema>;

interface SpanContext {
  model: string;
  provider: string;
  agent_name: string;
  service_name: string;
  session_id: string;
  span_kind: string;
  span_id: string;
}

const EMPTY: SpanContext = { model: '', provider: '', agent_name: '', service_name: '', session_id: '', span_kind: '', span_id: '' };

/** The target span's context from otel_traces (the span given, else the trace's first span). */
async function spanContext(store: Store, traceId: string, spanId: string | undefined): Promise<SpanContext> {
  const rs = await store.client.query({
    query: `SELECT SpanId AS span_id,
        SpanAttributes['llm.model_name'] AS model,
        coalesce(nullIf(SpanAttributes['llm.provider'], ''), SpanAttributes['llm.system']) AS provider,
        SpanAttributes['agent.name'] AS agent_name, ServiceName AS service_name, SpanAttributes['session.id'] AS session_id,
        SpanAttributes['openinference.span.kind'] AS span_kind
      FROM ${store.database}.otel_traces
      WHERE TraceId = {trace:String} AND ({span:String} = '' OR SpanId = {span:String})
      ORDER BY (SpanAttributes['llm.model_name'] = '') ASC, Timestamp ASC LIMIT 1`,
    query_params: { trace: traceId, span: spanId ?? '' },
    format: 'JSONEachRow',
  });
  return (await rs.json<SpanContext>())[0] ?? EMPTY;
}

export function registerFeedbackRoute(app: FastifyInstance, deps: { store: Store; now?: () => number }): void {
  app.post('/v1/feedback', async (req, reply) => {
    const parsed = FeedbackSchema.safeParse(req.body);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
      return reply.code(400).send({
        error: { message: `invalid feedback: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`, type: 'invalid_request_error', code: 'invalid_feedback', fields },
      });
    }
    const f = parsed.data;
    const traceId = f.trace_id.toLowerCase();
    const ctx = await spanContext(deps.store, traceId, f.span_id?.toLowerCase());
    const row = {
      timestamp: ((deps.now?.() ?? Date.now()) / 1000).toFixed(3),
      trace_id: traceId,
      span_id: f.span_id?.toLowerCase() ?? '',
      name: f.name,
      score: f.score ?? null,
      label: f.label ?? '',
      explanation: f.explanation ?? '',
      source: f.source,
      identifier: f.identifier ?? '',
      model: ctx.model,
      provider: ctx.provider,
      agent_name: ctx.agent_name,
      service_name: ctx.service_name,
      session_id: ctx.session_id,
      span_kind: f.span_id ? ctx.span_kind : '',
      via: 'api',
    };
    await deps.store.client.insert({ table: `${deps.store.database}.evaluations`, values: [row], format: 'JSONEachRow' });
    return reply.code(201).send({ status: 'recorded', trace_id: traceId, span_id: row.span_id, model: row.model || null });
  });
}
