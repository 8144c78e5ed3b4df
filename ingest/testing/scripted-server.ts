import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface ScriptedConnection {
  readonly socket: WebSocket;
  readonly index: number;
  /** Messages the client sent on this connection, parsed. */
  readonly received: { action: string; params: string }[];
}

export interface ScriptedServer {
  readonly url: string;
  readonly connections: ScriptedConnection[];
  close(): Promise<void>;
}

/**
 * A WebSocket server whose behaviour each test scripts (misbehaving Massive servers: silent, flaky,
 * garbage-sending, pong-less). `onConnection` runs per connection; `onMessage` per client message.
 */
export async function startScriptedServer(script: {
  readonly onConnection?: (connection: ScriptedConnection) => void;
  readonly onMessage?: (connection: ScriptedConnection, message: { action: string; params: string }) => void;
  readonly autoPong?: boolean;
}): Promise<ScriptedServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, autoPong: script.autoPong ?? true });
  const connections: ScriptedConnection[] = [];
  wss.on('connection', (socket) => {
    const connection: ScriptedConnection = { socket, index: connections.length, received: [] };
    connections.push(connection);
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { action: string; params: string };
      connection.received.push(message);
      script.onMessage?.(connection, message);
    });
    socket.on('error', () => {});
    script.onConnection?.(connection);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
    connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export const statusFrame = (status: string, message: string): string => JSON.stringify([{ ev: 'status', status, message }]);

/** The standard happy handshake: connected on open, auth_success on auth, acks on subscribe. */
export const massiveHandshake = {
  onConnection: (connection: ScriptedConnection) => connection.socket.send(statusFrame('connected', 'Connected Successfully')),
  onMessage: (connection: ScriptedConnection, message: { action: string; params: string }) => {
    if (message.action === 'auth') connection.socket.send(statusFrame('auth_success', 'authenticated'));
    if (message.action === 'subscribe')
      connection.socket.send(
        JSON.stringify(message.params.split(',').map((entry) => ({ ev: 'status', status: 'success', message: `subscribed to: ${entry}` }))),
      );
  },
};
