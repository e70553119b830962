/**
 * Attribute names shared by gateway and collector: OpenInference (the convention tracegate
 * stores), OpenTelemetry GenAI (old and new names, which the collector maps), and tracegate's
 * own keys. Schema views read these exact strings; change one only with a migration.
 */

/** OpenInference span kinds (`openinference.span.kind`). */
export const OI_SPAN_KINDS = [
  'LLM', 'EMBEDDING', 'CHAIN', 'RETRIEVER', 'RERANKER', 'TOOL', 'AGENT', 'GUARDRAIL', 'EVALUATOR', 'PROMPT',
] as const;
export type OiSpanKind = (typeof OI_SPAN_KINDS)[number];

export const OI = {
  SPAN_KIND: 'openinference.span.kind',
  INPUT_VALUE: 'input.value',
  INPUT_MIME_TYPE: 'input.mime_type',
  OUTPUT_VALUE: 'output.value',
  OUTPUT_MIME_TYPE: 'output.mime_type',
  SESSION_ID: 'session.id',
  USER_ID: 'user.id',
  METADATA: 'metadata',
  TAG_TAGS: 'tag.tags',
  LLM_SYSTEM: 'llm.system',
  LLM_PROVIDER: 'llm.provider',
  LLM_MODEL_NAME: 'llm.model_name',
  LLM_REQUEST_MODEL_NAME: 'llm.request.model_name',
  LLM_RESPONSE_MODEL_NAME: 'llm.response.model_name',
  LLM_INVOCATION_PARAMETERS: 'llm.invocation_parameters',
  LLM_FINISH_REASON: 'llm.finish_reason',
  LLM_INPUT_MESSAGES: 'llm.input_messages',
  LLM_OUTPUT_MESSAGES: 'llm.output_messages',
  LLM_TOOLS: 'llm.tools',
  TOKEN_PROMPT: 'llm.token_count.prompt',
  TOKEN_COMPLETION: 'llm.token_count.completion',
  TOKEN_TOTAL: 'llm.token_count.total',
  TOKEN_PROMPT_CACHE_READ: 'llm.token_count.prompt_details.cache_read',
  TOKEN_PROMPT_CACHE_WRITE: 'llm.token_count.prompt_details.cache_write',
  TOKEN_PROMPT_AUDIO: 'llm.token_count.prompt_details.audio',
  TOKEN_COMPLETION_REASONING: 'llm.token_count.completion_details.reasoning',
  TOKEN_COMPLETION_AUDIO: 'llm.token_count.completion_details.audio',
  COST_PROMPT: 'llm.cost.prompt',
  COST_COMPLETION: 'llm.cost.completion',
  COST_TOTAL: 'llm.cost.total',
  COST_PROMPT_INPUT: 'llm.cost.prompt_details.input',
  COST_PROMPT_CACHE_READ: 'llm.cost.prompt_details.cache_read',
  COST_PROMPT_CACHE_WRITE: 'llm.cost.prompt_details.cache_write',
  COST_COMPLETION_OUTPUT: 'llm.cost.completion_details.output',
  COST_COMPLETION_REASONING: 'llm.cost.completion_details.reasoning',
  TOOL_NAME: 'tool.name',
  TOOL_DESCRIPTION: 'tool.description',
  TOOL_PARAMETERS: 'tool.parameters',
  TOOL_CALL_ID: 'tool_call.id',
  TOOL_CALL_FUNCTION_NAME: 'tool_call.function.name',
  TOOL_CALL_FUNCTION_ARGUMENTS: 'tool_call.function.arguments',
  EMBEDDING_MODEL_NAME: 'embedding.model_name',
  RERANKER_MODEL_NAME: 'reranker.model_name',
  AGENT_NAME: 'agent.name',
  RETRIEVAL_DOCUMENTS: 'retrieval.documents',
  EXCEPTION_TYPE: 'exception.type',
  EXCEPTION_MESSAGE: 'exception.message',
  /** Resource attribute naming the project. */
  PROJECT_NAME: 'openinference.project.name',
} as const;

/** Flattened message keys: `llm.input_messages.{i}.message.role` and so on. */
export const oiMessageKey = (list: 'llm.input_messages' | 'llm.output_messages', i: number, field: string) =>
  `${list}.${i}.message.${field}`;

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
  ERROR_TYPE: 'error.type',
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
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
  HTTP_STATUS: 'http.response.status_code',
  /** Attribute keys whose values were cut to the configured size, comma separated. */
  TRUNCATED: 'tracegate.truncated',
  /** On a gen_ai.evaluation.result event: human | llm | code | heuristic. */
  EVALUATION_SOURCE: 'tracegate.evaluation.source',
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
