import { InvalidArgumentError, Option, type Command } from 'commander';
// Declares the gateway's env for `tickflow config`; the stage itself (./main.js, with the uWS native add-on) is
// imported only when it runs.
import { portArgument } from '../platform/cli-args.js';
import './config.js';
import { STREAM_NAMES, type StreamName } from './types.js';

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
    .description(
      'run the WebSocket gateway (long-running): pull/offset protocol on /ws, /health /ready /metrics /sdk.js (/ redirects to the dashboard live feed)',
    )
    .addOption(new Option('--port <port>', 'listen port').env('GATEWAY_PORT').argParser(portArgument))
    .addOption(new Option('--host <host>', 'listen interface').env('GATEWAY_HOST'))
    .addOption(
      new Option('--streams <list>', `streams to serve, comma separated (${STREAM_NAMES.join(', ')})`)
        .argParser(streams)
        .default([...STREAM_NAMES], JSON.stringify(STREAM_NAMES.join(','))),
    )
    .action(async (flags: { port?: number; host?: string; streams?: StreamName[] }) => {
      const { runGateway } = await import('./main.js');
      await runGateway(flags);
    });
}
