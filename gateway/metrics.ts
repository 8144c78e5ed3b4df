import type { Registry } from 'prom-client';
import { Counter, Gauge } from '../platform/index.js';
import type { SessionMetrics } from './session.js';

/** The gateway's session metrics, registered in `registry` (served at /metrics). */
export function createGatewayMetrics(registry: Registry): SessionMetrics {
  const registers = [registry];
  return {
    connections: new Gauge({ name: 'tickflow_gateway_connections', help: 'Open WebSocket connections', registers }),
    subscriptions: new Gauge({ name: 'tickflow_gateway_subscriptions', help: 'Active subscriptions', registers }),
    delivered: new Counter({
      name: 'tickflow_gateway_events_delivered_total',
      help: 'Events sent to clients',
      labelNames: ['stream'],
      registers,
    }),
    frames: new Counter({
      name: 'tickflow_gateway_client_frames_total',
      help: 'Frames received from clients',
      labelNames: ['type'],
      registers,
    }),
    errors: new Counter({
      name: 'tickflow_gateway_client_errors_total',
      help: 'Error frames sent, by code',
      labelNames: ['code'],
      registers,
    }),
    readBacks: new Counter({
      name: 'tickflow_gateway_kafka_readbacks_total',
      help: 'Reads of positions older than the ring, from Kafka',
      registers,
    }),
    unrecoverable: new Counter({
      name: 'tickflow_gateway_unrecoverable_total',
      help: 'Positions that could not be resumed',
      labelNames: ['reason'],
      registers,
    }),
    backpressure: new Counter({
      name: 'tickflow_gateway_backpressure_pauses_total',
      help: 'Times delivery paused on a full send buffer',
      registers,
    }),
    sendBuffer: new Gauge({
      name: 'tickflow_gateway_send_buffer_bytes',
      help: "Bytes waiting in all connections' send buffers (bounded by GATEWAY_MAX_BUFFERED_BYTES plus one frame each)",
      registers,
    }),
    closes: new Counter({
      name: 'tickflow_gateway_closes_total',
      help: 'Connections closed by the gateway, by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}
