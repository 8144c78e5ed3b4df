import { InvalidArgumentError, type Command } from 'commander';
// Declares the gateway's env for `tickflow config`; the stage itself (./main.js, with the uWS native add-on) is
// imported only when it runs.
import './config.js';
import { STREAM_NAMES, type StreamName } from './types.js';

const port = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('expected a port number');
  return parsed;
};

const streams = (value: string): StreamName[] => {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names)
    if (!(STREAM_NAMES as string[]).includes(name))
      throw new InvalidArgumentError(`unknown stream ${name}; expected ${STREAM_NAMES.join(', ')}`);
  return names as StreamName[];
};

/** The gateway stage's subcommands of the `tickflow` CLI. */
export function registerGatewayCommands(program: Command): void {
  program
    .command('gateway')
    .description('run the WebSocket gateway (long-running): pull/offset protocol on /ws, live page on /, /health /ready /metrics')
    .option('--port <port>', 'listen port (default: GATEWAY_PORT)', port)
    .option('--host <host>', 'listen interface (default: GATEWAY_HOST)')
    .option('--streams <list>', `streams to serve, comma separated (${STREAM_NAMES.join(', ')})`, streams)
    .action(async (flags: { port?: number; host?: string; streams?: StreamName[] }) => {
      const { runGateway } = await import('./main.js');
      await runGateway(flags);
    });
}
