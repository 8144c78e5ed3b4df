import { InvalidArgumentError } from 'commander';

/** Commander parser of a TCP port option (0 picks a free port); a bad value is a usage error (exit 2). */
export function portArgument(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('expected a port number 0-65535');
  return parsed;
}
