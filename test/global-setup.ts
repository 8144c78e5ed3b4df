import { LocalStack, formatStatus } from '../stack/local-stack.js';

/** Brings the local stack up when it is not running; leaves it running afterwards (warm starts are fast). */
export default async function setup(): Promise<void> {
  const stack = new LocalStack();
  const statuses = await stack.status();
  if (statuses.every((server) => server.up)) return;
  const after = await stack.up((line) => console.log(`[stack] ${line}`));
  if (after.some((server) => !server.up)) {
    throw new Error(`the local stack is not fully up:\n${formatStatus(after)}`);
  }
}
