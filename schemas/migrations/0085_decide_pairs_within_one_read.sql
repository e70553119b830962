-- The decider uncounts an application span for its pair only in a run whose read of the spans
-- holds the pair's gateway span's row (README.md, Schema: "Count once, at every moment").
--
-- 0082 made the decider write a pair only once its gateway span's row is stored, checked by a
-- scalar subquery. But the check and the statement's main read of the spans are two reads, and
-- the main read need not see what the check saw: the engine takes the parts a read sees when it
-- resolves its FROM, which can come before it computes the scalar subqueries. Seen under load
-- (a call paired without traceparent, its gateway span stored 1.2 s before a run started, three
-- processes at once: one in six tries): the run wrote the application's row uncounted and not the
-- gateway's, and the call was counted nowhere for 1.7 s, until the next run. Now the read itself
-- decides: an application span keeps its pair only where the same read holds the pair's gateway
-- row (a window over the rows read, by the gateway span's key); else it is decided as if unpaired
-- this run, and the next run, whose read holds the row, decides the pair. The decider is 0082's
-- otherwise.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS all_pending,
    -- the fresh keys as count_once_candidates reads them: the same scalar, read once for both
    (SELECT groupArray((trace_id, toStartOfMinute(timestamp), response_id, output_digest)) FROM ${db}.count_once_fresh) AS fresh,
    -- the minutes of the fresh spans and of the pairs' application spans, and ten either side
    arrayDistinct(arrayFlatten(arrayMap(m -> arrayMap(i -> m + toIntervalMinute(i), range(-10, 11)),
        arrayDistinct(arrayConcat(arrayMap(f -> f.2, fresh), arrayMap(p -> toStartOfMinute(p.5), all_pending)))))) AS minutes,
    -- their hours too: the key's first column (a granule that spans two hours bounds its minutes
    -- only through them)
    arrayDistinct(arrayMap(m -> toStartOfHour(m), minutes)) AS hours,
    -- (0082) the pairs whose gateway span's row is stored: its key and its row are written by two
    -- views of one insert, not at once, and a model call is read once decided, so an application
    -- span uncounted in a run that cannot write its gateway span's decision too would leave the
    -- call counted nowhere until the next run; such a pair waits for that run
    -- (a set lookup: has() on an array in a lambda copies the array for every element, 8-10 s a
    -- run at 1,000 calls/s)
    (
        SELECT groupArray(p) FROM (SELECT arrayJoin(all_pending) AS p)
        WHERE (p.3, p.4) IN (
            SELECT trace_id, span_id FROM ${db}.llm_spans_data
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes))
              AND trace_id IN (SELECT arrayJoin(all_pending).3) AND origin = 'gateway')
    ) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    arrayDistinct(arrayConcat(arrayMap(f -> f.1, fresh), arrayMap(p -> p.1, pairs), arrayMap(p -> p.3, pairs))) AS traces,
    -- per pair: the application's service, session and user, the gateway's team and key
    (
        SELECT groupArray((p.1, p.2, p.3, p.4, a.service_name, a.session_id, a.user_id, g.team, g.key_name))
        FROM (SELECT arrayJoin(pairs) AS p) AS pp
        INNER JOIN (SELECT trace_id, span_id, service_name, session_id, user_id FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(pairs).1)
                    LIMIT 1 BY trace_id, span_id) AS a
            ON a.trace_id = pp.p.1 AND a.span_id = pp.p.2
        INNER JOIN (SELECT trace_id, span_id, team, key_name FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(pairs).3)
                    LIMIT 1 BY trace_id, span_id) AS g
            ON g.trace_id = pp.p.3 AND g.span_id = pp.p.4
    ) AS info,
    -- per trace: the service of its root span when another service's, else of the latest span of
    -- another service than the gateway's; and its spans whose key is stored (one read of the keys)
    (
        SELECT (groupArray((trace_id, if(root_service != '', root_service, other_service))),
                arrayFlatten(groupArray(arrayMap(s -> (trace_id, s), spans))))
        FROM (
            SELECT trace_id,
                   argMinIf(service_name, timestamp, parent_span_id = '' AND role != 'gateway') AS root_service,
                   argMaxIf(service_name, timestamp, role != 'gateway') AS other_service,
                   groupUniqArray(span_id) AS spans
            FROM ${db}.call_keys_by_hour
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(traces))
            GROUP BY trace_id
        )
    ) AS traces_read,
    traces_read.1 AS callers,
    range(1, length(info) + 1) AS positions,
    -- the pair an application span is in, as the keys read (ai below: only where this read holds
    -- the pair's gateway span's row too)
    transform(concat(trace_id, '/', span_id), arrayMap(x -> concat(x.1, '/', x.2), info), positions, 0) AS ai0,
    transform(concat(trace_id, '/', span_id), arrayMap(x -> concat(x.3, '/', x.4), info), positions, 0) AS gi,
    transform(trace_id, arrayMap(x -> x.1, callers), arrayMap(x -> x.2, callers), '') AS caller,
    origin = 'gateway' AND gi = 0 AND parent_span_id != '' AND run_id = trace_id AS orphan,
    if(ai > 0, toUInt8(0), counted) AS new_counted,
    if(ai > 0, info[ai].4, superseded_by) AS new_superseded_by,
    multiIf(gi > 0, info[gi].5, orphan AND caller != '', caller, app_service_name) AS new_app_service_name,
    if(gi > 0 AND session_id = '', info[gi].6, session_id) AS new_session_id,
    if(gi > 0 AND user_id = '', info[gi].7, user_id) AS new_user_id,
    if(ai > 0, info[ai].8, team) AS new_team,
    if(ai > 0, info[ai].9, key_name) AS new_key_name,
    if(gi > 0, info[gi].1, run_id) AS new_run_id,
    multiIf(ai > 0 AND info[ai].3 != trace_id, info[ai].3, gi > 0 AND info[gi].1 != trace_id, info[gi].1, link_trace_id) AS new_link_trace_id,
    multiIf(ai > 0 AND info[ai].3 != trace_id, info[ai].4, gi > 0 AND info[gi].1 != trace_id, info[gi].2, link_span_id) AS new_link_span_id
SELECT * EXCEPT (new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
                 new_run_id, new_link_trace_id, new_link_span_id, prior_version, prior, next, ai0, pair_gateway, ai) REPLACE (
    new_counted AS counted,
    new_superseded_by AS superseded_by,
    new_app_service_name AS app_service_name,
    new_session_id AS session_id,
    new_user_id AS user_id,
    new_team AS team,
    new_key_name AS key_name,
    new_run_id AS run_id,
    new_link_trace_id AS link_trace_id,
    new_link_span_id AS link_span_id,
    toUInt8(least(255, prior_version + 1)) AS version,
    now64(3) AS inserted_at)
FROM (
    -- (the outer query's aliases shadow these columns' names: its WHERE reads prior_*)
    SELECT *, new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
           new_run_id, new_link_trace_id, new_link_span_id,
           version AS prior_version,
           (counted, superseded_by, app_service_name, session_id, user_id, team, key_name, run_id, link_trace_id, link_span_id) AS prior,
           (new_counted, new_superseded_by, new_app_service_name, new_session_id, new_user_id, new_team, new_key_name,
            new_run_id, new_link_trace_id, new_link_span_id) AS next
    FROM (
        -- (0085) an application span keeps its pair only where this read holds the pair's gateway
        -- span's row, which this run then writes too (or an earlier run wrote): the scalars above
        -- may have seen a gateway row this read does not
        SELECT *, if(ai0 > 0 AND countIf(origin = 'gateway' AND concat(trace_id, '/', span_id) = pair_gateway) OVER (PARTITION BY pair_gateway) = 0, 0, ai0) AS ai
        FROM (
            SELECT *, ai0, if(ai0 > 0, concat(info[ai0].3, '/', info[ai0].4), concat(trace_id, '/', span_id)) AS pair_gateway
            FROM ${db}.llm_spans_data FINAL
            WHERE span_kind IN ('LLM', 'EMBEDDING', 'RERANKER')
              AND toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND toStartOfMinute(timestamp) IN (SELECT arrayJoin(minutes)) AND trace_id IN (SELECT arrayJoin(traces))
              -- only spans whose call key is stored: a span the decider writes counts as decided
              -- (count_once_fresh), and its pairs are found through its key
              AND (trace_id, span_id) IN (SELECT arrayJoin(traces_read.2))
        )
    )
)
WHERE prior_version = 0 OR prior != next
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;
