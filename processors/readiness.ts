import type { HealthCheck } from '../platform/index.js';
import type { ProcessorHandle } from './processor.js';

/** What the processors' /ready checks: in the group (else down), and not skipping nearly all input (else degraded, with why). */
export function processorChecks(processor: Pick<ProcessorHandle, 'ready' | 'assigned' | 'skipping'>): HealthCheck[] {
  return [
    {
      name: 'processor',
      check: async () => {
        if (!processor.ready()) throw new Error('not in the consumer group yet');
        return { partitions: processor.assigned() };
      },
    },
    // Degraded, not down: the process works, but its input is being dropped (the WARN in the log says the same).
    {
      name: 'input',
      optional: true,
      check: async () => {
        const skipping = processor.skipping();
        if (skipping.length > 0) throw new Error(skipping.map((status) => status.message).join('; '));
        return { skipping: false };
      },
    },
  ];
}
