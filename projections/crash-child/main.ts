/**
 * A projector process that SIGKILLs itself at one step of one projection's batch (crash.int.test.ts): the real
 * process death — no unwinding, no graceful stop, sockets dropped by the kernel — at a chosen point.
 * Arguments: a JSON object of StartProjectorOptions' plain fields plus `killAt: { projection, step }`.
 */
import { createLogger } from '../../platform/logger.js';
import type { BatchStep } from '../faults.js';
import { startProjector, type StartProjectorOptions } from '../projector.js';

interface ChildOptions extends Omit<StartProjectorOptions, 'logger' | 'registry' | 'faultHook'> {
  readonly killAt: { readonly projection: string; readonly step: BatchStep };
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions;
await startProjector({
  ...options,
  logger: createLogger('projections-crash-child', { level: 'silent' }),
  faultHook: (step, context) => {
    if (context.projection === options.killAt.projection && step === options.killAt.step) process.kill(process.pid, 'SIGKILL');
  },
});
