/**
 * Attribute keys of the gateway's spans, each with its OTLP `KeyValue.key` field (tag, length,
 * UTF-8 bytes) encoded once: a span's attributes are written straight into protobuf without
 * building key strings or an attribute map per call. Keys with an index in them (message `i`,
 * tool call `k`) come from tables that make each one on first use and keep it.
 */
import { varintBytes } from '../../../common/protobuf/writer.js';
import { GENAI, OI, TG } from '../../../common/semconv.js';

export class AttrKey {
  /** `KeyValue.key` (field 1, length-delimited): 0x0a, varint length, UTF-8. */
  readonly field: Uint8Array;
  /**
   * Whole encoded `Span.attributes` entries of this key for values that recur from call to call
   * (kinds, names from the config, model names), by value: kept by the OTLP sink (otlp/sink.ts).
   */
  entries: Map<string, Uint8Array> | undefined;
  /** The last of those written, found without hashing (most keys see one value call after call). */
  lastValue: string | undefined;
  lastEntry: Uint8Array | undefined;

  constructor(readonly name: string) {
    const utf8 = Buffer.from(name, 'utf8');
    this.field = Uint8Array.from([0x0a, ...varintBytes(utf8.length), ...utf8]);
  }
}

/** Indexed keys, made on first use; past `LIMIT` entries they are made per call and not kept. */
const LIMIT = 4096;

export class KeyTable<T> {
  private readonly made: T[] = [];

  constructor(private readonly make: (i: number) => T) {}

  at(i: number): T {
    if (i >= LIMIT) return this.make(i);
    return (this.made[i] ??= this.make(i));
  }
}

const k = (name: string) => new AttrKey(name);

/** The fixed keys the gateway writes. */
export const KEYS = {
  spanKind: k(OI.SPAN_KIND),
  inputValue: k(OI.INPUT_VALUE),
  inputMime: k(OI.INPUT_MIME_TYPE),
  outputValue: k(OI.OUTPUT_VALUE),
  outputMime: k(OI.OUTPUT_MIME_TYPE),
  sessionId: k(OI.SESSION_ID),
  userId: k(OI.USER_ID),
  llmSystem: k(OI.LLM_SYSTEM),
  llmProvider: k(OI.LLM_PROVIDER),
  llmModel: k(OI.LLM_MODEL_NAME),
  llmRequestModel: k(OI.LLM_REQUEST_MODEL_NAME),
  llmResponseModel: k(OI.LLM_RESPONSE_MODEL_NAME),
  llmInvocationParameters: k(OI.LLM_INVOCATION_PARAMETERS),
  llmFinishReason: k(OI.LLM_FINISH_REASON),
  tokenPrompt: k(OI.TOKEN_PROMPT),
  tokenCompletion: k(OI.TOKEN_COMPLETION),
  tokenTotal: k(OI.TOKEN_TOTAL),
  tokenCacheRead: k(OI.TOKEN_PROMPT_CACHE_READ),
  tokenCacheWrite: k(OI.TOKEN_PROMPT_CACHE_WRITE),
  tokenReasoning: k(OI.TOKEN_COMPLETION_REASONING),
  embeddingModel: k(OI.EMBEDDING_MODEL_NAME),
  embeddingInvocationParameters: k(OI.EMBEDDING_INVOCATION_PARAMETERS),
  genaiOperation: k(GENAI.OPERATION_NAME),
  genaiProvider: k(GENAI.PROVIDER_NAME),
  genaiRequestModel: k(GENAI.REQUEST_MODEL),
  genaiResponseModel: k(GENAI.RESPONSE_MODEL),
  genaiResponseId: k(GENAI.RESPONSE_ID),
  genaiFinishReasons: k(GENAI.RESPONSE_FINISH_REASONS),
  genaiTimeToFirstChunk: k(GENAI.RESPONSE_TIME_TO_FIRST_CHUNK),
  genaiRequestStream: k(GENAI.REQUEST_STREAM),
  genaiMaxTokens: k(GENAI.REQUEST_MAX_TOKENS),
  genaiTemperature: k(GENAI.REQUEST_TEMPERATURE),
  genaiTopP: k(GENAI.REQUEST_TOP_P),
  genaiInputTokens: k(GENAI.USAGE_INPUT_TOKENS),
  genaiOutputTokens: k(GENAI.USAGE_OUTPUT_TOKENS),
  genaiCacheReadTokens: k(GENAI.USAGE_CACHE_READ_INPUT_TOKENS),
  genaiCacheCreationTokens: k(GENAI.USAGE_CACHE_CREATION_INPUT_TOKENS),
  genaiReasoningTokens: k(GENAI.USAGE_REASONING_OUTPUT_TOKENS),
  genaiConversationId: k(GENAI.CONVERSATION_ID),
  errorType: k(GENAI.ERROR_TYPE),
  serverAddress: k(GENAI.SERVER_ADDRESS),
  origin: k(TG.ORIGIN),
  route: k(TG.ROUTE),
  backend: k(TG.BACKEND),
  attempts: k(TG.ATTEMPTS),
  fallbackUsed: k(TG.FALLBACK_USED),
  circuitSkipped: k(TG.CIRCUIT_SKIPPED),
  retries: k(TG.RETRIES),
  streaming: k(TG.STREAMING),
  ttftMs: k(TG.TIME_TO_FIRST_TOKEN_MS),
  tokensEstimated: k(TG.TOKENS_ESTIMATED),
  tokensSampled: k(TG.TOKENS_SAMPLED),
  httpStatus: k(TG.HTTP_STATUS),
  truncated: k(TG.TRUNCATED),
  policyLimit: k(TG.POLICY_LIMIT),
  policyScope: k(TG.POLICY_SCOPE),
  policyReason: k(TG.POLICY_REASON),
  policyLimitValue: k(TG.POLICY_LIMIT_VALUE),
  /** The refusal's reason again under the key llm_spans' `refusal` column and the dashboards read. */
  refusal: k(TG.REFUSAL),
  outputDigest: k(TG.OUTPUT_DIGEST),
  /** The caller's ApiKey document name and its Team: never the key or its hash. */
  key: k(TG.KEY),
  team: k(TG.TEAM),
  /** `evaluator` for a judge call (the key's metadata purpose). */
  purpose: k(TG.PURPOSE),
} as const;

export interface PartKeys {
  type: AttrKey;
  text: AttrKey;
  imageUrl: AttrKey;
}

export interface ToolCallKeys {
  id: AttrKey;
  name: AttrKey;
  arguments: AttrKey;
}

/** `llm.{input|output}_messages.{i}.message.*` */
export interface MessageKeys {
  role: AttrKey;
  name: AttrKey;
  toolCallId: AttrKey;
  content: AttrKey;
  parts: KeyTable<PartKeys>;
  toolCalls: KeyTable<ToolCallKeys>;
}

function toolCallKeys(prefix: string): KeyTable<ToolCallKeys> {
  return new KeyTable((j) => {
    const p = `${prefix}.${OI.MESSAGE_TOOL_CALLS}.${j}`;
    return { id: k(`${p}.${OI.TOOL_CALL_ID}`), name: k(`${p}.${OI.TOOL_CALL_FUNCTION_NAME}`), arguments: k(`${p}.${OI.TOOL_CALL_FUNCTION_ARGUMENTS}`) };
  });
}

function messageKeys(list: string): KeyTable<MessageKeys> {
  return new KeyTable((i) => {
    const p = `${list}.${i}`;
    return {
      role: k(`${p}.${OI.MESSAGE_ROLE}`),
      name: k(`${p}.${OI.MESSAGE_NAME}`),
      toolCallId: k(`${p}.${OI.MESSAGE_TOOL_CALL_ID}`),
      content: k(`${p}.${OI.MESSAGE_CONTENT}`),
      parts: new KeyTable((j) => {
        const c = `${p}.${OI.MESSAGE_CONTENTS}.${j}`;
        return { type: k(`${c}.${OI.MESSAGE_CONTENT_TYPE}`), text: k(`${c}.${OI.MESSAGE_CONTENT_TEXT}`), imageUrl: k(`${c}.${OI.MESSAGE_CONTENT_IMAGE}.${OI.IMAGE_URL}`) };
      }),
      toolCalls: toolCallKeys(p),
    };
  });
}

export const INPUT_MESSAGES = messageKeys(OI.LLM_INPUT_MESSAGES);
export const OUTPUT_MESSAGES = messageKeys(OI.LLM_OUTPUT_MESSAGES);
/** `llm.tools.{i}.tool.json_schema` */
export const TOOLS = new KeyTable((i) => k(`${OI.LLM_TOOLS}.${i}.${OI.TOOL_JSON_SCHEMA}`));
/** `embedding.embeddings.{i}.embedding.text` */
export const EMBEDDING_TEXTS = new KeyTable((i) => k(`${OI.EMBEDDING_EMBEDDINGS}.${i}.${OI.EMBEDDING_TEXT}`));
