import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../platform/index.js';

/** A pino logger whose output is kept in memory, so a test can search everything a component logged. */
export function capturedLogger(stage: string, level = 'debug'): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { logger: createLogger(stage, { level, destination }), text: () => chunks.join('') };
}

/** The secrets (or any substring of 12+ characters of them) found in `text`. */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => {
    if (text.includes(secret)) return true;
    // A JWT's signature or payload part on its own is a leak too.
    return secret.split('.').some((part) => part.length >= 12 && text.includes(part));
  });
}
