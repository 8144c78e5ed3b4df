// Client side of the gateway benchmark, run as a child process (its own file-descriptor table, its own core):
// opens many WebSocket (uWS gateway) or Socket.IO connections, counts what arrives, and samples latency on
// a few probe connections. Driven over the IPC channel by bench/suites/gateway.ts.
import WebSocket from 'ws';
import { io } from 'socket.io-client';

const sockets = [];
let received = 0;
let frames = 0;
let firstAt = 0;
let lastAt = 0;
let latencies = [];
// Records stamped before this (ms) are counted but not timed: the warm-up of the latency phase.
let measureFrom = 0;
const EVENT_MARK = /\{"p":/g;
const TS = /"ts":(\d+)/g;

function count(n, now) {
  if (received === 0) firstAt = now;
  received += n;
  frames += 1;
  lastAt = now;
}

function openGateway(url, index, options) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const probe = index < options.probes;
    socket.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"events"')) {
        const now = Date.now();
        if (probe) {
          let n = 0;
          for (const match of text.matchAll(TS)) {
            const ts = Number(match[1]);
            if (ts >= measureFrom) latencies.push(now - ts);
            n += 1;
          }
          count(n, now);
        } else count((text.match(EVENT_MARK) ?? []).length, now);
        return;
      }
      const frame = JSON.parse(text);
      if (frame.type === 'welcome') socket.send(JSON.stringify({ type: 'auth', token: 'bench' }));
      else if (frame.type === 'authenticated') {
        const filter = options.symbols ? { symbols: [options.symbols[index % options.symbols.length]] } : undefined;
        socket.send(JSON.stringify({ type: 'subscribe', id: 'b', stream: 'patterns', credits: 100000, ...(filter ? { filter } : {}) }));
      } else if (frame.type === 'subscribed') resolve(true);
      else if (frame.type === 'error') resolve(false);
    });
    socket.on('error', () => resolve(false));
    sockets.push(socket);
  });
}

function openSocketIo(url, index, options) {
  return new Promise((resolve) => {
    const symbol = options.symbols ? options.symbols[index % options.symbols.length] : undefined;
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, query: symbol ? { symbol } : {} });
    const probe = index < options.probes;
    socket.on('event', (event) => {
      const now = Date.now();
      if (probe && event.ts >= measureFrom) latencies.push(now - event.ts);
      count(1, now);
    });
    socket.on('ready', () => resolve(true));
    socket.on('connect_error', () => resolve(false));
    sockets.push(socket);
  });
}

process.on('message', async (message) => {
  if (message.cmd === 'open') {
    const started = Date.now();
    let ready = 0;
    // Open in waves so the accept queue is not overrun.
    for (let start = 0; start < message.n; start += 500) {
      const wave = [];
      for (let index = start; index < Math.min(message.n, start + 500); index += 1) {
        wave.push(message.kind === 'uws' ? openGateway(message.url, index, message) : openSocketIo(message.url, index, message));
      }
      ready += (await Promise.all(wave)).filter(Boolean).length;
    }
    process.send({ cmd: 'opened', ready, ms: Date.now() - started, rssMb: process.memoryUsage().rss / 2 ** 20 });
  } else if (message.cmd === 'reset') {
    received = 0;
    frames = 0;
    latencies = [];
    measureFrom = message.measureFrom ?? 0;
    firstAt = 0;
    lastAt = 0;
    process.send({ cmd: 'reset' });
  } else if (message.cmd === 'count') {
    // Cheap progress check: serialising every latency sample on each poll would stall this process's event loop
    // (and so delay the receive times of events still arriving).
    process.send({ cmd: 'count', received, frames, firstAt, lastAt });
  } else if (message.cmd === 'report') {
    const sample =
      latencies.length > 200_000 ? latencies.filter((_, index) => index % Math.ceil(latencies.length / 200_000) === 0) : latencies;
    process.send({ cmd: 'report', received, frames, firstAt, lastAt, latencies: sample });
  } else if (message.cmd === 'close') {
    for (const socket of sockets) socket.close();
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.send({ cmd: 'started' });
