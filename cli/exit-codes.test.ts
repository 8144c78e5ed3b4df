import { CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../platform/config.js';
import { EXIT, EXIT_CODES_HELP, describeFailure, isBrokenPipe } from './exit-codes.js';

describe('the top-level error handler', () => {
  it('maps usage and configuration errors to 2 with one line, runtime failures to 1', () => {
    expect(describeFailure(new CommanderError(1, 'commander.invalidArgument', 'x'))).toEqual({ code: 2, message: undefined });
    expect(describeFailure(new CommanderError(0, 'commander.version', '0.1.0'))).toEqual({ code: 0, message: undefined });
    expect(describeFailure(new ConfigError(['API_PORT: expected number', 'X: bad']))).toEqual({
      code: 2,
      message: 'tickflow: invalid configuration: API_PORT: expected number; X: bad',
    });
    expect(describeFailure(new InvalidArgumentError('no benchmark named foo'))).toEqual({
      code: 2,
      message: 'tickflow: no benchmark named foo',
    });
    const refusal = Object.assign(new Error('gateway refuses to start: ...'), { name: 'UwsUnavailableError' });
    expect(describeFailure(refusal)).toEqual({ code: 2, message: 'gateway refuses to start: ...' });
    expect(describeFailure(new Error('connect ECONNREFUSED'))).toEqual({ code: 1, message: 'tickflow: connect ECONNREFUSED' });
    expect(describeFailure('odd')).toEqual({ code: 1, message: 'tickflow: odd' });
  });

  it('documents every exit code', () => {
    for (const code of Object.values(EXIT)) expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code}\\s`, 'm'));
  });

  it('knows a broken pipe', () => {
    expect(isBrokenPipe(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(true);
    expect(isBrokenPipe(new Error('other'))).toBe(false);
  });
});
