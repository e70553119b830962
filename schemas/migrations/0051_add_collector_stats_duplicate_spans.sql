-- Spans a collector acknowledged without storing them again: their request was spooled lately
-- (a sender's retry after a lost answer). received = accepted + duplicate + refused.
ALTER TABLE ${db}.collector_stats ADD COLUMN IF NOT EXISTS duplicate_spans UInt64 DEFAULT 0 AFTER accepted_spans;
