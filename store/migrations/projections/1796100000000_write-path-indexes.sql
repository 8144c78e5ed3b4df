-- Up Migration
-- Keep only the indexes that the API's queries read or that idempotence relies on: every other index is pure write
-- cost, and index maintenance dominated the pattern batch (and is most of the minute-bar upsert).
-- * pattern_events: the API reads it by pattern id (+ the pattern's detected_at, which prunes partitions) —
--   pattern_events_pattern_id_idx; ON CONFLICT DO NOTHING relies on the event-id key — pattern_events_event_uq.
--   Dropped: (symbol, detected_at), read by nothing; the Kafka-position unique key, redundant with the offsets (rows
--   below the stored next offset are skipped under the offsets row lock, and one position is one event).
-- * patterns: the covering scan indexes of 1796000000000 have the keys of the confidence, pattern and symbol indexes,
--   so those three go; (tier, confidence) goes too — with three tiers, the tier summaries walk the confidence and
--   detected_at indexes and stop after a few rows (EXPLAIN.md).
-- * bars_1m, bars_1d: (bucket DESC) goes — every bar query of the API names one symbol and reads the primary key
--   (symbol, bucket); access by time alone is partition (or chunk) pruning.
-- Rebuilds create their tables through tf_create_pattern_tables / tf_create_bar_tables: they now build the same set.
ALTER FUNCTION tf_create_pattern_tables(text) RENAME TO tf_create_pattern_tables_all_indexes;
ALTER FUNCTION tf_create_bar_tables(text) RENAME TO tf_create_bar_tables_all_indexes;

CREATE FUNCTION tf_drop_write_only_indexes(suffix text, tables text[]) RETURNS void LANGUAGE plpgsql AS $fn$
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

CREATE FUNCTION tf_create_pattern_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM tf_create_pattern_tables_all_indexes(suffix);
  PERFORM tf_drop_write_only_indexes(suffix, ARRAY['pattern_events']);
END
$fn$;

CREATE FUNCTION tf_create_bar_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM tf_create_bar_tables_all_indexes(suffix);
  PERFORM tf_drop_write_only_indexes(suffix, ARRAY['bars_1m']);
END
$fn$;

SELECT tf_drop_write_only_indexes('', ARRAY['pattern_events', 'bars_1m']);

-- Down Migration
CREATE INDEX pattern_events_symbol_idx ON pattern_events (symbol, detected_at DESC);
ALTER TABLE pattern_events ADD CONSTRAINT pattern_events_position_uq UNIQUE (kafka_topic, kafka_partition, kafka_offset, detected_at);
CREATE INDEX patterns_active_confidence_idx ON patterns (confidence DESC, pattern_id DESC) WHERE status = 'active';
CREATE INDEX patterns_active_symbol_sort_idx ON patterns (symbol, pattern_id) WHERE status = 'active';
CREATE INDEX patterns_active_pattern_idx ON patterns (pattern, tier, confidence DESC, pattern_id DESC) WHERE status = 'active';
CREATE INDEX patterns_active_tier_idx ON patterns (tier, confidence DESC, pattern_id DESC) WHERE status = 'active';
CREATE INDEX bars_1m_bucket_idx ON bars_1m (bucket DESC);
CREATE INDEX bars_1d_bucket_idx ON bars_1d (bucket DESC);
DROP FUNCTION tf_create_pattern_tables(text);
DROP FUNCTION tf_create_bar_tables(text);
DROP FUNCTION tf_drop_write_only_indexes(text, text[]);
ALTER FUNCTION tf_create_pattern_tables_all_indexes(text) RENAME TO tf_create_pattern_tables;
ALTER FUNCTION tf_create_bar_tables_all_indexes(text) RENAME TO tf_create_bar_tables;
