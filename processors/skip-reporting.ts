import type { Logger } from '../platform/index.js';
import { SkipDetector, type SkipCause, type SkipStatus, type SkipTransition } from '../platform/skip-detector.js';

/**
 * Skipping (nearly) everything is never silent: one SkipDetector per input topic, one WARN per episode (and an
 * INFO when it ends), and `skipping()` for /ready to say why.
 */
export class SkipReporter {
  private readonly detectors = new Map<string, SkipDetector>();

  constructor(private readonly logger: Logger) {}

  /** One folded (not replayed) record of `inputTopic`: `cause` says why it was skipped, undefined when kept. */
  observe(inputTopic: string, atMs: number, cause: SkipCause | undefined): void {
    let detector = this.detectors.get(inputTopic);
    if (!detector) this.detectors.set(inputTopic, (detector = new SkipDetector(`processor input ${inputTopic}`)));
    this.report(inputTopic, detector.observe(atMs, cause));
  }

  /** Re-evaluates every topic (an episode also ends when records stop coming). */
  evaluate(nowMs: number): void {
    for (const [inputTopic, detector] of this.detectors) this.report(inputTopic, detector.evaluate(nowMs));
  }

  /** The input topics whose records are (nearly) all being skipped, with why. */
  skipping(nowMs: number): SkipStatus[] {
    return [...this.detectors.values()].map((detector) => detector.status(nowMs)).filter((status) => status.skipping);
  }

  private report(inputTopic: string, transition: SkipTransition | undefined): void {
    if (transition?.kind === 'started')
      this.logger.warn(
        { topic: inputTopic, reason: transition.status.reason, behindMs: transition.status.behindMs },
        transition.status.message,
      );
    else if (transition?.kind === 'ended')
      this.logger.info({ topic: inputTopic }, `processor input ${inputTopic}: records are applied again`);
  }
}
