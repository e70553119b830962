import { z } from 'zod';

/**
 * Rows of the typed tables as they come back from JSONEachRow (UInt64 columns arrive as strings
 * unless output_format_json_quote_64bit_integers=0). The migrations are the reference; these
 * types let gateway, collector and CLI code read them without restating column names.
 */
export type SpanKind = 'LLM' | 'EMBEDDING' | 'RERANKER' | 'TOOL' | 'RETRIEVER' | 'AGENT' | 'CHAIN' | 'GUARDRAIL' | 'EVALUATOR';
export type Int64 = number | string;

/** Tokens (prompt includes cache read and write; completion includes reasoning) and USD cost. */
export interface TokenCostColumns {
  prompt_tokens: Int64;
  completion_tokens: Int64;
  total_tokens: Int64;
  cache_read_tokens: Int64;
  cache_write_tokens: Int64;
  reasoning_tokens: Int64;
  cost_prompt: number;
  cost_completion: number;
  cost_total: number;
}

export interface LlmSpanRow extends TokenCostColumns {
  timestamp: string;
  end_time: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  service_name: string;
  span_name: string;
  span_kind: SpanKind;
  otel_span_kind: string;
  operation: string;
  origin: 'app' | 'gateway';
  request_model: string;
  response_model: string;
  model: string;
  provider: string;
  system: string;
  route: string;
  backend: string;
  team: string;
  key_name: string;
  session_id: string;
  user_id: string;
  agent_name: string;
  tool_name: string;
  cost_source: 'span' | 'price_table' | 'none';
  duration_ms: number;
  ttft_ms: number | null;
  streaming: 0 | 1;
  status_code: 'Unset' | 'Ok' | 'Error';
  status_message: string;
  error_type: string;
  finish_reason: string;
  tokens_estimated: 0 | 1;
  attempts: number;
  fallback_used: 0 | 1;
  http_status: number;
  refusal: string;
  counted: 0 | 1;
  superseded_by: string;
  app_service_name: string;
  link_trace_id: string;
  link_span_id: string;
  inserted_at: string;
}

export interface AgentRunRow extends TokenCostColumns {
  trace_id: string;
  root_span_id: string;
  root_span_name: string;
  root_span_kind: string;
  root_status_code: string;
  service_name: string;
  agent_name: string;
  session_id: string;
  user_id: string;
  start_time: string;
  end_time: string;
  duration_ms: number;
  span_count: number;
  llm_calls: number;
  embedding_calls: number;
  tool_calls: number;
  retriever_calls: number;
  agent_spans: number;
  gateway_calls: number;
  models: string[];
  error_count: number;
  status: 'Ok' | 'Error';
  source_inserted_at: string;
  computed_at: string;
}

/** Dimensions of usage_minutely; measures are calls, errors, *_tokens, cost_*, *_state. */
export const USAGE_DIMENSIONS = ['service_name', 'span_kind', 'model', 'provider', 'route', 'team', 'key_name'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export const EVALUATION_SOURCES = ['human', 'llm', 'code', 'heuristic'] as const;

/** A row inserted into `evaluations` directly (POST /v1/feedback): the column contract of migration 0007. */
export const EvaluationInsertSchema = z.object({
  /** DateTime64(9): decimal seconds since the epoch ("1732540000.123456789") or "YYYY-MM-DD hh:mm:ss[.fff]" UTC. */
  timestamp: z.string().min(1),
  trace_id: z.string().regex(/^[0-9a-f]{32}$/),
  /** '' for a score on the whole trace. */
  span_id: z.union([z.literal(''), z.string().regex(/^[0-9a-f]{16}$/)]),
  name: z.string().min(1).max(200),
  score: z.number().finite().nullable(),
  label: z.string().max(200).default(''),
  explanation: z.string().max(10_000).default(''),
  source: z.enum(EVALUATION_SOURCES),
  identifier: z.string().max(200).default(''),
  annotator_kind: z.string().max(50).default(''),
  /** A JSON object, as a string. */
  metadata: z.string().default(''),
  model: z.string().default(''),
  provider: z.string().default(''),
  agent_name: z.string().default(''),
  service_name: z.string().default(''),
  session_id: z.string().default(''),
  span_kind: z.string().default(''),
  via: z.literal('api').default('api'),
});
export type EvaluationInsert = z.infer<typeof EvaluationInsertSchema>;
