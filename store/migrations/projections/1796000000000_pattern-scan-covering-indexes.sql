-- Up Migration
-- Covering scan indexes for the API's pattern scans (api/scan.ts, `lateLookup`). The scan finds a page's ids first
-- and reads only those rows; with every filtered column in the index, finding the ids and the capped count are
-- index-only scans. Before, walking an ordering index for a filter it does not hold (pattern list, sectors, RSI,
-- relative strength/volume) read one heap page per row examined: 0.1-1.3 s at 500,000 active patterns.
-- The indexes with the same keys stay for now (projections' EXPLAIN tests name them); they can go once those move.
-- `tf_create_pattern_tables` is wrapped, so a rebuild's tables get the covering indexes too.
CREATE FUNCTION tf_create_pattern_scan_indexes(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  current_table text := 'patterns' || suffix;
BEGIN
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (confidence DESC, pattern_id DESC) INCLUDE (tier, pattern, symbol, relative_strength, relative_volume, rsi, volume, detected_at, definition_version) WHERE status = ''active''',
    current_table || '_active_confidence_cover_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, tier, confidence DESC, pattern_id DESC) INCLUDE (symbol, relative_strength, relative_volume, rsi, volume, detected_at, definition_version) WHERE status = ''active''',
    current_table || '_active_pattern_cover_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (symbol, pattern_id) INCLUDE (tier, pattern, confidence, relative_strength, relative_volume, rsi, volume, detected_at, definition_version) WHERE status = ''active''',
    current_table || '_active_symbol_cover_idx', current_table);
END
$fn$;

ALTER FUNCTION tf_create_pattern_tables(text) RENAME TO tf_create_pattern_tables_base;
CREATE FUNCTION tf_create_pattern_tables(suffix text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM tf_create_pattern_tables_base(suffix);
  PERFORM tf_create_pattern_scan_indexes(suffix);
END
$fn$;

SELECT tf_create_pattern_scan_indexes('');

-- Down Migration
DROP FUNCTION tf_create_pattern_tables(text);
ALTER FUNCTION tf_create_pattern_tables_base(text) RENAME TO tf_create_pattern_tables;
DROP INDEX IF EXISTS patterns_active_confidence_cover_idx, patterns_active_pattern_cover_idx, patterns_active_symbol_cover_idx;
DROP FUNCTION tf_create_pattern_scan_indexes(text);
