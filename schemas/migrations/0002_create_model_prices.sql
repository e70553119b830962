-- The model price table (schemas/prices.json), loaded by the migration runner after every
-- migrate (schemas/price-load.ts): one load is a set of rows sharing load_id; readers take the
-- newest load, so a reload never leaves a moment with no prices. `regex` is the glob of
-- `pattern` compiled to an RE2 expression by the same code the collector prices with, and
-- `weight` orders the matches: the first regex (highest weight, then file order) that matches
-- the canonical model name wins, as in schemas/prices.ts. USD per million tokens; a missing
-- cached_input / cache_write price is stored as the input price, reasoning as the output price.
--
-- Pricing a model in SQL (what the llm_spans view does):
--   WITH (SELECT groupArray((regex, input, output, cached_input, cache_write, reasoning))
--         FROM (SELECT * FROM tracegate.model_prices
--               WHERE load_id = (SELECT max(load_id) FROM tracegate.model_prices)
--               ORDER BY weight DESC, ordinal)) AS prices
--   SELECT prices[arrayFirstIndex(p -> match('gpt-4o-mini-2024-07-18', p.1), prices)]
-- (llm_spans_mv gets the same index from one Hyperscan pass over every pattern:
--  arrayMin(multiMatchAllIndices(model, arrayMap(p -> p.1, prices))), 0 when none matches.)
-- In a cluster this table is replicated to every node (not sharded).
CREATE TABLE IF NOT EXISTS ${db}.model_prices (
    load_id UInt64,
    ordinal UInt32,
    pattern String,
    regex String,
    weight UInt32,
    provider LowCardinality(String),
    input Float64,
    output Float64,
    cached_input Float64,
    cache_write Float64,
    reasoning Float64,
    taken Date,
    loaded_at DateTime64(3) DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY (load_id, ordinal);
