-- Up Migration
-- The continuous aggregates' refresh policies covered only the last 3 days (bars) or 7 days (pattern counts). Once a
-- policy has run, the aggregate's watermark sits near now, so buckets older than the window are read from the
-- materialization only, and buckets that were never materialized there are missing: a backfill of older bars (REST,
-- flat files) or a rebuild (its aggregates start WITH NO DATA) lost every 5m/15m/1h bar older than 3 days from the API
-- at the policy's next run. With no start offset the policy refreshes the whole history; TimescaleDB re-materializes
-- only the ranges the invalidation log marks (rows written there since the last refresh), so a run with nothing old
-- to redo stays cheap. End offsets and schedules are kept.
CREATE FUNCTION tf_refresh_aggregates_over_all_history() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  job record;
BEGIN
  IF NOT tf_timescale_enabled() THEN
    RETURN;
  END IF;
  FOR job IN
    SELECT hypertable_name AS view_name, (config->>'end_offset')::interval AS end_offset, schedule_interval
      FROM timescaledb_information.jobs
     WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_schema = current_schema() AND config->>'start_offset' IS NOT NULL
  LOOP
    PERFORM remove_continuous_aggregate_policy(job.view_name::regclass);
    PERFORM add_continuous_aggregate_policy(job.view_name::regclass, start_offset => NULL, end_offset => job.end_offset,
      schedule_interval => job.schedule_interval);
  END LOOP;
END
$fn$;

SELECT tf_refresh_aggregates_over_all_history();

-- Down Migration
DO $do$
DECLARE
  job record;
BEGIN
  IF NOT tf_timescale_enabled() THEN
    RETURN;
  END IF;
  FOR job IN
    SELECT hypertable_name AS view_name, (config->>'end_offset')::interval AS end_offset, schedule_interval
      FROM timescaledb_information.jobs
     WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_schema = current_schema()
  LOOP
    PERFORM remove_continuous_aggregate_policy(job.view_name::regclass);
    PERFORM add_continuous_aggregate_policy(job.view_name::regclass,
      start_offset => CASE WHEN job.view_name = 'pattern_counts_hourly' THEN interval '7 days' ELSE interval '3 days' END,
      end_offset => job.end_offset, schedule_interval => job.schedule_interval);
  END LOOP;
END
$do$;
DROP FUNCTION IF EXISTS tf_refresh_aggregates_over_all_history();
