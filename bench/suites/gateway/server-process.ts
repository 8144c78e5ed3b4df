// The gateway bench's server process (`--set runtimes=...`): the bench's gateway (./server.ts) in a process of its
// own, under the runtime being measured (./runtimes.ts starts it), driven over the IPC channel by
// bench/suites/gateway.ts: start -> listening, probe-start -> probing, probe-stop -> diagnostics, close -> closed.
// A failure answers `error` with the reason (a gateway that refuses to start, for one), and the bench fails.
import { startBenchGateway, type BenchGateway, type BenchKafka, type ProbeOptions } from './server.js';

type Message =
  | { cmd: 'start'; kafka: BenchKafka; settings: Record<string, string> }
  | { cmd: 'probe-start'; options: ProbeOptions }
  | { cmd: 'probe-stop' }
  | { cmd: 'close' };

let gateway: BenchGateway | undefined;

const send = (message: Record<string, unknown>) => process.send?.(message);

async function handle(message: Message): Promise<void> {
  switch (message.cmd) {
    case 'start':
      gateway = await startBenchGateway(message.kafka, message.settings);
      send({ cmd: 'listening', url: gateway.url, runtime: gateway.runtime });
      return;
    case 'probe-start':
      await gateway!.probe.start(message.options);
      send({ cmd: 'probing' });
      return;
    case 'probe-stop':
      send({ cmd: 'diagnostics', diagnostics: await gateway!.probe.stop() });
      return;
    case 'close':
      await gateway?.stop();
      send({ cmd: 'closed' });
      process.disconnect();
      return;
  }
}

process.on('message', (message: unknown) => {
  handle(message as Message).catch((error: unknown) => {
    send({ cmd: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});
// The bench went away (it failed or was interrupted): nothing is left to serve.
process.on('disconnect', () => {
  void (gateway?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
send({ cmd: 'started' });
