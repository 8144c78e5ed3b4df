-- Up Migration
-- Indexes for the API's scan of one pattern type across all tiers sorted by detection time, relative strength or
-- volume (api/patterns-store.ts `readInOrder`). Before, such a scan read every active entry of the pattern from
-- (pattern, tier, confidence, id) (no tier to bound the range), filtered them by confidence and top-N sorted the
-- matches: on 10M rows 5-9 ms a page, the bench's slowest uncached scans. Led by the pattern and then the sort key,
-- these are read in page order and stop once the page is full; the confidence and tier they include let the walk
-- filter index-only. A walk reads at most the pattern's active entries, what the gather read every time. A rebuild's
-- tables get them too (`tf_create_pattern_scan_indexes`, redefined here with the earlier indexes unchanged).
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
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (tier, confidence DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_tier_count_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, confidence DESC, pattern_id DESC) WHERE status = ''active''', current_table || '_active_pattern_count_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, detected_at DESC, pattern_id DESC) INCLUDE (tier, confidence) WHERE status = ''active''',
    current_table || '_active_pattern_detected_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, relative_strength DESC NULLS LAST, pattern_id DESC) INCLUDE (tier, confidence) WHERE status = ''active''',
    current_table || '_active_pattern_rs_idx', current_table);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (pattern, volume DESC, pattern_id DESC) INCLUDE (tier, confidence) WHERE status = ''active''',
    current_table || '_active_pattern_volume_idx', current_table);
END
$fn$;

SELECT tf_create_pattern_scan_indexes('');

-- Down Migration
DROP INDEX IF EXISTS patterns_active_pattern_detected_idx, patterns_active_pattern_rs_idx, patterns_active_pattern_volume_idx;
