-- Up Migration
-- Three changes to how the API reads bars on TimescaleDB, and one function the projector needs (issue #20):
--
-- 1. `<relation>_between(symbol, from, to, latest)`: the bars of one symbol in [from, to), or only the latest `latest`
--    of them (NULL: all). The API's bar read passes its limit here instead of around the call.
--    Why: on TimescaleDB the 5m/15m/1h bars are real-time continuous aggregates, a UNION of the materialized buckets
--    below the aggregate's watermark and an aggregation of the minute bars above it, with the watermark written as
--    `COALESCE(to_timestamp(cagg_watermark(id)), '-infinity')`. TimescaleDB replaces that call by a constant
--    (timescaledb.enable_cagg_watermark_constify, on by default) in its planner hook, on the query tree it is handed,
--    before PostgreSQL inlines SQL functions: through the inlined SQL function of 1795900000000 the view only appears
--    after that step, so the watermark stayed a function call, the planner kept every chunk of bars_1m for the
--    real-time part (one partial aggregate per chunk) and evaluated the watermark as a filter. Bound parameters or
--    prepared statements play no part (the view queried directly with the same parameters is constified). On that
--    path these three functions are now PL/pgSQL: their query is planned on its own, with the view already
--    expanded, so the hook sees the watermark and folds it; `latest` keeps the LIMIT inside that query (the
--    dashboard asks for the latest 1000 bars with no range). TimescaleDB invalidates the plans it constified when
--    the watermark moves, so PL/pgSQL's cached plans stay right. Tables (bars_1m, bars_1d) and the plain path's views
--    keep inlined SQL functions: there the caller's parameter values prune chunks and partitions while planning.
-- 2. bars_1m's chunks span 7 days instead of 1 (new chunks; existing ones keep their span): every read over a long
--    range (the latest bars with no `from`, a symbol's first bar, the aggregates' real-time part before a refresh)
--    is planned chunk by chunk, and a compressed chunk costs several times an uncompressed one to plan (a year of
--    one-day chunks: ~250 of them). The compression settings already match the API's read (segment by symbol, order
--    by bucket DESC: an index on the compressed chunks' symbol and the ordered scan stops after the newest batches).
-- 3. `tf_aggregate_watermarks(source)`: each continuous aggregate on a hypertable with its watermark (where its
--    materialized buckets end), so the projector can refresh the window of rows it committed below it (the
--    aggregate shows such rows only after a refresh).

-- The 1795900000000 versions take three arguments; a call with three now reaches the new ones (latest = NULL).
DROP FUNCTION bars_1m_between(text, timestamptz, timestamptz), bars_1d_between(text, timestamptz, timestamptz),
  bars_5m_between(text, timestamptz, timestamptz), bars_15m_between(text, timestamptz, timestamptz),
  bars_1h_between(text, timestamptz, timestamptz);

CREATE FUNCTION tf_create_bar_read_functions() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ts boolean := tf_timescale_enabled();
  relation text;
  width text;
  result_columns text := 'symbol text, bucket timestamptz, open double precision, high double precision, low double precision,
    close double precision, volume double precision, vwap double precision, transactions bigint';
BEGIN
  FOR relation, width IN SELECT * FROM (VALUES ('bars_1m', NULL), ('bars_1d', NULL), ('bars_5m', '5 minutes'), ('bars_15m', '15 minutes'), ('bars_1h', '1 hour')) AS v(r, w) LOOP
    IF width IS NULL THEN
      -- Tables: inlined into the caller's query, whose parameter values prune chunks or partitions while planning.
      EXECUTE format($sql$
        CREATE FUNCTION %I(p_symbol text, p_from timestamptz, p_to timestamptz, p_latest int DEFAULT NULL) RETURNS TABLE (%s)
        LANGUAGE sql STABLE AS $body$
          SELECT symbol, bucket, open, high, low, close, volume, vwap, transactions FROM %I
          WHERE symbol = p_symbol AND bucket >= coalesce(p_from, '-infinity') AND bucket < coalesce(p_to, 'infinity')
          ORDER BY bucket DESC LIMIT p_latest
        $body$$sql$, relation || '_between', result_columns, relation);
    ELSIF ts THEN
      -- Real-time continuous aggregates: planned on their own so that TimescaleDB folds the watermark (above).
      EXECUTE format($sql$
        CREATE FUNCTION %I(p_symbol text, p_from timestamptz, p_to timestamptz, p_latest int DEFAULT NULL) RETURNS TABLE (%s)
        LANGUAGE plpgsql STABLE AS $body$
        BEGIN
          RETURN QUERY
            SELECT v.symbol, v.bucket, v.open, v.high, v.low, v.close, v.volume, v.vwap, v.transactions FROM %I v
            WHERE v.symbol = p_symbol AND v.bucket >= coalesce(p_from, '-infinity') AND v.bucket < coalesce(p_to, 'infinity')
            ORDER BY v.bucket DESC LIMIT p_latest;
        END
        $body$$sql$, relation || '_between', result_columns, relation);
    ELSE
      -- The plain view's aggregation, with the range on the minute bars' partition key (as in 1795900000000).
      EXECUTE format($sql$
        CREATE FUNCTION %I(p_symbol text, p_from timestamptz, p_to timestamptz, p_latest int DEFAULT NULL) RETURNS TABLE (%s)
        LANGUAGE sql STABLE AS $body$
          SELECT symbol, date_bin(%L::interval, bucket, timestamptz '2000-01-01'),
                 (array_agg(open ORDER BY bucket))[1], max(high), min(low), (array_agg(close ORDER BY bucket DESC))[1],
                 sum(volume),
                 sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL) / nullif(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0),
                 sum(transactions)::bigint
          FROM bars_1m
          WHERE symbol = p_symbol AND bucket >= coalesce(p_from, '-infinity') AND bucket < coalesce(p_to, 'infinity') + %L::interval
          GROUP BY symbol, date_bin(%L::interval, bucket, timestamptz '2000-01-01')
          HAVING date_bin(%L::interval, bucket, timestamptz '2000-01-01') >= coalesce(p_from, '-infinity')
             AND date_bin(%L::interval, bucket, timestamptz '2000-01-01') < coalesce(p_to, 'infinity')
          ORDER BY 2 DESC LIMIT p_latest
        $body$$sql$, relation || '_between', result_columns, width, width, width, width, width);
    END IF;
  END LOOP;
END
$fn$;

SELECT tf_create_bar_read_functions();

-- 2. Seven-day chunks for bars_1m, here and in the tables a rebuild creates (tf_create_bar_tables keeps its name).
ALTER FUNCTION tf_create_bar_tables(text) RENAME TO tf_create_bar_tables_one_day_chunks;

CREATE FUNCTION tf_create_bar_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM tf_create_bar_tables_one_day_chunks(suffix);
  IF tf_timescale_enabled() THEN
    PERFORM set_chunk_time_interval('bars_1m' || suffix, interval '7 days');
  END IF;
END
$fn$;

DO $do$
BEGIN
  IF tf_timescale_enabled() THEN
    PERFORM set_chunk_time_interval('bars_1m', interval '7 days');
  END IF;
END
$do$;

-- 3. Continuous aggregates on `source` (a hypertable of this schema) and their watermarks; none on the plain path.
-- PL/pgSQL so that the body, which names TimescaleDB's catalog, is only resolved where the extension exists.
CREATE FUNCTION tf_aggregate_watermarks(source text) RETURNS TABLE (view_name text, watermark timestamptz)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF NOT tf_timescale_enabled() THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT aggregate.user_view_name::text,
           _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(aggregate.mat_hypertable_id))
      FROM _timescaledb_catalog.continuous_agg aggregate
      JOIN _timescaledb_catalog.hypertable raw ON raw.id = aggregate.raw_hypertable_id
     WHERE raw.schema_name = current_schema() AND raw.table_name = source
     ORDER BY 1;
END
$fn$;

-- Down Migration
DROP FUNCTION IF EXISTS tf_aggregate_watermarks(text);
DROP FUNCTION tf_create_bar_tables(text);
ALTER FUNCTION tf_create_bar_tables_one_day_chunks(text) RENAME TO tf_create_bar_tables;
DO $do$
BEGIN
  IF tf_timescale_enabled() THEN
    PERFORM set_chunk_time_interval('bars_1m', interval '1 day');
  END IF;
END
$do$;
DROP FUNCTION bars_1m_between(text, timestamptz, timestamptz, int), bars_1d_between(text, timestamptz, timestamptz, int),
  bars_5m_between(text, timestamptz, timestamptz, int), bars_15m_between(text, timestamptz, timestamptz, int),
  bars_1h_between(text, timestamptz, timestamptz, int), tf_create_bar_read_functions();
SELECT tf_create_bar_range_functions();
