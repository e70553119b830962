-- Count once at every moment (README.md, Schema: "Count once, at every moment").
--
-- The rule. A call recorded by both the application and the gateway counts once, with the
-- gateway's figures: the gateway's span counts from the moment it is stored, and the
-- application's span is uncounted from the moment the two spans' pair is seen (call_keys, 0054,
-- written by the same insert before its llm_spans rows). An application's span with no gateway
-- span (yet) counts. So a reader never counts a call twice and never misses the gateway's figure,
-- whatever the order and delay of the two spans: what changes when the second span arrives
-- changes in the same read.
--
-- How. The decision is made twice over with one definition of a pair (count_once_pending):
--   at read: the `llm_spans` view uncounts the application's span of every pair that involves a
--     span not yet decided (stored since the decider's last run, minus 30 seconds for inserts in
--     flight), so its work is bounded by the last seconds of traffic, not by history;
--   by the decider (llm_spans_count_once, every 2 seconds): it writes the decision into
--     llm_spans_data as a new version of each row concerned (counted, superseded_by, the
--     caller's service, session and user on the gateway's row, the gateway's team and key on
--     the application's, run_id and links for a pair across traces) and so moves the window on.
-- Both readings agree, so a reader sees the same figures before and after a decision.
--
-- A gateway span whose caller's span never arrives (the instrumentation does not export a
-- failed call) is billed to the calling service of its trace: the root span's service when it
-- is another service's, else the latest span of another service, else the gateway's own (the
-- key's team stays in `team`). It is decided again whenever its trace receives a span.
--
-- run_id: the agent run a row belongs to, its trace_id except for the gateway's span of a call
-- paired across traces (no traceparent), which belongs to the application's run.
CREATE TABLE IF NOT EXISTS ${db}.refresh_progress (
    name LowCardinality(String),
    through DateTime64(3)
) ENGINE = ReplacingMergeTree(through)
ORDER BY name;

ALTER TABLE ${db}.llm_spans_data ADD COLUMN IF NOT EXISTS run_id String DEFAULT trace_id CODEC(ZSTD(1));

ALTER TABLE ${db}.llm_spans_data ADD INDEX IF NOT EXISTS idx_run_id run_id TYPE bloom_filter(0.001) GRANULARITY 1;

-- (a background mutation: parts stored before it are read whole by a run lookup until it ends)
ALTER TABLE ${db}.llm_spans_data MATERIALIZE INDEX idx_run_id;

-- Where the decider has got to: the time of its last run that wrote rows (its rows carry
-- version > 0 and inserted_at = the run's start).
CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.count_once_progress_mv TO ${db}.refresh_progress AS
SELECT 'count_once' AS name, max(inserted_at) AS through
FROM ${db}.llm_spans_data
WHERE version > 0
HAVING count() > 0;

-- Pairs (application span, gateway span) that involve a span stored since the decider's last
-- run: the rule of 0054 over those spans and every span they may pair with, however old.
CREATE VIEW IF NOT EXISTS ${db}.count_once_pending AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    -- computed once (a scalar), read by the three rules below
    (
        SELECT groupArray((trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp))
        FROM (
            SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
            FROM ${db}.call_keys
            WHERE trace_id IN (SELECT trace_id FROM ${db}.call_keys WHERE inserted_at >= since)
               OR (response_id != '' AND response_id IN (
                       SELECT response_id FROM ${db}.call_keys WHERE inserted_at >= since AND response_id != ''))
               OR (output_digest != '' AND output_digest IN (
                       SELECT output_digest FROM ${db}.call_keys WHERE inserted_at >= since AND output_digest != ''))
            LIMIT 1 BY trace_id, span_id
        )
    ) AS candidates,
    -- through traceparent: the gateway's parent is the application's span, or a hop whose parent is
    by_parent AS (
        SELECT trace_id AS app_trace_id, pair.2 AS app_span_id, trace_id AS gateway_trace_id, pair.1 AS gateway_span_id,
               app_times[indexOf(apps, pair.2)] AS app_timestamp
        FROM (
            SELECT c.1 AS trace_id,
                   groupArrayIf((c.2, c.3), c.4 = 'gateway' AND c.3 != '') AS gateways,
                   groupArrayIf(c.2, c.4 = 'app') AS apps,
                   groupArrayIf(c.8, c.4 = 'app') AS app_times,
                   groupArrayIf((c.2, c.3), c.4 = 'hop') AS hops
            FROM (SELECT arrayJoin(candidates) AS c)
            GROUP BY trace_id
            HAVING notEmpty(gateways) AND notEmpty(apps)
        )
        ARRAY JOIN arrayMap(g -> (g.1, multiIf(
            has(apps, g.2), g.2,
            has(apps, arrayFirst(h -> h.1 = g.2, hops).2), arrayFirst(h -> h.1 = g.2, hops).2,
            '')), gateways) AS pair
        WHERE pair.2 != ''
    ),
    -- the same response id
    by_id AS (
        SELECT app.1 AS app_trace_id, app.2 AS app_span_id, gateways[1].1 AS gateway_trace_id, gateways[1].2 AS gateway_span_id,
               app.3 AS app_timestamp
        FROM (
            SELECT c.6 AS rid,
                   groupArrayIf((c.1, c.2, c.8), c.4 = 'app') AS apps,
                   groupArrayIf((c.1, c.2), c.4 = 'gateway') AS gateways
            FROM (SELECT arrayJoin(candidates) AS c)
            WHERE c.6 != ''
            GROUP BY rid
            HAVING notEmpty(apps) AND notEmpty(gateways)
        )
        ARRAY JOIN apps AS app
    ),
    -- no id: model and answer digest, the gateway called without traceparent, one to one in
    -- time order, within 10 minutes
    by_digest AS (
        SELECT p.1.1 AS app_trace_id, p.1.2 AS app_span_id, p.2.1 AS gateway_trace_id, p.2.2 AS gateway_span_id,
               p.1.3 AS app_timestamp
        FROM (
            SELECT c.5 AS model, c.7 AS digest,
                   arraySort(x -> x.3, groupArrayIf((c.1, c.2, c.8), c.4 = 'app' AND c.6 = '')) AS apps,
                   arraySort(x -> x.3, groupArrayIf((c.1, c.2, c.8), c.4 = 'gateway' AND c.3 = '')) AS gateways
            FROM (SELECT arrayJoin(candidates) AS c)
            WHERE c.7 != ''
            GROUP BY model, digest
            HAVING notEmpty(apps) AND notEmpty(gateways)
        )
        ARRAY JOIN arrayZip(arraySlice(apps, 1, least(length(apps), length(gateways))),
                            arraySlice(gateways, 1, least(length(apps), length(gateways)))) AS p
        WHERE p.1.1 != p.2.1 AND abs(toUnixTimestamp64Milli(p.1.3) - toUnixTimestamp64Milli(p.2.3)) <= 600000
    )
SELECT DISTINCT app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp
FROM (
    SELECT * FROM by_parent
    UNION ALL SELECT * FROM by_id
    UNION ALL SELECT * FROM by_digest
);

-- What SQL users and dashboards read: the latest version of every span, with the pairs not yet
-- decided applied (an application's span of such a pair is uncounted).
-- (`pending` is a scalar with the same text wherever a view reads it: the engine computes it once
-- per query however many views of one query read it)
CREATE OR REPLACE VIEW ${db}.llm_spans AS
WITH (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT * EXCEPT (eval_items, version) REPLACE (
    counted AND NOT (origin = 'app' AND (trace_id, span_id) IN (SELECT p.1, p.2 FROM (SELECT arrayJoin(pending) AS p))) AS counted)
FROM ${db}.llm_spans_data FINAL;

-- The decider: the rows of every trace that received a span since its last run, and the other
-- side of their pairs, written again (version + 1) when the decision changes them or when they
-- have not been decided yet.
DROP TABLE IF EXISTS ${db}.llm_spans_count_once;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.llm_spans_count_once
REFRESH EVERY 2 SECOND APPEND TO ${db}.llm_spans_data AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending,
    arrayMap(p -> (p.1, p.2, p.3, p.4), pending) AS pairs,
    (
        SELECT groupUniqArray(trace_id) FROM (
            SELECT trace_id FROM ${db}.call_keys WHERE inserted_at >= since
            UNION ALL SELECT arrayJoin(pairs).1
            UNION ALL SELECT arrayJoin(pairs).3)
    ) AS traces,
    -- per pair: the application's service, session and user, the gateway's team and key
    (
        SELECT groupArray((p.1, p.2, p.3, p.4, a.service_name, a.session_id, a.user_id, g.team, g.key_name))
        FROM (SELECT arrayJoin(pairs) AS p) AS pp
        INNER JOIN (SELECT trace_id, span_id, service_name, session_id, user_id FROM ${db}.call_keys
                    WHERE trace_id IN (SELECT arrayJoin(pairs).1) LIMIT 1 BY trace_id, span_id) AS a
            ON a.trace_id = pp.p.1 AND a.span_id = pp.p.2
        INNER JOIN (SELECT trace_id, span_id, team, key_name FROM ${db}.call_keys
                    WHERE trace_id IN (SELECT arrayJoin(pairs).3) LIMIT 1 BY trace_id, span_id) AS g
            ON g.trace_id = pp.p.3 AND g.span_id = pp.p.4
    ) AS info,
    -- per trace: the service of its root span when another service's, else of the latest span of
    -- another service than the gateway's
    (
        SELECT groupArray((trace_id, if(root_service != '', root_service, other_service)))
        FROM (
            SELECT trace_id,
                   argMinIf(service_name, timestamp, parent_span_id = '' AND role != 'gateway') AS root_service,
                   argMaxIf(service_name, timestamp, role != 'gateway') AS other_service
            FROM ${db}.call_keys
            WHERE trace_id IN (SELECT arrayJoin(traces))
            GROUP BY trace_id
        )
    ) AS callers,
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
    WHERE span_kind IN ('LLM', 'EMBEDDING', 'RERANKER') AND trace_id IN (SELECT arrayJoin(traces))
)
WHERE prior_version = 0 OR prior != next
SETTINGS use_index_for_in_with_subqueries_max_values = 10000;
