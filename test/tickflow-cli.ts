import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface TickflowRun {
  /** The exit code; null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TickflowOptions {
  /** Over this process's env (LOG_LEVEL defaults to warn); a value of undefined removes the variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Node flags before the script (e.g. `--import` of a module that reports on the run). */
  readonly nodeArgs?: readonly string[];
  readonly timeoutMs?: number;
}

/**
 * The real `tickflow` command as a user runs it: `node bin/tickflow.js …` under this test's Node (tsx, not vitest's
 * transform), from the checkout's root, stdout and stderr piped. The one spawn helper of the tests that run the CLI.
 */
export function spawnTickflow(args: readonly string[], options: TickflowOptions = {}): ChildProcess {
  const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return spawn(process.execPath, [...(options.nodeArgs ?? []), 'bin/tickflow.js', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `tickflow …` to its end and returns how it ended and what it printed; a non-zero exit is a result, not an error. */
export function runTickflow(args: readonly string[], options: TickflowOptions = {}): Promise<TickflowRun> {
  return collect(spawnTickflow(args, options), options.timeoutMs ?? 60_000);
}

/** Waits for a spawned `tickflow` to end, collecting its output (SIGKILL after `timeoutMs`, which then fails). */
export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<TickflowRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tickflow did not end within ${timeoutMs} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves with the output so far once a line of `stream` matches `pattern` (a long-running command is ready). */
export function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const source = child[stream]!;
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => done(new Error(`no line matching ${String(pattern)} within ${timeoutMs} ms; got: ${output.slice(-500)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer | string) => {
      output += chunk.toString();
      if (output.split('\n').some((line) => pattern.test(line))) done();
    };
    const onClose = () => done(new Error(`tickflow ended before a line matching ${String(pattern)}; got: ${output.slice(-500)}`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      source.off('data', onData);
      child.off('close', onClose);
      if (error) reject(error);
      else resolve(output);
    };
    source.on('data', onData);
    child.once('close', onClose);
  });
}
