-- Count-once work bounded by the spans not yet decided, not by the last 30 seconds of traffic
-- (issue: "Every call counted once … at any history", Scale; README.md, Schema: "Count once, at
-- every moment").
--
-- The pairs applied at read (count_once_pending) and each run of the decider started from every
-- call key stored in the 30 s before the decider's last run: the window reaches back 30 s for
-- inserts in flight (a key's inserted_at is taken before its insert commits). So a key was looked
-- at again by about 15 runs of the decider, and by every read, after it was decided: at 1,000
-- calls a second, 30,000 calls (bench/views.ts: the decider's run grew from 0.3 to 2 s over the
-- first 12 s of traffic, against its 2 s interval).
--
-- Now a key whose span's decision is stored leaves that set (count_once_fresh): the decider's own
-- rows in llm_spans_data (version > 0, stored in the window) say which. The 30 s window stays for
-- what it is for: a key committed late is in the set whatever its inserted_at. A read that sees a
-- span's decided row sees its decision (the row is the decision); pairs with spans stored later
-- are found from those spans, which are in the set.
--
-- Decided by a run before the last one (inserted_at < through, the last run's time), not by the
-- last: one run reads the keys more than once (its pairs, its traces, which spans it writes), at
-- moments apart, so a key stored while it runs can be written by it with its pairs not looked up;
-- the next run, which sees that key from its start, decides it again. And a run's rows are not
-- all stored at once: until the next run, some of them may be.
--
-- And the decider writes only spans whose key is stored. A span's row in llm_spans_data and its
-- key in call_keys_by_hour are written by two views of one insert, not atomically: a span whose
-- row the decider saw before its key would have been written with no pair looked up for it, and
-- so left the set. Kept back, it is decided by the first run after its key is stored, as a span
-- whose key is stored late always was.
CREATE OR REPLACE VIEW ${db}.count_once_fresh AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') AS through,
    through - INTERVAL 30 SECOND AS since
SELECT trace_id, span_id, timestamp, response_id, output_digest
FROM ${db}.call_keys_by_hour
WHERE inserted_at >= since
  AND (trace_id, span_id) NOT IN (SELECT trace_id, span_id FROM ${db}.llm_spans_data WHERE inserted_at >= since AND inserted_at < through AND version > 0);

-- The candidates of 0074, from those keys.
CREATE OR REPLACE VIEW ${db}.count_once_candidates AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    since - INTERVAL 1 HOUR AS horizon,
    -- read once (a scalar), by the hours and the three lookups below
    (SELECT groupArray((trace_id, toStartOfHour(timestamp), response_id, output_digest)) FROM ${db}.count_once_fresh) AS fresh,
    arrayDistinct(arrayFlatten(arrayMap(h -> [h - INTERVAL 1 HOUR, h, h + INTERVAL 1 HOUR], arrayDistinct(arrayMap(f -> f.2, fresh))))) AS hours
SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
FROM (
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM ${db}.call_keys_by_hour
    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours))
      AND trace_id IN (SELECT arrayJoin(fresh).1)
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND inserted_at >= horizon AND response_id != ''
          AND response_id IN (SELECT r FROM (SELECT arrayJoin(fresh).3 AS r) WHERE r != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY response_id
    )
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys_by_hour
        WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND inserted_at >= horizon AND output_digest != ''
          AND output_digest IN (SELECT d FROM (SELECT arrayJoin(fresh).4 AS d) WHERE d != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY model, output_digest
    )
)
LIMIT 1 BY trace_id, span_id;

-- The decider of 0074, from those keys, writing only spans whose key is stored.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    (SELECT (groupUniqArray(trace_id), groupUniqArray(toStartOfHour(timestamp))) FROM ${db}.count_once_fresh) AS fresh,
    arrayDistinct(arrayConcat(fresh.1, arrayMap(p -> p.1, pairs), arrayMap(p -> p.3, pairs))) AS traces,
    arrayDistinct(arrayFlatten(arrayMap(h -> [h - INTERVAL 1 HOUR, h, h + INTERVAL 1 HOUR],
        arrayConcat(fresh.2, arrayMap(p -> toStartOfHour(p.5), pending))))) AS hours,
    -- per pair: the application's service, session and user, the gateway's team and key
    (
        SELECT groupArray((p.1, p.2, p.3, p.4, a.service_name, a.session_id, a.user_id, g.team, g.key_name))
        FROM (SELECT arrayJoin(pairs) AS p) AS pp
        INNER JOIN (SELECT trace_id, span_id, service_name, session_id, user_id FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(pairs).1)
                    LIMIT 1 BY trace_id, span_id) AS a
            ON a.trace_id = pp.p.1 AND a.span_id = pp.p.2
        INNER JOIN (SELECT trace_id, span_id, team, key_name FROM ${db}.call_keys_by_hour
                    WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(pairs).3)
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
            WHERE toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(traces))
            GROUP BY trace_id
        )
    ) AS traces_read,
    traces_read.1 AS callers,
    range(1, length(info) + 1) AS positions,
    transform(concat(trace_id, '/', span_id), arrayMap(x -> concat(x.1, '/', x.2), info), positions, 0) AS ai,
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
                 new_run_id, new_link_trace_id, new_link_span_id, prior_version, prior, next) REPLACE (
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
    FROM ${db}.llm_spans_data FINAL
    WHERE span_kind IN ('LLM', 'EMBEDDING', 'RERANKER')
      AND toStartOfHour(timestamp) IN (SELECT arrayJoin(hours)) AND trace_id IN (SELECT arrayJoin(traces))
      -- only spans whose call key is stored: a span the decider writes counts as decided
      -- (count_once_fresh), and its pairs are found through its key
      AND (trace_id, span_id) IN (SELECT arrayJoin(traces_read.2))
)
WHERE prior_version = 0 OR prior != next
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;
