-- Up Migration
-- Covering versions of the detected-at, relative-strength and volume scan indexes (see 1796000000000): a page
-- sorted by one of them whose filters match rows that sort low walks the index past many rows; index-only, that
-- walk reads no heap page per row (measured on 10M rows: up to 4 s before, 0.2 s after). A rebuild's tables get
-- them too (`tf_create_pattern_scan_indexes` is what `tf_create_pattern_tables` runs after the base tables).
CREATE OR REPLACE FUNCTION tf_create_pattern_scan_indexes(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  current_table text := 'patterns' || suffix;
  others text := 'symbol, relative_volume, rsi, definition_version';
BEGIN
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (confidence DESC, pattern_id DESC) INCLUDE (tier, pattern, relative_strength, volume, detected_at, %s) WHERE status = ''active''',
    current_table || '_active_confidence_cover_idx', current_table, others);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, tier, confidence DESC, pattern_id DESC) INCLUDE (relative_strength, volume, detected_at, %s) WHERE status = ''active''',
    current_table || '_active_pattern_cover_idx', current_table, others);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (symbol, pattern_id) INCLUDE (tier, pattern, confidence, relative_strength, relative_volume, rsi, volume, detected_at, definition_version) WHERE status = ''active''',
    current_table || '_active_symbol_cover_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (relative_strength DESC NULLS LAST, pattern_id DESC) INCLUDE (tier, pattern, confidence, volume, detected_at, %s) WHERE status = ''active''',
    current_table || '_active_rs_cover_idx', current_table, others);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (volume DESC, pattern_id DESC) INCLUDE (tier, pattern, confidence, relative_strength, detected_at, %s) WHERE status = ''active''',
    current_table || '_active_volume_cover_idx', current_table, others);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (detected_at DESC, pattern_id DESC) INCLUDE (tier, pattern, confidence, relative_strength, volume, %s) WHERE status = ''active''',
    current_table || '_active_detected_cover_idx', current_table, others);
END
$fn$;

SELECT tf_create_pattern_scan_indexes('');

-- Down Migration
DROP INDEX IF EXISTS patterns_active_rs_cover_idx, patterns_active_volume_cover_idx, patterns_active_detected_cover_idx;
