/**
 * Attribute names shared by gateway and collector: OpenInference (the convention tracegate
 * stores, its names taken from `@arizeai/openinference-semantic-conventions`), OpenTelemetry
 * GenAI (old and new names, which the collector maps; the stable ones from
 * `@opentelemetry/semantic-conventions`), and tracegate's own keys. Schema views read these
 * exact strings; change one only with a migration.
 */
import { type OpenInferenceSpanKind, SEMRESATTRS_PROJECT_NAME, SemanticConventions as S } from '@arizeai/openinference-semantic-conventions';
import { ATTR_ERROR_TYPE, ATTR_EXCEPTION_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';

/** OpenInference span kinds (`openinference.span.kind`). */
export type OiSpanKind = `${OpenInferenceSpanKind}`;

/** The OpenInference names tracegate reads or writes. */
export const OI = {
  SPAN_KIND: S.OPENINFERENCE_SPAN_KIND,
  INPUT_VALUE: S.INPUT_VALUE,
  INPUT_MIME_TYPE: S.INPUT_MIME_TYPE,
  OUTPUT_VALUE: S.OUTPUT_VALUE,
  OUTPUT_MIME_TYPE: S.OUTPUT_MIME_TYPE,
  SESSION_ID: S.SESSION_ID,
  USER_ID: S.USER_ID,
  METADATA: S.METADATA,
  LLM_SYSTEM: S.LLM_SYSTEM,
  LLM_PROVIDER: S.LLM_PROVIDER,
  LLM_MODEL_NAME: S.LLM_MODEL_NAME,
  LLM_REQUEST_MODEL_NAME: S.LLM_REQUEST_MODEL_NAME,
  LLM_RESPONSE_MODEL_NAME: S.LLM_RESPONSE_MODEL_NAME,
  LLM_INVOCATION_PARAMETERS: S.LLM_INVOCATION_PARAMETERS,
  LLM_FINISH_REASON: S.LLM_FINISH_REASON,
  LLM_INPUT_MESSAGES: S.LLM_INPUT_MESSAGES,
  LLM_OUTPUT_MESSAGES: S.LLM_OUTPUT_MESSAGES,
  LLM_TOOLS: S.LLM_TOOLS,
  TOKEN_PROMPT: S.LLM_TOKEN_COUNT_PROMPT,
  TOKEN_COMPLETION: S.LLM_TOKEN_COUNT_COMPLETION,
  TOKEN_TOTAL: S.LLM_TOKEN_COUNT_TOTAL,
  TOKEN_PROMPT_CACHE_READ: S.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
  TOKEN_PROMPT_CACHE_WRITE: S.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
  TOKEN_COMPLETION_REASONING: S.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
  COST_PROMPT: S.LLM_COST_PROMPT,
  COST_COMPLETION: S.LLM_COST_COMPLETION,
  COST_TOTAL: S.LLM_COST_TOTAL,
  COST_PROMPT_INPUT: S.LLM_COST_INPUT,
  COST_PROMPT_CACHE_READ: S.LLM_COST_PROMPT_DETAILS_CACHE_READ,
  COST_PROMPT_CACHE_WRITE: S.LLM_COST_PROMPT_DETAILS_CACHE_WRITE,
  COST_COMPLETION_OUTPUT: S.LLM_COST_OUTPUT,
  COST_COMPLETION_REASONING: S.LLM_COST_COMPLETION_DETAILS_REASONING,
  TOOL_NAME: S.TOOL_NAME,
  TOOL_DESCRIPTION: S.TOOL_DESCRIPTION,
  TOOL_PARAMETERS: S.TOOL_PARAMETERS,
  TOOL_JSON_SCHEMA: S.TOOL_JSON_SCHEMA,
  TOOL_CALL_ID: S.TOOL_CALL_ID,
  TOOL_CALL_FUNCTION_NAME: S.TOOL_CALL_FUNCTION_NAME,
  TOOL_CALL_FUNCTION_ARGUMENTS: S.TOOL_CALL_FUNCTION_ARGUMENTS_JSON,
  MESSAGE_ROLE: S.MESSAGE_ROLE,
  MESSAGE_NAME: S.MESSAGE_NAME,
  MESSAGE_CONTENT: S.MESSAGE_CONTENT,
  MESSAGE_CONTENTS: S.MESSAGE_CONTENTS,
  MESSAGE_TOOL_CALLS: S.MESSAGE_TOOL_CALLS,
  MESSAGE_TOOL_CALL_ID: S.MESSAGE_TOOL_CALL_ID,
  MESSAGE_CONTENT_TYPE: S.MESSAGE_CONTENT_TYPE,
  MESSAGE_CONTENT_TEXT: S.MESSAGE_CONTENT_TEXT,
  MESSAGE_CONTENT_IMAGE: S.MESSAGE_CONTENT_IMAGE,
  IMAGE_URL: S.IMAGE_URL,
  EMBEDDING_MODEL_NAME: S.EMBEDDING_MODEL_NAME,
  EMBEDDING_EMBEDDINGS: S.EMBEDDING_EMBEDDINGS,
  EMBEDDING_TEXT: S.EMBEDDING_TEXT,
  EMBEDDING_VECTOR: S.EMBEDDING_VECTOR,
  /** In the OpenInference specification, not yet in the package's constants. */
  EMBEDDING_INVOCATION_PARAMETERS: 'embedding.invocation_parameters',
  AGENT_NAME: S.AGENT_NAME,
  /** OpenTelemetry's (the OpenInference instrumentations record exceptions as span events with it). */
  EXCEPTION_TYPE: ATTR_EXCEPTION_TYPE,
  /** Resource attribute naming the project. */
  PROJECT_NAME: SEMRESATTRS_PROJECT_NAME,
} as const;

export const GENAI = {
  OPERATION_NAME: 'gen_ai.operation.name',
  PROVIDER_NAME: 'gen_ai.provider.name',
  /** Deprecated name of gen_ai.provider.name. */
  SYSTEM: 'gen_ai.system',
  REQUEST_MODEL: 'gen_ai.request.model',
  RESPONSE_MODEL: 'gen_ai.response.model',
  RESPONSE_ID: 'gen_ai.response.id',
  RESPONSE_FINISH_REASONS: 'gen_ai.response.finish_reasons',
  RESPONSE_TIME_TO_FIRST_CHUNK: 'gen_ai.response.time_to_first_chunk',
  REQUEST_STREAM: 'gen_ai.request.stream',
  REQUEST_MAX_TOKENS: 'gen_ai.request.max_tokens',
  REQUEST_TEMPERATURE: 'gen_ai.request.temperature',
  REQUEST_TOP_P: 'gen_ai.request.top_p',
  OUTPUT_TYPE: 'gen_ai.output.type',
  USAGE_INPUT_TOKENS: 'gen_ai.usage.input_tokens',
  USAGE_OUTPUT_TOKENS: 'gen_ai.usage.output_tokens',
  /** Deprecated names of the two above. */
  USAGE_PROMPT_TOKENS: 'gen_ai.usage.prompt_tokens',
  USAGE_COMPLETION_TOKENS: 'gen_ai.usage.completion_tokens',
  USAGE_CACHE_READ_INPUT_TOKENS: 'gen_ai.usage.cache_read.input_tokens',
  USAGE_CACHE_CREATION_INPUT_TOKENS: 'gen_ai.usage.cache_creation.input_tokens',
  USAGE_REASONING_OUTPUT_TOKENS: 'gen_ai.usage.reasoning.output_tokens',
  INPUT_MESSAGES: 'gen_ai.input.messages',
  OUTPUT_MESSAGES: 'gen_ai.output.messages',
  SYSTEM_INSTRUCTIONS: 'gen_ai.system_instructions',
  TOOL_DEFINITIONS: 'gen_ai.tool.definitions',
  CONVERSATION_ID: 'gen_ai.conversation.id',
  AGENT_ID: 'gen_ai.agent.id',
  AGENT_NAME: 'gen_ai.agent.name',
  TOOL_NAME: 'gen_ai.tool.name',
  TOOL_CALL_ID: 'gen_ai.tool.call.id',
  TOOL_CALL_ARGUMENTS: 'gen_ai.tool.call.arguments',
  TOOL_CALL_RESULT: 'gen_ai.tool.call.result',
  EVALUATION_RESULT_EVENT: 'gen_ai.evaluation.result',
  EVALUATION_NAME: 'gen_ai.evaluation.name',
  EVALUATION_SCORE_VALUE: 'gen_ai.evaluation.score.value',
  EVALUATION_SCORE_LABEL: 'gen_ai.evaluation.score.label',
  EVALUATION_EXPLANATION: 'gen_ai.evaluation.explanation',
  ERROR_TYPE: ATTR_ERROR_TYPE,
  SERVER_ADDRESS: ATTR_SERVER_ADDRESS,
  SERVER_PORT: ATTR_SERVER_PORT,
} as const;

/**
 * OpenTelemetry MCP conventions (semantic-conventions-genai, docs/gen-ai/mcp.md): MCP spans are
 * named `{mcp.method.name} {target}`; trace context travels in `params._meta`.
 */
export const MCP = {
  METHOD_NAME: 'mcp.method.name',
  SESSION_ID: 'mcp.session.id',
  PROTOCOL_VERSION: 'mcp.protocol.version',
  RESOURCE_URI: 'mcp.resource.uri',
  JSONRPC_REQUEST_ID: 'jsonrpc.request.id',
  RPC_RESPONSE_STATUS_CODE: 'rpc.response.status_code',
  GEN_AI_PROMPT_NAME: 'gen_ai.prompt.name',
  NETWORK_TRANSPORT: 'network.transport',
  NETWORK_PROTOCOL_NAME: 'network.protocol.name',
  /** error.type of a tool call answered with isError: true. */
  TOOL_ERROR: 'tool_error',
} as const;

/**
 * tracegate's own span attributes. The gateway writes them on its spans; the collector adds
 * the `tracegate.evaluation.*` and `tracegate.truncated` ones; schema views read them.
 */
export const TG = {
  /** `gateway` on spans the gateway recorded for a call (the figures that win when counted once). */
  ORIGIN: 'tracegate.origin',
  ROUTE: 'tracegate.route',
  BACKEND: 'tracegate.backend',
  /** The Team document's name of the key that authenticated the call (gateway spans only). */
  TEAM: 'tracegate.team',
  /** The ApiKey document's name that authenticated the call; never the key or its hash. */
  KEY: 'tracegate.key',
  /**
   * `evaluator` on the gateway's spans of a call made with a key whose ApiKey metadata says
   * `purpose: evaluator` (a judge call): its usage is the evaluator's, not the application's.
   * EVALUATOR spans carry it too.
   */
  PURPOSE: 'tracegate.purpose',
  /** A call a limit or budget refused (gateway/policy/refusal.ts): the limit's config name, e.g. `requestsPerMinute`. */
  POLICY_LIMIT: 'tracegate.policy.limit',
  /** Whose limit: `key`, `team`, `default`, or `store` (the counter store was unreachable, fail mode closed). */
  POLICY_SCOPE: 'tracegate.policy.scope',
  /** `requests`, `tokens`, `input_tokens`, `output_tokens`, `concurrency`, `daily_budget`, `monthly_budget`, `store_unavailable`. */
  POLICY_REASON: 'tracegate.policy.reason',
  /** The limit's value (USD for budgets). */
  POLICY_LIMIT_VALUE: 'tracegate.policy.limit_value',
  ATTEMPTS: 'tracegate.attempts',
  FALLBACK_USED: 'tracegate.fallback.used',
  /** Backends passed over because their circuit breaker was open, comma separated. */
  CIRCUIT_SKIPPED: 'tracegate.circuit.skipped',
  RETRIES: 'tracegate.retries',
  STREAMING: 'tracegate.streaming',
  /** Milliseconds from the request to the first byte of a streamed answer. */
  TIME_TO_FIRST_TOKEN_MS: 'tracegate.time_to_first_token_ms',
  /** `true` when the token counts were estimated with a tokenizer (no usage from the provider). */
  TOKENS_ESTIMATED: 'tracegate.usage.estimated',
  /** `true` when part of an estimate's text was sampled, not counted whole (very long prompts or answers). */
  TOKENS_SAMPLED: 'tracegate.usage.sampled',
  /** Why the gateway refused a call itself (the same value as tracegate.policy.reason: requests, tokens, concurrency, daily_budget, monthly_budget, store_unavailable, route, model); llm_spans' refusal column. */
  REFUSAL: 'tracegate.refusal',
  /** SHA-256 (hex) of the answer's text (choice 0): pairs a call's spans when no id or traceparent does. */
  OUTPUT_DIGEST: 'tracegate.output.digest',
  HTTP_STATUS: ATTR_HTTP_RESPONSE_STATUS_CODE,
  /** Attribute keys whose values were cut to the configured size, comma separated. */
  TRUNCATED: 'tracegate.truncated',
  /** On a gen_ai.evaluation.result event: human | llm | code | heuristic. */
  EVALUATION_SOURCE: 'tracegate.evaluation.source',
  /** EVALUATOR spans (collector/evaluators/emit.ts; the evaluator_runs view reads them). */
  EVALUATOR_NAME: 'tracegate.evaluator.name',
  EVALUATOR_VERSION: 'tracegate.evaluator.version',
  EVALUATOR_TARGET_KIND: 'tracegate.evaluator.target_kind',
  EVALUATOR_ATTEMPTS: 'tracegate.evaluator.attempts',
  /** ok | error | skipped */
  EVALUATION_STATUS: 'tracegate.evaluation.status',
  EVALUATION_SCORE: 'tracegate.evaluation.score',
  EVALUATION_LABEL: 'tracegate.evaluation.label',
  EVALUATION_PASSED: 'tracegate.evaluation.passed',
  EVALUATION_SKIPPED_REASON: 'tracegate.evaluation.skipped_reason',
  JUDGE_MODEL: 'tracegate.evaluator.judge.model',
  JUDGE_TRACE_ID: 'tracegate.evaluator.judge.trace_id',
  JUDGE_PROMPT_TOKENS: 'tracegate.evaluator.judge.prompt_tokens',
  JUDGE_COMPLETION_TOKENS: 'tracegate.evaluator.judge.completion_tokens',
  /** USD */
  JUDGE_COST: 'tracegate.evaluator.judge.cost',
  /** Which conventions the normalizer found on the span (openinference, genai, openllmetry, vercel). */
  NORMALIZED_FROM: 'tracegate.normalized_from',
  /** Date of the price table that priced the span. */
  PRICE_DATE: 'tracegate.price.date',
  /** The McpServer document a gateway MCP span went to. */
  MCP_SERVER: 'tracegate.mcp.server',
  /** How the client reached /mcp: `streamable-http` or `sse` (the 2024-11-05 transport). */
  MCP_TRANSPORT: 'tracegate.mcp.transport',
  /** On an AGENT span the gateway opened for an uninstrumented agent: why it ended (`idle`, `session_closed`, `shutdown`, `evicted`). */
  AGENT_ENDED_BY: 'tracegate.agent.ended_by',
  /** Calls (model and tool) the gateway put under the AGENT span it opened. */
  AGENT_STEPS: 'tracegate.agent.steps',
} as const;

export const TG_ORIGIN_GATEWAY = 'gateway';
export const REDACTED = '__REDACTED__';
