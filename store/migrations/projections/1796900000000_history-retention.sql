-- Up Migration
-- Retention of the time-series tables and aggregates follows the topics that feed them: the setting is the topic's
-- retention in platform/topics.ts (HISTORY_RETENTION_MS), and migrate() stores and applies it after every run
-- (store/retention.ts -> tf_set_history_retention), so log and tables keep the same span and every row can be
-- replayed. This supersedes the '730 days' written into the first migration's policies.

-- A relation's retention as stored ('retention <relation>' in projection_settings); NULL = kept forever.
CREATE FUNCTION tf_history_retention(relation text) RETURNS interval LANGUAGE sql STABLE AS $fn$
  SELECT nullif(value, 'forever')::interval FROM projection_settings WHERE key = 'retention ' || relation
$fn$;

-- On TimescaleDB: the relation's retention policy (hypertable or continuous aggregate) as stored, replaced only when
-- it differs. A plain path relation keeps its setting for tf_drop_expired_partitions.
CREATE FUNCTION tf_apply_history_retention(relation text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  keep interval := tf_history_retention(relation);
  current interval;
BEGIN
  IF NOT tf_timescale_enabled() OR to_regclass(relation) IS NULL THEN
    RETURN;
  END IF;
  SELECT (config->>'drop_after')::interval INTO current FROM timescaledb_information.jobs
    WHERE proc_name = 'policy_retention' AND hypertable_schema = current_schema() AND hypertable_name = relation;
  IF current IS NOT DISTINCT FROM keep THEN
    RETURN;
  END IF;
  PERFORM remove_retention_policy(relation::regclass, if_exists => true);
  IF keep IS NOT NULL THEN
    PERFORM add_retention_policy(relation::regclass, drop_after => keep);
  END IF;
END
$fn$;

CREATE FUNCTION tf_set_history_retention(relation text, keep interval) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO projection_settings (key, value) VALUES ('retention ' || relation, coalesce(keep::text, 'forever'))
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
  PERFORM tf_apply_history_retention(relation);
END
$fn$;

-- Every stored retention applied again: a rebuild's swap calls it for the relations it made anew.
CREATE FUNCTION tf_apply_all_history_retention() RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  relation text;
BEGIN
  FOR relation IN SELECT substr(key, length('retention ') + 1) FROM projection_settings WHERE key LIKE 'retention %' LOOP
    PERFORM tf_apply_history_retention(relation);
  END LOOP;
END
$fn$;

-- Plain path: drops the partitions of `parent` whose whole range is older than its retention (as TimescaleDB's
-- drop_chunks does with chunks). The DEFAULT partition is kept. Returns the number dropped.
CREATE FUNCTION tf_drop_expired_partitions(parent text) RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  keep interval := tf_history_retention(parent);
  part record;
  dropped int := 0;
BEGIN
  IF keep IS NULL OR tf_timescale_enabled() THEN
    RETURN 0;
  END IF;
  FOR part IN
    SELECT c.oid::regclass AS rel, (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = parent::regclass
  LOOP
    IF part.upper IS NOT NULL AND part.upper <= now() - keep THEN
      EXECUTE format('DROP TABLE %s', part.rel);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  RETURN dropped;
END
$fn$;

-- Down Migration
DROP FUNCTION IF EXISTS tf_drop_expired_partitions(text), tf_apply_all_history_retention(), tf_set_history_retention(text, interval),
  tf_apply_history_retention(text), tf_history_retention(text);
DELETE FROM projection_settings WHERE key LIKE 'retention %';
