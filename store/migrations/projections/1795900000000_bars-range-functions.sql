-- Up Migration
-- Bars of one symbol in [from, to): one function per interval, `<relation>_between(symbol, from, to)` (a NULL bound is
-- open), on both storage paths — the API's one query surface for bars.
-- Why: on the plain path the 5m/15m/1h views group minute bars by date_bin(bucket), so a time predicate on the view
-- reaches bars_1m as a predicate on date_bin(bucket), which cannot prune partitions: every monthly partition holding
-- the symbol was read. These functions put the range on bars_1m.bucket itself (the end widened by one bucket width,
-- so the last bucket is whole), then keep the buckets that start inside [from, to) — the view's result exactly.
-- They are simple STABLE, non-STRICT SQL functions, so the planner inlines them into the caller's query and prunes
-- partitions with the bound values. The bodies are not bound to the tables (no BEGIN ATOMIC), so a rebuild's swap
-- of bars_1m and the views leaves them valid.
CREATE FUNCTION tf_create_bar_range_functions() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ts boolean := tf_timescale_enabled();
  relation text;
  width text;
  result_columns text := 'symbol text, bucket timestamptz, open double precision, high double precision, low double precision,
    close double precision, volume double precision, vwap double precision, transactions bigint';
BEGIN
  FOR relation, width IN SELECT * FROM (VALUES ('bars_1m', NULL), ('bars_1d', NULL), ('bars_5m', '5 minutes'), ('bars_15m', '15 minutes'), ('bars_1h', '1 hour')) AS v(r, w) LOOP
    IF width IS NULL OR ts THEN
      -- Tables, and the continuous aggregates (TimescaleDB pushes the bucket range into them itself).
      EXECUTE format($sql$
        CREATE OR REPLACE FUNCTION %I(p_symbol text, p_from timestamptz, p_to timestamptz) RETURNS TABLE (%s)
        LANGUAGE sql STABLE AS $body$
          SELECT symbol, bucket, open, high, low, close, volume, vwap, transactions FROM %I
          WHERE symbol = p_symbol AND bucket >= coalesce(p_from, '-infinity') AND bucket < coalesce(p_to, 'infinity')
        $body$$sql$, relation || '_between', result_columns, relation);
    ELSE
      -- The plain view's aggregation, with the range on the minute bars' partition key.
      EXECUTE format($sql$
        CREATE OR REPLACE FUNCTION %I(p_symbol text, p_from timestamptz, p_to timestamptz) RETURNS TABLE (%s)
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
        $body$$sql$, relation || '_between', result_columns, width, width, width, width, width);
    END IF;
  END LOOP;
END
$fn$;

SELECT tf_create_bar_range_functions();

-- Down Migration
DROP FUNCTION IF EXISTS bars_1m_between(text, timestamptz, timestamptz), bars_1d_between(text, timestamptz, timestamptz),
  bars_5m_between(text, timestamptz, timestamptz), bars_15m_between(text, timestamptz, timestamptz),
  bars_1h_between(text, timestamptz, timestamptz), tf_create_bar_range_functions();
