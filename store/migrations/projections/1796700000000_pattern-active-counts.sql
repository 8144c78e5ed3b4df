-- Up Migration
-- Active patterns counted per (tier, pattern, confidence bucket of 0.01), kept in step with `patterns` by statement
-- triggers in the writing transaction. The API's capped scan count (up to 10,001 index entries, about 140 ns each)
-- was more than half of PostgreSQL's work per uncached scan; a scan filtered by tier, pattern and confidence alone
-- now sums the buckets above its bound and counts only its own bucket from the index (api/scan.ts buildCountSql).
-- The counts are derived data: `tf_attach_pattern_counts` recomputes them, and a rebuild's swap calls it for the
-- new live table (its `__rebuild` table has no triggers while it is filled).
CREATE TABLE pattern_active_counts (
  tier text NOT NULL,
  pattern text NOT NULL,
  bucket integer NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (tier, pattern, bucket)
);

-- The bucket of a confidence: floor(confidence * 100). Monotonic, so every row of a bucket above the bucket of a
-- bound is above the bound, and every row of a bucket below it is below. The API's partial count uses the same
-- function. NaN (which PostgreSQL orders above every number) and values too large for an integer go to the ends.
CREATE FUNCTION tf_pattern_count_bucket(confidence double precision) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN confidence >= 21474836 THEN 2147483647 WHEN confidence <= -21474836 THEN -2147483648 ELSE floor(confidence * 100)::integer END $$;

-- One upsert per trigger on `patterns`, in key order. An INSERT ... ON CONFLICT DO UPDATE fires both the insert
-- and the update trigger, so two concurrent writers (the projector folds several partitions at once) could each
-- lock count rows the other then needs. Count writers therefore take one transaction-level advisory lock first:
-- they queue for the rest of their transaction (the offsets row and the commit), and never deadlock.
CREATE FUNCTION tf_pattern_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(1796700000000);
  IF TG_OP = 'INSERT' THEN
    INSERT INTO pattern_active_counts AS c (tier, pattern, bucket, n)
      SELECT tier, pattern, tf_pattern_count_bucket(confidence), count(*) FROM new_rows WHERE status = 'active'
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (tier, pattern, bucket) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO pattern_active_counts AS c (tier, pattern, bucket, n)
      SELECT tier, pattern, bucket, sum(delta) FROM (
          SELECT tier, pattern, tf_pattern_count_bucket(confidence) AS bucket, 1 AS delta FROM new_rows WHERE status = 'active'
          UNION ALL
          SELECT tier, pattern, tf_pattern_count_bucket(confidence), -1 FROM old_rows WHERE status = 'active'
        ) changed
       GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
      ON CONFLICT (tier, pattern, bucket) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO pattern_active_counts AS c (tier, pattern, bucket, n)
      SELECT tier, pattern, tf_pattern_count_bucket(confidence), -count(*) FROM old_rows WHERE status = 'active'
       GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT (tier, pattern, bucket) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END
$fn$;

CREATE FUNCTION tf_pattern_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(1796700000000);
  DELETE FROM pattern_active_counts;
  RETURN NULL;
END
$fn$;

-- (Re)attaches the triggers to the live `patterns` table and recomputes the counts from it.
CREATE FUNCTION tf_attach_pattern_counts() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  DROP TRIGGER IF EXISTS patterns_counts_insert ON patterns;
  DROP TRIGGER IF EXISTS patterns_counts_update ON patterns;
  DROP TRIGGER IF EXISTS patterns_counts_delete ON patterns;
  DROP TRIGGER IF EXISTS patterns_counts_truncate ON patterns;
  CREATE TRIGGER patterns_counts_insert AFTER INSERT ON patterns REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tf_pattern_counts_apply();
  CREATE TRIGGER patterns_counts_update AFTER UPDATE ON patterns REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tf_pattern_counts_apply();
  CREATE TRIGGER patterns_counts_delete AFTER DELETE ON patterns REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tf_pattern_counts_apply();
  CREATE TRIGGER patterns_counts_truncate AFTER TRUNCATE ON patterns
    FOR EACH STATEMENT EXECUTE FUNCTION tf_pattern_counts_truncate();
  PERFORM pg_advisory_xact_lock(1796700000000);
  DELETE FROM pattern_active_counts;
  INSERT INTO pattern_active_counts (tier, pattern, bucket, n)
    SELECT tier, pattern, tf_pattern_count_bucket(confidence), count(*) FROM patterns WHERE status = 'active' GROUP BY 1, 2, 3;
END
$fn$;

SELECT tf_attach_pattern_counts();

-- Down Migration
DROP TRIGGER IF EXISTS patterns_counts_insert ON patterns;
DROP TRIGGER IF EXISTS patterns_counts_update ON patterns;
DROP TRIGGER IF EXISTS patterns_counts_delete ON patterns;
DROP TRIGGER IF EXISTS patterns_counts_truncate ON patterns;
DROP FUNCTION IF EXISTS tf_attach_pattern_counts();
DROP FUNCTION IF EXISTS tf_pattern_counts_truncate();
DROP FUNCTION IF EXISTS tf_pattern_counts_apply();
DROP FUNCTION IF EXISTS tf_pattern_count_bucket(double precision);
DROP TABLE IF EXISTS pattern_active_counts;
