-- Up Migration
-- 1796200000000 added covering twins of the detected_at, relative-strength and volume scan indexes (same keys, same
-- predicate, plus INCLUDE columns): the plain ones serve nothing the twins do not, and each is one more index the
-- patterns upsert maintains per row. Dropped here, and for a rebuild's tables too (tf_drop_write_only_indexes runs
-- after tf_create_pattern_scan_indexes in tf_create_pattern_tables).
CREATE OR REPLACE FUNCTION tf_drop_write_only_indexes(suffix text, tables text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  index_name text;
BEGIN
  IF 'pattern_events' = ANY(tables) THEN
    EXECUTE format('DROP INDEX %I', 'pattern_events' || suffix || '_symbol_idx');
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', 'pattern_events' || suffix, 'pattern_events' || suffix || '_position_uq');
    FOREACH index_name IN ARRAY ARRAY['_active_confidence_idx', '_active_pattern_idx', '_active_symbol_sort_idx', '_active_tier_idx',
                                      '_active_detected_idx', '_active_rs_idx', '_active_volume_idx'] LOOP
      EXECUTE format('DROP INDEX %I', 'patterns' || suffix || index_name);
    END LOOP;
  END IF;
  IF 'bars_1m' = ANY(tables) THEN
    EXECUTE format('DROP INDEX %I', 'bars_1m' || suffix || '_bucket_idx');
    EXECUTE format('DROP INDEX %I', 'bars_1d' || suffix || '_bucket_idx');
  END IF;
END
$fn$;

DROP INDEX patterns_active_detected_idx, patterns_active_rs_idx, patterns_active_volume_idx;

-- Down Migration
CREATE INDEX patterns_active_detected_idx ON patterns (detected_at DESC, pattern_id DESC) WHERE status = 'active';
CREATE INDEX patterns_active_rs_idx ON patterns (relative_strength DESC NULLS LAST, pattern_id DESC) WHERE status = 'active';
CREATE INDEX patterns_active_volume_idx ON patterns (volume DESC, pattern_id DESC) WHERE status = 'active';
CREATE OR REPLACE FUNCTION tf_drop_write_only_indexes(suffix text, tables text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  index_name text;
BEGIN
  IF 'pattern_events' = ANY(tables) THEN
    EXECUTE format('DROP INDEX %I', 'pattern_events' || suffix || '_symbol_idx');
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', 'pattern_events' || suffix, 'pattern_events' || suffix || '_position_uq');
    FOREACH index_name IN ARRAY ARRAY['_active_confidence_idx', '_active_pattern_idx', '_active_symbol_sort_idx', '_active_tier_idx'] LOOP
      EXECUTE format('DROP INDEX %I', 'patterns' || suffix || index_name);
    END LOOP;
  END IF;
  IF 'bars_1m' = ANY(tables) THEN
    EXECUTE format('DROP INDEX %I', 'bars_1m' || suffix || '_bucket_idx');
    EXECUTE format('DROP INDEX %I', 'bars_1d' || suffix || '_bucket_idx');
  END IF;
END
$fn$;
