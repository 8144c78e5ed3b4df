import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A scripted Massive server for fuzzing a running ingest through its real socket: it performs the
 * handshake (connected, auth_success, subscribe ack), then sends whatever frames the test hands it.
 */
export interface FakeMassive {
  readonly url: string;
  /** Resolves once a client has authenticated and subscribed. */
  subscribed(): Promise<void>;
  /** Sends one raw text frame to every subscribed client. */
  send(frame: string): void;
  connections(): number;
  stop(): Promise<void>;
}

export async function startFakeMassive(): Promise<FakeMassive> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/stocks' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const ready = new Set<WebSocket>();
  let connections = 0;
  let onSubscribed: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => (onSubscribed = resolve));
  server.on('connection', (socket) => {
    connections += 1;
    socket.send(JSON.stringify([{ ev: 'status', status: 'connected', message: 'Connected Successfully' }]));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { action?: string; params?: string };
      if (message.action === 'auth') socket.send(JSON.stringify([{ ev: 'status', status: 'auth_success', message: 'authenticated' }]));
      if (message.action === 'subscribe') {
        socket.send(JSON.stringify([{ ev: 'status', status: 'success', message: `subscribed to: ${message.params}` }]));
        ready.add(socket);
        onSubscribed();
      }
    });
    socket.on('close', () => ready.delete(socket));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    subscribed: () => subscribed,
    send: (frame) => {
      for (const socket of ready) socket.send(frame);
    },
    connections: () => connections,
    stop: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
