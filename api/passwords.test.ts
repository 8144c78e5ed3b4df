import { describe, expect, it } from 'vitest';
import { weakPasswordReason } from './passwords.js';

describe('weakPasswordReason', () => {
  it('refuses common, repeated, sequential and email-derived passwords of any length', () => {
    for (const password of [
      '            ',
      'aaaaaaaaaaaa',
      'abcabcabcabc',
      'abcdefghijkl',
      '123456789012',
      'password1234',
      'qwertyuiopas',
      'passwordpassword',
      'alice.trader1',
    ]) {
      expect(weakPasswordReason(password, 'alice.trader@example.com'), password).toBeDefined();
    }
  });

  it('accepts long unpredictable passphrases', () => {
    for (const password of ['correct horse battery staple', 'long enough password', 'Tr0ub4dor&3xyz']) {
      expect(weakPasswordReason(password, 'alice@example.com'), password).toBeUndefined();
    }
  });
});
