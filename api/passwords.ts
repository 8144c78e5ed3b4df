import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/**
 * The password rule of registration, after NIST SP 800-63B (5.1.1.2): at least 12 characters (the schema), and
 * not a common, repetitive or sequential value. zxcvbn-ts matches against its lists of common passwords and
 * names, repetition (`aaaaaaaaaaaa`), sequences (`abcdefghijkl`, `123456789012`), keyboard walks and the
 * user's own email; a password it estimates at fewer than 10^8 guesses (its score below 3) is refused.
 */
const estimator = new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs });

export const MIN_PASSWORD_SCORE = 3;

/** Why the password is too weak, or undefined when it is acceptable. `email` words count against it. */
export function weakPasswordReason(password: string, email: string): string | undefined {
  if (password.trim().length === 0) return 'must not be only spaces';
  const local = email.split('@')[0] ?? '';
  const result = estimator.check(password, [email, local, 'tickflow']);
  if (result.score >= MIN_PASSWORD_SCORE) return undefined;
  return 'too easy to guess (a common password, repeated characters, a sequence, a keyboard pattern or your email): choose a longer, less predictable passphrase';
}
