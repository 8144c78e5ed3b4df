/**
 * Crash injection: the one seam through which tests interrupt a batch. Each sink awaits `hook(step, context)` at
 * every step of a batch, in order; a hook that throws, kills a connection or stops the process simulates a crash
 * right there. Production passes no hook.
 */

/** Steps of a database projection's batch: consume → transaction (COPY, fold, offsets, commit) → notice. */
export const DB_BATCH_STEPS = [
  'consume',
  'begin',
  'lock-offsets',
  'copy',
  'apply',
  'rejects',
  'store-offsets',
  'commit',
  'after-commit',
  'notify',
  'after-notify',
] as const;
/** Steps of a Redis read-model batch: consume → WATCH + read → MULTI/EXEC (data, versions, offsets) → publish. */
export const REDIS_BATCH_STEPS = ['consume', 'watch', 'exec', 'after-exec', 'publish'] as const;
/** The steps of a database batch that run on its connection, from BEGIN to just after COMMIT (where a lost connection can strike). */
export const DB_TRANSACTION_STEPS = [
  'begin',
  'lock-offsets',
  'copy',
  'apply',
  'rejects',
  'store-offsets',
  'commit',
  'after-commit',
] as const;

export type DbBatchStep = (typeof DB_BATCH_STEPS)[number];
export type RedisBatchStep = (typeof REDIS_BATCH_STEPS)[number];
export type BatchStep = DbBatchStep | RedisBatchStep;

export interface FaultContext {
  /** `patterns`, `bars`, `reference` (or a rebuild's offsets name) or `redis`. */
  readonly projection: string;
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: number;
}

/** Called at every step of every batch; throwing simulates a crash there. Tests only. */
export type FaultHook = (step: BatchStep, context: FaultContext) => void | Promise<void>;

/** The hook bound to one batch: a no-op without a hook. */
export function faultPoint(hook: FaultHook | undefined, context: FaultContext): (step: BatchStep) => Promise<void> {
  return async (step) => {
    if (hook) await hook(step, context);
  };
}
