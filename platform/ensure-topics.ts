import { applyTopics, type Admin, type ApplyTopicsResult } from './kafka.js';
import type { TopicKey } from './topics.js';

/**
 * platform applyTopics, retried: while other clients create or delete topics, KRaft can answer
 * UNKNOWN_TOPIC_OR_PARTITION to createTopics' leader wait, which kafkajs does not retry. applyTopics is
 * idempotent, so retrying with the same names converges without leaking topics.
 */
export async function ensureTopics(admin: Admin, prefix: string, keys: readonly TopicKey[], attempts = 10): Promise<ApplyTopicsResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await applyTopics(admin, prefix, keys);
    } catch (error) {
      if (attempt >= attempts || !/does not host this topic-partition|leader/i.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
