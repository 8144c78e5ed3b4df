-- Up Migration
-- The pattern scopes (projections/pattern-scopes.ts) a recorded batch of pattern events changed, so the notice sent
-- from the outbox bumps only those scopes' versions and cached broad scans the batch cannot enter stay valid.
-- NULL: not recorded (other projections, or rows recorded before this column): announced unscoped.
ALTER TABLE projection_notices ADD COLUMN scopes text[];

-- Down Migration
ALTER TABLE projection_notices DROP COLUMN IF EXISTS scopes;
