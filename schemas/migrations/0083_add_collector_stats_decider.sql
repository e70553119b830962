-- The count-once decider's state, as each collector instance sees it on its node, beside the
-- collector's counters: a model call is read only once the decider has decided it (0082), so a
-- decider that stops or fails holds every new call back, and Grafana (which reads ClickHouse
-- alone) shows it on the pipeline board. decider_last_success: when its last successful run
-- started (system.view_refreshes; the epoch while it has none, or when the collector could not
-- read it); decider_exception: its last error, cut to 1,000 characters ('' when it succeeds).
ALTER TABLE ${db}.collector_stats ADD COLUMN IF NOT EXISTS decider_last_success DateTime64(3) DEFAULT 0, ADD COLUMN IF NOT EXISTS decider_exception String DEFAULT '';
