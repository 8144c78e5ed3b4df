-- Up Migration
-- Projection tables of Tickflow: reference data, bars, pattern events and current patterns, consumed offsets.
-- One file serves both paths: with TimescaleDB available (and not switched off with the session setting
-- `tickflow.timescale = off`) the time-series tables become hypertables with continuous aggregates,
-- compression and retention; without it they are declaratively range-partitioned with plain views.
-- Tables that a rebuild swaps are created by functions taking a name suffix, so `tickflow rebuild`
-- builds fresh copies with the very same DDL.

CREATE TABLE symbols (
  ticker text PRIMARY KEY,
  name text NOT NULL,
  market text NOT NULL,
  locale text NOT NULL DEFAULT 'us',
  type text,
  active boolean NOT NULL DEFAULT true,
  primary_exchange text,
  currency_name text,
  cik text,
  composite_figi text,
  share_class_figi text,
  market_cap double precision,
  shares_outstanding double precision,
  sic_code text,
  sic_description text,
  sector text,
  list_date date,
  updated_at timestamptz NOT NULL
);
CREATE INDEX symbols_market_ticker_idx ON symbols (market, ticker);
-- The scan's sector filter: lower(sector) = ANY(...).
CREATE INDEX symbols_lower_sector_idx ON symbols (lower(sector)) WHERE sector IS NOT NULL;
-- Prefix search (`/api/symbols?search=`): ticker LIKE 'X%' and lower(name) LIKE 'x%' need pattern-ops indexes.
CREATE INDEX symbols_ticker_prefix_idx ON symbols (ticker text_pattern_ops);
CREATE INDEX symbols_lower_name_idx ON symbols (lower(name) text_pattern_ops);

CREATE TABLE fundamentals (
  symbol text PRIMARY KEY,
  as_of_date date NOT NULL,
  fiscal_period text,
  fiscal_year int,
  eps double precision,
  eps_estimate double precision,
  eps_surprise_pct double precision,
  revenue double precision,
  revenue_yoy_growth_pct double precision,
  market_cap double precision,
  price_to_earnings double precision,
  price_to_book double precision,
  ev_to_ebitda double precision,
  dividend_yield double precision,
  debt_to_equity double precision,
  source text NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Where each projection has got to: the next offset to apply, written in the same transaction as the rows.
CREATE TABLE projection_offsets (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition)
);

-- Messages a projection could not turn into rows (undecodable, invalid): kept whole with the reason, never lost.
CREATE TABLE projection_rejects (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  kafka_offset bigint NOT NULL,
  reason text NOT NULL,
  payload bytea,
  rejected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition, kafka_offset)
);

-- Which storage path the migration took; the projector and the rebuild read it.
CREATE TABLE projection_settings (
  key text PRIMARY KEY,
  value text NOT NULL
);

CREATE FUNCTION tf_timescale_enabled() RETURNS boolean LANGUAGE sql STABLE AS $fn$
  SELECT coalesce((SELECT value = 'on' FROM projection_settings WHERE key = 'timescale'), false)
$fn$;

-- Monthly range partitions [from, to) for a partitioned table, plus a DEFAULT partition so no row is ever refused.
CREATE FUNCTION tf_ensure_monthly_partitions(parent text, from_month date, to_month date) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  month date := date_trunc('month', from_month)::date;
BEGIN
  WHILE month < to_month LOOP
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
      parent || '_p' || to_char(month, 'YYYYMM'), parent, month::timestamptz, (month + interval '1 month')::timestamptz);
    month := (month + interval '1 month')::date;
  END LOOP;
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I DEFAULT', parent || '_pdefault', parent);
END
$fn$;

-- bars_1m and bars_1d (+ suffix). Minute bars: hypertable by day, or monthly partitions. Daily bars: hypertable
-- by year, or yearly partitions.
CREATE FUNCTION tf_create_bar_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ts boolean := tf_timescale_enabled();
  tbl text;
  columns text := '(
    symbol text NOT NULL,
    bucket timestamptz NOT NULL,
    open double precision NOT NULL,
    high double precision NOT NULL,
    low double precision NOT NULL,
    close double precision NOT NULL,
    volume double precision NOT NULL,
    vwap double precision,
    transactions bigint,
    PRIMARY KEY (symbol, bucket))';
  year int;
BEGIN
  FOREACH tbl IN ARRAY ARRAY['bars_1m', 'bars_1d'] LOOP
    IF ts THEN
      EXECUTE format('CREATE TABLE %I %s', tbl || suffix, columns);
      PERFORM create_hypertable(tbl || suffix, 'bucket',
        chunk_time_interval => CASE WHEN tbl = 'bars_1m' THEN interval '1 day' ELSE interval '365 days' END,
        create_default_indexes => false);
      EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
        tbl || suffix, 'symbol', 'bucket DESC');
      IF tbl = 'bars_1m' THEN
        PERFORM add_compression_policy(tbl || suffix, interval '7 days');
        PERFORM add_retention_policy(tbl || suffix, interval '730 days');
      ELSE
        PERFORM add_compression_policy(tbl || suffix, interval '730 days');
      END IF;
    ELSE
      EXECUTE format('CREATE TABLE %I %s PARTITION BY RANGE (bucket)', tbl || suffix, columns);
      IF tbl = 'bars_1m' THEN
        PERFORM tf_ensure_monthly_partitions(tbl || suffix, (date_trunc('month', now()) - interval '24 months')::date,
          (date_trunc('month', now()) + interval '13 months')::date);
      ELSE
        FOR year IN 1990..2035 LOOP
          EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            tbl || suffix || '_y' || year, tbl || suffix, make_date(year, 1, 1)::timestamptz, make_date(year + 1, 1, 1)::timestamptz);
        END LOOP;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || suffix || '_pdefault', tbl || suffix);
      END IF;
    END IF;
    -- The API reads recent bars of many symbols by time as well as one symbol's history (the primary key).
    EXECUTE format('CREATE INDEX %I ON %I (bucket DESC)', tbl || suffix || '_bucket_idx', tbl || suffix);
  END LOOP;
END
$fn$;

-- 5m/15m/1h bars from bars_1m: continuous aggregates (real time) or plain views with the same columns.
CREATE FUNCTION tf_create_bar_views() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ts boolean := tf_timescale_enabled();
  view_name text;
  width text;
BEGIN
  FOR view_name, width IN SELECT * FROM (VALUES ('bars_5m', '5 minutes'), ('bars_15m', '15 minutes'), ('bars_1h', '1 hour')) AS v(n, w) LOOP
    IF ts THEN
      EXECUTE format($sql$
        CREATE MATERIALIZED VIEW %I WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT symbol, time_bucket(%L::interval, bucket) AS bucket,
               first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
               sum(volume) AS volume,
               sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL) / nullif(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
               sum(transactions)::bigint AS transactions
        FROM bars_1m GROUP BY symbol, time_bucket(%L::interval, bucket) WITH NO DATA$sql$, view_name, width, width);
      PERFORM add_continuous_aggregate_policy(view_name, start_offset => interval '3 days',
        end_offset => width::interval, schedule_interval => width::interval);
    ELSE
      EXECUTE format($sql$
        CREATE VIEW %I AS
        SELECT symbol, date_bin(%L::interval, bucket, timestamptz '2000-01-01') AS bucket,
               (array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
               (array_agg(close ORDER BY bucket DESC))[1] AS close,
               sum(volume) AS volume,
               sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL) / nullif(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
               sum(transactions)::bigint AS transactions
        FROM bars_1m GROUP BY symbol, date_bin(%L::interval, bucket, timestamptz '2000-01-01')$sql$, view_name, width, width);
    END IF;
  END LOOP;
END
$fn$;

-- pattern_events (the log) and patterns (current state), + suffix.
CREATE FUNCTION tf_create_pattern_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  ts boolean := tf_timescale_enabled();
  events text := 'pattern_events' || suffix;
  current_table text := 'patterns' || suffix;
  descriptive text := '
    pattern_id text NOT NULL,
    pattern text NOT NULL,
    definition_version int NOT NULL,
    tier text NOT NULL,
    direction text NOT NULL,
    symbol text NOT NULL,
    detected_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    confidence double precision NOT NULL,
    base_confidence double precision NOT NULL,
    fundamental_adjustment double precision NOT NULL DEFAULT 0,
    fundamental_reasons text[] NOT NULL DEFAULT ''{}'',
    price double precision NOT NULL,
    change double precision,
    change_pct double precision,
    volume double precision NOT NULL,
    relative_strength double precision,
    relative_volume double precision,
    rsi double precision,
    levels jsonb NOT NULL DEFAULT ''{}''';
BEGIN
  -- Unique keys include detected_at because a partitioned table / hypertable demands the partition key in them;
  -- detected_at is a function of the event (deterministic ids), so these are unique on the event and on the position.
  EXECUTE format('CREATE TABLE %I (
    event_id text NOT NULL,
    kind text NOT NULL,
    %s,
    kafka_topic text NOT NULL,
    kafka_partition int NOT NULL,
    kafka_offset bigint NOT NULL,
    projected_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT %I UNIQUE (event_id, detected_at),
    CONSTRAINT %I UNIQUE (kafka_topic, kafka_partition, kafka_offset, detected_at)
  ) %s', events, descriptive, events || '_event_uq', events || '_position_uq',
    CASE WHEN ts THEN '' ELSE 'PARTITION BY RANGE (detected_at)' END);
  IF ts THEN
    PERFORM create_hypertable(events, 'detected_at', chunk_time_interval => interval '7 days', create_default_indexes => false);
    EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
      events, 'symbol', 'detected_at DESC');
    PERFORM add_compression_policy(events, interval '30 days');
    PERFORM add_retention_policy(events, interval '730 days');
  ELSE
    PERFORM tf_ensure_monthly_partitions(events, (date_trunc('month', now()) - interval '24 months')::date,
      (date_trunc('month', now()) + interval '13 months')::date);
  END IF;
  EXECUTE format('CREATE INDEX %I ON %I (symbol, detected_at DESC)', events || '_symbol_idx', events);
  EXECUTE format('CREATE INDEX %I ON %I (pattern_id)', events || '_pattern_id_idx', events);

  EXECUTE format('CREATE TABLE %I (
    pattern_id text PRIMARY KEY,
    %s,
    status text NOT NULL CHECK (status IN (''active'', ''expired'')),
    last_event_id text NOT NULL,
    last_kind text NOT NULL,
    kafka_topic text NOT NULL,
    kafka_partition int NOT NULL,
    kafka_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )', current_table, regexp_replace(descriptive, 'pattern_id text NOT NULL,', ''));
  -- Scan indexes: every sort of /api/patterns/scan over active patterns, with pattern_id as the keyset tie-breaker.
  EXECUTE format('CREATE INDEX %I ON %I (confidence DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_confidence_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (detected_at DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_detected_idx', current_table);
  -- The API sorts rs DESC NULLS LAST / ASC NULLS FIRST: one index read forwards or backwards serves both.
  EXECUTE format('CREATE INDEX %I ON %I (relative_strength DESC NULLS LAST, pattern_id DESC) WHERE status = ''active''', current_table || '_active_rs_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (volume DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_volume_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (symbol, pattern_id) WHERE status = ''active''', current_table || '_active_symbol_sort_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (pattern, tier, confidence DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_pattern_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (tier, confidence DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_tier_idx', current_table);
  EXECUTE format('CREATE INDEX %I ON %I (symbol, detected_at DESC)', current_table || '_symbol_detected_idx', current_table);
END
$fn$;

-- Hourly counts of detections by pattern and tier.
CREATE FUNCTION tf_create_pattern_views() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF tf_timescale_enabled() THEN
    CREATE MATERIALIZED VIEW pattern_counts_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(interval '1 hour', detected_at) AS bucket, pattern, tier, count(*) AS count
      FROM pattern_events WHERE kind = 'DETECTED'
      GROUP BY time_bucket(interval '1 hour', detected_at), pattern, tier WITH NO DATA;
    PERFORM add_continuous_aggregate_policy('pattern_counts_hourly', start_offset => interval '7 days',
      end_offset => interval '1 hour', schedule_interval => interval '15 minutes');
  ELSE
    CREATE VIEW pattern_counts_hourly AS
      SELECT date_trunc('hour', detected_at) AS bucket, pattern, tier, count(*) AS count
      FROM pattern_events WHERE kind = 'DETECTED'
      GROUP BY date_trunc('hour', detected_at), pattern, tier;
  END IF;
END
$fn$;

DO $do$
DECLARE
  wanted text := coalesce(nullif(current_setting('tickflow.timescale', true), ''), 'auto');
  ts boolean;
BEGIN
  ts := wanted <> 'off' AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb');
  IF wanted = 'on' AND NOT ts THEN
    RAISE EXCEPTION 'tickflow.timescale = on but the timescaledb extension is not available on this server';
  END IF;
  -- Installed but not preloaded: CREATE EXTENSION would end the session. migrate() decides this before running
  -- (with one warning); this guard covers a run of the file by other means.
  IF ts AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
     AND NOT 'timescaledb' = ANY (string_to_array(replace(coalesce(current_setting('shared_preload_libraries', true), ''), ' ', ''), ',')) THEN
    IF wanted = 'on' THEN
      RAISE EXCEPTION 'tickflow.timescale = on but timescaledb is not in shared_preload_libraries on this server';
    END IF;
    RAISE WARNING 'timescaledb is installed but not preloaded: using plain PostgreSQL partitions';
    ts := false;
  END IF;
  IF ts THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
  END IF;
  INSERT INTO projection_settings (key, value) VALUES ('timescale', CASE WHEN ts THEN 'on' ELSE 'off' END);
  PERFORM tf_create_bar_tables('');
  PERFORM tf_create_bar_views();
  PERFORM tf_create_pattern_tables('');
  PERFORM tf_create_pattern_views();
END
$do$;

-- Down Migration
-- Dropping the tables drops the views and continuous aggregates built on them.
DROP TABLE IF EXISTS patterns, pattern_events, bars_1m, bars_1d, projection_offsets, projection_rejects, fundamentals, symbols CASCADE;
DROP FUNCTION IF EXISTS tf_create_pattern_views(), tf_create_pattern_tables(text), tf_create_bar_views(),
  tf_create_bar_tables(text), tf_ensure_monthly_partitions(text, date, date), tf_timescale_enabled();
DROP TABLE IF EXISTS projection_settings;
