-- Count-once keys leave the fresh set once a later decider run has completed, whether or not
-- it wrote (README.md, Schema: "Count once, at every moment"; bench/README.md: "keys stay fresh
-- while idle").
--
-- 0078 took a key out of count_once_fresh once its decision was stored by a run before the
-- decider's last run that wrote rows (refresh_progress 'count_once': the start of that run). A run
-- writes only decisions that change, so with nothing arriving no run writes, and the keys the last
-- writing run decided stayed in the set until traffic came back: measured, 4,200 keys 36 minutes
-- after a burst, every reader paying for them (count_once_pending 145-158 ms against 57-88 ms with
-- an empty set) and every decider run looking them up again every 2 s.
--
-- What 0078 waits for is a run that saw the key from its start: it looks the key's pairs up whole
-- and writes the decision again if it differs. Any completed run that started after the decision
-- was stored is one, whether it wrote or not. The engine records when the decider's last
-- successful run started (system.view_refreshes.last_success_time, whole seconds, so never later
-- than the true start). Runs of one view do not overlap: every run before it had ended, its rows
-- stored, when it started, and its own rows carry its start (inserted_at), never earlier than that
-- time. So a decision stored before that time has been seen by a run from its start.
--
-- Where no run has succeeded since the engine started (or the view was made), the time is the
-- epoch and 0078's rule alone applies. On a cluster each node runs its own decider over its shard;
-- readers through the Distributed tables take the earliest of every node's (schemas/cluster.ts
-- reads the table through clusterAllReplicas there), and a node that has not succeeded yet makes
-- it the epoch.
CREATE OR REPLACE VIEW ${db}.count_once_fresh AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') AS through,
    through - INTERVAL 30 SECOND AS since,
    (
        SELECT if(count() = 0 OR countIf(isNull(started)) > 0, toDateTime64(0, 3), toDateTime64(min(started), 3))
        FROM (
            SELECT hostName() AS node, max(last_success_time) AS started
            FROM system.view_refreshes
            WHERE database = '${db}' AND view = 'llm_spans_count_once'
            GROUP BY node
        )
    ) AS verified,
    greatest(through, ifNull(verified, toDateTime64(0, 3))) AS settled
SELECT trace_id, span_id, timestamp, response_id, output_digest
FROM ${db}.call_keys_by_hour
WHERE inserted_at >= since
  AND (trace_id, span_id) NOT IN (SELECT trace_id, span_id FROM ${db}.llm_spans_data WHERE inserted_at >= since AND inserted_at < settled AND version > 0);
