import type { Disconnect } from './client/protocol.js';
import type { GatewayConfig } from './config.js';
import type { Connection, GatewaySessions, SessionTransport } from './session.js';
import type { Uws, UwsApp, UwsSocket } from './uws-runtime.js';

interface ConnectionData {
  connection?: Connection;
}

/** A session's socket: a uWebSockets.js WebSocket. */
class UwsTransport implements SessionTransport {
  constructor(private readonly ws: UwsSocket<ConnectionData>) {}

  send(frame: string | Buffer): void {
    this.ws.cork(() => this.ws.send(frame, false));
  }

  close(disconnect: Disconnect): void {
    this.ws.end(disconnect.code, disconnect.reason);
  }

  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
}

/** Serves the WebSocket protocol at /ws: each socket event goes to its session in `sessions`. */
export function routeWebSockets(uws: Uws, app: UwsApp, sessions: GatewaySessions, config: GatewayConfig): void {
  app.ws<ConnectionData>('/ws', {
    compression: uws.DISABLED,
    maxPayloadLength: config.GATEWAY_MAX_FRAME_BYTES * 4,
    // The gateway stops sending far below this (GATEWAY_MAX_BUFFERED_BYTES); this is only the hard ceiling.
    maxBackpressure: Math.max(config.GATEWAY_MAX_BUFFERED_BYTES * 8, 4 * 1024 * 1024),
    closeOnBackpressureLimit: false,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    open: (ws) => {
      ws.getUserData().connection = sessions.open(new UwsTransport(ws));
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData().connection;
      if (connection) sessions.message(connection, message, isBinary);
    },
    drain: (ws) => {
      const connection = ws.getUserData().connection;
      if (connection) sessions.drain(connection);
    },
    close: (ws) => {
      const connection = ws.getUserData().connection;
      if (connection) sessions.disconnected(connection);
    },
  });
}
