// Machine stall probe of the gateway benchmark, run as a child process that does nothing else: it asks to wake
// every 2 ms and records how late each wake-up is. An idle process is scheduled first when it wakes, so its
// lateness is what the machine (other tenants of the host, the two shared cores) imposes on any process, the
// gateway included: a latency figure is read next to it. Driven over the IPC channel by bench/suites/gateway.ts.
const INTERVAL_MS = 2;
let late = [];
let running = false;
let expected = 0;

function tick() {
  if (!running) return;
  const now = performance.now();
  late.push(Math.max(0, now - expected));
  expected = now + INTERVAL_MS;
  setTimeout(tick, INTERVAL_MS);
}

process.on('message', (message) => {
  if (message.cmd === 'start') {
    late = [];
    running = true;
    expected = performance.now() + INTERVAL_MS;
    setTimeout(tick, INTERVAL_MS);
    process.send({ cmd: 'probing' });
  } else if (message.cmd === 'stop') {
    running = false;
    late.sort((a, b) => a - b);
    const at = (q) => late[Math.min(late.length - 1, Math.floor(q * late.length))] ?? 0;
    process.send({
      cmd: 'lateness',
      samples: late.length,
      p99: at(0.99),
      max: late[late.length - 1] ?? 0,
      over20: late.filter((ms) => ms > 20).length,
    });
  } else if (message.cmd === 'close') {
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.send({ cmd: 'started' });
