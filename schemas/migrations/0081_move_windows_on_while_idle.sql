-- Windows that move on while idle: the decider's and the rollups' "since the last run" windows
-- end 30 s before the later of what their last run saw and when their last completed run started,
-- and a decided key leaves the decider's fresh set once a run that started after its decision was
-- stored has completed, whether it wrote or not (README.md, Schema: "Count once, at every
-- moment"; bench/README.md).
--
-- Each window started 30 s (inserts in flight: a row's inserted_at is taken before its insert
-- commits) before refresh_progress, the newest insert its refresh's last writing run saw. With
-- nothing arriving no run writes, so the last 30 s of a burst stayed in every window until traffic
-- came back: its keys in count_once_fresh (0078: a key left once a later run had written; measured
-- 4,200 keys 36 minutes after a burst), its minutes, hours, days and runs open, computed from the
-- spans at every read and by every refresh. Measured on 11 million spans a minute after a burst:
-- the 30-day usage query 272 ms against 159 with the windows moved on, llm_spans' last hour 183
-- against 94, agent_runs' 1,167 against 456; and the refreshes kept recomputing them every few
-- seconds.
--
-- The engine records when each refreshable view's last successful run started
-- (system.view_refreshes.last_success_time, in whole seconds, so never after the true start). Runs
-- of one view do not overlap: when that run started, every earlier run had ended, its rows
-- stored, and every insert whose inserted_at is 30 s older had committed. So that run read all of
-- them: a refresh stored what they touch as of then, and the decider looked a key stored then up
-- whole, writing its decision again if it differed (its own rows carry its start as inserted_at,
-- never earlier than the recorded time). Nothing older than that start minus 30 s needs a window.
--
-- Where a view has not succeeded since the engine started (or was made), the time is the epoch and
-- the rules of 0056-0080 alone apply. On a cluster each node runs its own refreshes over its
-- shard; readers through the Distributed tables take the earliest of every node's
-- (schemas/cluster.ts reads the table through clusterAllReplicas there), and a node with none yet
-- makes it the epoch. A refresh's progress (refresh_progress) is unchanged: it is still the newest
-- insert it saw. The start times of every refresh are one view (refresh_starts) read through one
-- scalar, the same text in each window below, so that a reader of several windows computes it
-- once (a usage panel over 6 hours: 139 ms with a scalar per window, 130 with one).

-- When each refreshable view's last successful run started: the earliest of every node's on a
-- cluster (through clusterAllReplicas there; a node's own in the views its refreshes read), the
-- epoch while a node has none.
CREATE OR REPLACE VIEW ${db}.refresh_starts AS
SELECT view, if(countIf(isNull(last_start)) > 0, toDateTime64(0, 3), toDateTime64(assumeNotNull(min(last_start)), 3)) AS started
FROM (
    SELECT view, hostName() AS node, max(last_success_time) AS last_start
    FROM system.view_refreshes
    WHERE database = '${db}'
    GROUP BY view, node
)
GROUP BY view;

-- count_once_fresh (0078): keys stored since the window's start whose decision was stored by no
-- run before the later of the last writing run and the last completed run.
CREATE OR REPLACE VIEW ${db}.count_once_fresh AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') AS through,
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest(through, arrayFirst(r -> r.1 = 'llm_spans_count_once', runs).2) AS settled,
    settled - INTERVAL 30 SECOND AS since
SELECT trace_id, span_id, timestamp, response_id, output_digest
FROM ${db}.call_keys_by_hour
WHERE inserted_at >= since
  AND (trace_id, span_id) NOT IN (SELECT trace_id, span_id FROM ${db}.llm_spans_data WHERE inserted_at >= since AND inserted_at < settled AND version > 0);

-- usage_minutely_open (0056), usage_hourly_open (0077), usage_daily_open (0080), agent_runs_open
-- (0056): what the inserts since the window's start and the pairs not yet decided touch.
CREATE OR REPLACE VIEW ${db}.usage_minutely_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_minutely'), arrayFirst(r -> r.1 = 'usage_minutely_refresh', runs).2) - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT minute FROM (
    SELECT toStartOfMinute(timestamp) AS minute FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfMinute(arrayJoin(pending).5)
);

CREATE OR REPLACE VIEW ${db}.usage_hourly_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_hourly'), arrayFirst(r -> r.1 = 'usage_hourly_refresh', runs).2) - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT hour FROM (
    SELECT toStartOfHour(toDateTime(timestamp)) AS hour FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfHour(toDateTime(arrayJoin(pending).5))
);

CREATE OR REPLACE VIEW ${db}.usage_daily_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'usage_daily'), arrayFirst(r -> r.1 = 'usage_daily_refresh', runs).2) - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT day FROM (
    SELECT toStartOfDay(toDateTime(timestamp)) AS day FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT toStartOfDay(toDateTime(arrayJoin(pending).5))
);

CREATE OR REPLACE VIEW ${db}.agent_runs_open AS
WITH
    -- one scalar, the same text in every window below: computed once a query
    (SELECT groupArray((view, started)) FROM ${db}.refresh_starts) AS runs,
    greatest((SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'agent_runs'), arrayFirst(r -> r.1 = 'agent_runs_refresh', runs).2) - INTERVAL 30 SECOND AS since,
    (SELECT groupArray((app_trace_id, app_span_id, gateway_trace_id, gateway_span_id, app_timestamp)) FROM ${db}.count_once_pending) AS pending
SELECT DISTINCT run_id FROM (
    SELECT arrayJoin([trace_id, run_id]) AS run_id FROM ${db}.llm_spans_data WHERE inserted_at >= since
    UNION ALL
    SELECT arrayJoin(arrayFlatten(arrayMap(p -> [p.1, p.3], pending)))
);
