-- Up Migration
-- Outbox of projection notices: each batch that changed rows records its symbols in the same transaction as
-- the rows and offsets; the projector deletes the record once the version bump and notice reached Redis. A
-- crash between COMMIT and the notice, or a Redis outage, leaves the record for the next batch (or the next
-- start) to announce, so the read model's version counters always catch up with the tables.
CREATE TABLE projection_notices (
  projection text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next_offset bigint NOT NULL,
  symbols text[] NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, topic, partition, next_offset)
);

-- Down Migration
DROP TABLE IF EXISTS projection_notices;
