-- Span times another pipeline writes into otel_traces, read as the collector stores them.
--
-- The collector stores a span's times after 2100-01-01 as that instant (collector/README, "Span
-- times"), but spans written into otel_traces by another OTLP pipeline (the OpenTelemetry
-- Collector's ClickHouse exporter, a script) arrive as they were sent. llm_spans_mv added the
-- span's Duration (UInt64 nanoseconds) to its start: a span ending between 2262 and the start +
-- 2^63 ns made the engine throw "Decimal math overflow", and the whole INSERT failed, every other
-- span of that batch with it (the pipeline retries it, then drops it); a Duration of 2^63 ns or
-- more wrapped, storing an end in 1759 and a duration of centuries. Now the view reads a start
-- after 2100-01-01 as that instant and caps the duration at what is left until then, in 128-bit
-- arithmetic (and an evaluation event's time after it as that instant): every span of such a batch is stored, and the one with the impossible times is
-- read as the collector would have stored it (test/schemas/foreign-span-times.test.ts).
--
-- The insert view is dropped and created again (a view's query cannot be changed in place), as
-- in 0071: upgrade with the collectors stopped (tracegate start migrates before it listens). Rows
-- already stored keep their times. The view's text is 0071's but for the times.
DROP TABLE IF EXISTS ${db}.llm_spans_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_mv TO ${db}.llm_spans_data AS
WITH
    SpanAttributes AS a,
    -- the span's times as the collector stores them (collector/README): none after 2100-01-01,
    -- whatever another pipeline wrote into otel_traces; the duration in 128 bits (never wraps)
    toDateTime64('2100-01-01 00:00:00', 9, 'UTC') AS last_instant,
    least(Timestamp, last_instant) AS start_at,
    toUInt64(greatest(toInt128(0), least(toInt128(Duration), toInt128(toUnixTimestamp64Nano(last_instant)) - toInt128(toUnixTimestamp64Nano(start_at))))) AS duration_ns,
    -- the first non-empty of several attributes: or_else(a['x'], or_else(a['y'], a['z'])). Not a
    -- lambda over an array of keys: arrayMap(k -> a[k], keys) copies the whole map once per key.
    ((x, y) -> if(x != '', x, y)) AS or_else,
    (s -> toUInt64OrZero(s)) AS uint,
    a['tracegate.origin'] = 'gateway' AS from_gateway,
    a['gen_ai.operation.name'] AS op,
    upper(a['openinference.span.kind']) AS oi_kind,
    -- provider names of any convention → OpenInference llm.provider / llm.system (as in
    -- collector/processors/normalize/providers.ts)
    ['openai', 'anthropic', 'aws.bedrock', 'aws', 'bedrock', 'amazon-bedrock', 'azure.ai.openai', 'azure.ai.inference',
     'azure-openai', 'azure', 'gcp.vertex_ai', 'gcp.gemini', 'gcp.gen_ai', 'google.vertex', 'google.generative-ai', 'google',
     'vertexai', 'vertex_ai', 'gemini', 'mistral_ai', 'mistralai', 'mistral', 'x_ai', 'xai', 'deepseek', 'cohere',
     'ibm.watsonx.ai', 'watsonx', 'groq', 'perplexity', 'together', 'togetherai', 'fireworks', 'cerebras', 'moonshot', 'ollama'] AS known,
    ['openai', 'anthropic', 'aws', 'aws', 'aws', 'aws', 'azure', 'azure',
     'azure', 'azure', 'google', 'google', 'google', 'google', 'google', 'google',
     'google', 'google', 'google', 'mistralai', 'mistralai', 'mistralai', 'xai', 'xai', 'deepseek', 'cohere',
     'ibm', 'ibm', 'groq', 'perplexity', 'together', 'together', 'fireworks', 'cerebras', 'moonshot', 'ollama'] AS known_provider,
    ['openai', 'anthropic', '', '', '', '', 'openai', '',
     'openai', '', 'vertexai', 'vertexai', 'vertexai', 'vertexai', 'vertexai', 'vertexai',
     'vertexai', 'vertexai', 'vertexai', 'mistralai', 'mistralai', 'mistralai', 'xai', 'xai', 'deepseek', 'cohere',
     '', '', '', '', '', '', '', '', '', ''] AS known_system,
    -- `openai.chat`, `google.vertex.chat`: drop API suffixes until a known name remains
    (raw -> arrayFirst(p -> has(known, p), [raw, replaceRegexpOne(raw, '\\.[^.]*$', ''), replaceRegexpOne(raw, '(\\.[^.]*){2}$', '')])) AS known_key,
    lower(trimBoth(or_else(a['gen_ai.provider.name'], a['gen_ai.system']))) AS genai_provider,
    known_key(genai_provider) AS genai_key,
    -- model vendor from the model name, for hosts that serve many vendors
    (m -> multiIf(
        m LIKE '%claude%', 'anthropic',
        match(m, '(^|[./])(gpt|o[1-9]|chatgpt|text-embedding|davinci|babbage|whisper|dall-e|tts-)'), 'openai',
        m LIKE '%gemini%' OR m LIKE '%gemma%', 'vertexai',
        match(m, 'mistral|mixtral|codestral|ministral|pixtral|magistral'), 'mistralai',
        m LIKE '%grok%', 'xai',
        m LIKE '%deepseek%', 'deepseek',
        m LIKE '%command%' OR startsWith(m, 'cohere.'), 'cohere',
        m LIKE '%llama%', 'meta',
        m LIKE '%titan%' OR m LIKE '%nova%', 'amazon',
        m LIKE '%jamba%' OR startsWith(m, 'ai21.'), 'ai21',
        '')) AS system_from_model,
    -- the model name as prices are keyed (canonicalModel in schemas/prices.ts)
    (m -> replaceRegexpOne(replaceRegexpOne(replaceRegexpOne(replaceRegexpOne(replaceRegexpOne(
        lower(trimBoth(m)), '^.*/', ''),
        '^(anthropic|openai|meta|mistral|cohere|amazon|us|eu|apac)\\.([a-z])', '\\2'),
        '^(anthropic|openai|meta|mistral|cohere|amazon)\\.', ''),
        '-v[0-9]+(:[0-9]+)?$', ''),
        '@.*$', '')) AS canonical,
    (SELECT groupArray((regex, input, output, cached_input, cache_write, reasoning))
       FROM (SELECT regex, input, output, cached_input, cache_write, reasoning FROM ${db}.model_prices
             WHERE load_id = (SELECT max(load_id) FROM ${db}.model_prices)
             ORDER BY weight DESC, ordinal)) AS prices,
    -- human | llm | code | heuristic from tracegate.evaluation.source or an annotator kind
    ((src, kind) -> multiIf(
        lower(src) IN ('human', 'llm', 'code', 'heuristic'), lower(src),
        upper(kind) IN ('HUMAN', 'LLM', 'CODE', 'HEURISTIC'), lower(kind),
        'llm')) AS eval_source,
    -- endsWith first: a cheap test rules out most keys before the regular expression
    arrayMap(k -> substring(k, 1, length(k) - 4),
        arrayFilter(k -> endsWith(k, '.name') AND match(k, '^((trace\\.)?(annotations|evaluations)\\.[0-9]+\\.)?(annotation|evaluation)\\.name$'), mapKeys(a))) AS eval_prefixes,
    arrayFilter(e -> e.2 = 'gen_ai.evaluation.result', arrayZip(Events.Timestamp, Events.Name, Events.Attributes)) AS eval_events,
    has(['LLM', 'EMBEDDING', 'RERANKER'], span_kind) AS model_call,
    model_call AND model != '' AS priceable,
    -- priced here only when the span has no cost (the collector's cost stage prices spans)
    canonical(model) AS canonical_model,
    -- The first matching price in table order: all matches in one Hyperscan pass over the
    -- patterns (not one regex call per price and row), the lowest index wins.
    arrayMin(multiMatchAllIndices(canonical_model, arrayMap(p -> p.1, prices))) AS price_index_any,
    if(span_cost OR NOT priceable, 0, price_index_any) AS price_index,
    prices[price_index] AS price,
    or_else(a['llm.cost.total'], or_else(a['llm.cost.prompt'], a['llm.cost.completion'])) != '' AS span_cost,
    toInt64(cache_read_tokens) AS cr,
    toInt64(cache_write_tokens) AS cw,
    least(toInt64(reasoning_tokens), toInt64(completion_tokens)) AS rs,
    greatest(0, toInt64(prompt_tokens) - cr - cw) AS plain_in,
    greatest(0, toInt64(completion_tokens) - rs) AS plain_out
SELECT
    start_at AS timestamp,
    start_at + toIntervalNanosecond(duration_ns) AS end_time,
    TraceId AS trace_id,
    SpanId AS span_id,
    ParentSpanId AS parent_span_id,
    ServiceName AS service_name,
    SpanName AS span_name,
    if(oi_kind != '', oi_kind, if(from_gateway, '', multiIf(
        op IN ('chat', 'text_completion', 'generate_content'), 'LLM',
        op = 'embeddings', 'EMBEDDING',
        op = 'execute_tool', 'TOOL',
        op IN ('invoke_agent', 'create_agent'), 'AGENT',
        op = 'retrieval', 'RETRIEVER',
        op = 'invoke_workflow', 'CHAIN',
        ''))) AS span_kind,
    SpanKind AS otel_span_kind,
    op AS operation,
    if(from_gateway, 'gateway', 'app') AS origin,
    or_else(a['llm.request.model_name'], or_else(a['gen_ai.request.model'], or_else(a['llm.model_name'], or_else(a['embedding.model_name'], a['reranker.model_name'])))) AS request_model,
    or_else(a['llm.response.model_name'], or_else(a['gen_ai.response.model'], a['llm.model_name'])) AS response_model,
    if(response_model != '', response_model, request_model) AS model,
    multiIf(
        a['llm.provider'] != '', lower(a['llm.provider']),
        genai_key != '', known_provider[indexOf(known, genai_key)],
        genai_provider != '', splitByChar('.', genai_provider)[1],
        a['llm.system'] != '', known_provider[indexOf(known, known_key(lower(a['llm.system'])))],
        '') AS provider,
    multiIf(
        a['llm.system'] != '', lower(a['llm.system']),
        genai_key != '' AND known_system[indexOf(known, genai_key)] != '', known_system[indexOf(known, genai_key)],
        system_from_model(lower(model))) AS system,
    a['tracegate.route'] AS route,
    a['tracegate.backend'] AS backend,
    if(from_gateway, a['tracegate.team'], '') AS team,
    if(from_gateway, or_else(a['tracegate.key'], a['tracegate.key.name']), '') AS key_name,
    or_else(a['session.id'], a['gen_ai.conversation.id']) AS session_id,
    a['user.id'] AS user_id,
    or_else(a['agent.name'], a['gen_ai.agent.name']) AS agent_name,
    or_else(a['tool.name'], a['gen_ai.tool.name']) AS tool_name,
    uint(or_else(a['llm.token_count.prompt'], or_else(a['gen_ai.usage.input_tokens'], a['gen_ai.usage.prompt_tokens']))) AS prompt_tokens,
    uint(or_else(a['llm.token_count.completion'], or_else(a['gen_ai.usage.output_tokens'], a['gen_ai.usage.completion_tokens']))) AS completion_tokens,
    if(a['llm.token_count.total'] != '', uint(a['llm.token_count.total']), prompt_tokens + completion_tokens) AS total_tokens,
    uint(or_else(a['llm.token_count.prompt_details.cache_read'], a['gen_ai.usage.cache_read.input_tokens'])) AS cache_read_tokens,
    uint(or_else(a['llm.token_count.prompt_details.cache_write'], a['gen_ai.usage.cache_creation.input_tokens'])) AS cache_write_tokens,
    uint(or_else(a['llm.token_count.completion_details.reasoning'], a['gen_ai.usage.reasoning.output_tokens'])) AS reasoning_tokens,
    multiIf(
        span_cost, toFloat64OrZero(a['llm.cost.prompt']),
        priceable AND price_index > 0, (plain_in * price.2 + cr * price.4 + cw * price.5) / 1e6,
        0) AS cost_prompt,
    multiIf(
        span_cost, toFloat64OrZero(a['llm.cost.completion']),
        priceable AND price_index > 0, (plain_out * price.3 + rs * price.6) / 1e6,
        0) AS cost_completion,
    if(span_cost AND a['llm.cost.total'] != '', toFloat64OrZero(a['llm.cost.total']), cost_prompt + cost_completion) AS cost_total,
    multiIf(span_cost, 'span', priceable AND price_index > 0, 'price_table', 'none') AS cost_source,
    duration_ns / 1e6 AS duration_ms,
    multiIf(
        a['tracegate.time_to_first_token_ms'] != '', toFloat64OrNull(a['tracegate.time_to_first_token_ms']),
        a['gen_ai.response.time_to_first_chunk'] != '', toFloat64OrNull(a['gen_ai.response.time_to_first_chunk']) * 1000,
        NULL) AS ttft_ms,
    a['tracegate.streaming'] = 'true' OR a['gen_ai.request.stream'] = 'true'
        OR JSONExtractBool(a['llm.invocation_parameters'], 'stream') AS streaming,
    multiIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 'Error', StatusCode IN ('Ok', 'STATUS_CODE_OK'), 'Ok', 'Unset') AS status_code,
    StatusMessage AS status_message,
    if(a['error.type'] != '', a['error.type'],
        arrayFirst(t -> t != '', arrayMap((n, at) -> if(n = 'exception', at['exception.type'], ''), Events.Name, Events.Attributes))) AS error_type,
    if(a['llm.finish_reason'] != '', a['llm.finish_reason'],
        if(isValidJSON(a['gen_ai.response.finish_reasons']), JSONExtractString(a['gen_ai.response.finish_reasons'], 1),
            a['gen_ai.response.finish_reasons'])) AS finish_reason,
    a['tracegate.usage.estimated'] = 'true' AS tokens_estimated,
    toUInt16OrZero(a['tracegate.attempts']) AS attempts,
    a['tracegate.fallback.used'] = 'true' AS fallback_used,
    toUInt16OrZero(a['http.response.status_code']) AS http_status,
    a['tracegate.refusal'] AS refusal,
    if(from_gateway, a['tracegate.purpose'], '') AS purpose,
    model_call AND purpose != 'evaluator' AS counted,
    '' AS superseded_by,
    ServiceName AS app_service_name,
    if(length(Links.TraceId) > 0, Links.TraceId[1], '') AS link_trace_id,
    if(length(Links.SpanId) > 0, Links.SpanId[1], '') AS link_span_id,
    CAST(arrayConcat(
        arrayMap(p -> ('attribute', startsWith(p, 'trace.'), a[concat(p, 'name')], toFloat64OrNull(a[concat(p, 'score')]),
                       a[concat(p, 'label')], a[concat(p, 'explanation')],
                       eval_source(a['tracegate.evaluation.source'], a[concat(p, 'annotator_kind')]),
                       a[concat(p, 'annotator_kind')], a[concat(p, 'identifier')], a[concat(p, 'metadata')], end_time),
                 eval_prefixes),
        arrayMap(e -> ('event', 0, e.3['gen_ai.evaluation.name'], toFloat64OrNull(e.3['gen_ai.evaluation.score.value']),
                       e.3['gen_ai.evaluation.score.label'], e.3['gen_ai.evaluation.explanation'],
                       eval_source(e.3['tracegate.evaluation.source'], ''), '', '', '', least(e.1, last_instant)),
                 eval_events)),
        'Array(Tuple(via String, trace_scope UInt8, name String, score Nullable(Float64), label String, explanation String, source String, annotator_kind String, identifier String, metadata String, ts DateTime64(9)))') AS eval_items,
    now64(3) AS inserted_at,
    0 AS version
FROM ${db}.otel_traces
WHERE span_kind IN ('LLM', 'EMBEDDING', 'RERANKER', 'TOOL', 'RETRIEVER', 'AGENT', 'CHAIN', 'GUARDRAIL', 'EVALUATOR');
