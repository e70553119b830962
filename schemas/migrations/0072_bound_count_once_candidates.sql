-- Count-once candidates, bounded (issue: hardening; README, Schema: "Count once, at every moment").
--
-- count_once_pending (0055) pairs the spans stored since the decider's last run with every span
-- they may pair with: the rest of their traces, and every span, however old, with the same
-- response id or the same answer digest. The last two were bounded by history, not by traffic:
-- an answer every classifier gives ("yes") or an id an OTLP sender repeats on purpose made every
-- read of llm_spans gather every such span ever stored.
--
-- Now a span pairs by id or digest only with spans stored in the hour before the window (an
-- application's span exported more than an hour after its gateway span, or the reverse, with no
-- traceparent between them, counts twice), and with at most the 1,000 latest spans of one id or
-- one (model, digest). The digest rule pairs only spans within 10 minutes of each other, so the
-- hour loses no pair of spans exported on time; 1,000 spans sharing one id are not one call.
-- Pairs through a traceparent are unchanged (a trace is its sender's own, read by its key).
--
-- The candidates are a view of their own so their bound can be read (and tested).
--
-- And: a gateway span whose response id an application span holds pairs with that span only, not
-- also by digest with an application span that has no id (a stream's, when many calls get the
-- same answer): found with two collectors and one answer text for every call
-- (test/collector/count-once-collectors.test.ts).
CREATE OR REPLACE VIEW ${db}.count_once_candidates AS
WITH
    (SELECT max(through) FROM ${db}.refresh_progress WHERE name = 'count_once') - INTERVAL 30 SECOND AS since,
    since - INTERVAL 1 HOUR AS horizon
SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
FROM (
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM ${db}.call_keys
    WHERE trace_id IN (SELECT trace_id FROM ${db}.call_keys WHERE inserted_at >= since)
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys
        WHERE inserted_at >= horizon AND response_id != ''
          AND response_id IN (SELECT response_id FROM ${db}.call_keys WHERE inserted_at >= since AND response_id != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY response_id
    )
    UNION ALL
    SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp
    FROM (
        SELECT trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp, inserted_at
        FROM ${db}.call_keys
        WHERE inserted_at >= horizon AND output_digest != ''
          AND output_digest IN (SELECT output_digest FROM ${db}.call_keys WHERE inserted_at >= since AND output_digest != '')
        ORDER BY inserted_at DESC
        LIMIT 1000 BY model, output_digest
    )
)
LIMIT 1 BY trace_id, span_id;

-- count_once_pending as 0055 made it, reading the bounded candidates.
CREATE OR REPLACE VIEW ${db}.count_once_pending AS
WITH
    -- computed once (a scalar), read by the three rules below
    (
        SELECT groupArray((trace_id, span_id, parent_span_id, role, model, response_id, output_digest, timestamp))
        FROM ${db}.count_once_candidates
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
    -- time order, within 10 minutes; a gateway span whose response id an application span holds
    -- is that span's (by_id), never another's by digest (the same answer to many calls)
    by_digest AS (
        SELECT p.1.1 AS app_trace_id, p.1.2 AS app_span_id, p.2.1 AS gateway_trace_id, p.2.2 AS gateway_span_id,
               p.1.3 AS app_timestamp
        FROM (
            SELECT c.5 AS model, c.7 AS digest,
                   arraySort(x -> x.3, groupArrayIf((c.1, c.2, c.8), c.4 = 'app' AND c.6 = '')) AS apps,
                   arraySort(x -> x.3, groupArrayIf((c.1, c.2, c.8), c.4 = 'gateway' AND c.3 = '')) AS gateways
            FROM (SELECT arrayJoin(candidates) AS c)
            WHERE c.7 != ''
              AND (c.4 != 'gateway' OR c.6 = '' OR c.6 NOT IN (
                    SELECT arrayJoin(arrayMap(x -> x.6, arrayFilter(x -> x.4 = 'app' AND x.6 != '', candidates)))))
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
