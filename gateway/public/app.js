/* global location, URLSearchParams */
// The live page: no framework, the SDK from /sdk.js. Credentials come from the form or the URL fragment
// (#token=… or #apiKey=…), which browsers never send to the server in requests.
import { TickflowClient } from '/sdk.js';

const MAX_ROWS = 200;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
let client;
let count = 0;

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

// `entry` is an event ({p, o, ts, key, data}) or a snapshot item ({key, ts, data}: a state, with no position).
function render(entry, stream) {
  const d = entry.data;
  const position = entry.p === undefined ? 'snapshot' : `${entry.p}:${entry.o}`;
  const tr = document.createElement('tr');
  tr.className = `${d.direction ?? ''} fresh`;
  tr.dataset.position = position;
  const time = new Date(stream === 'patterns' ? d.detectedAtMs : (d.windowEndMs ?? entry.ts)).toLocaleTimeString();
  const label = stream === 'patterns' ? d.pattern : `${d.interval ?? 'bar'} o${d.open} h${d.high} l${d.low}`;
  const price = stream === 'patterns' ? d.price : d.close;
  for (const text of [
    time,
    entry.key,
    label,
    d.kind ?? d.lastKind ?? '',
    d.tier ?? '',
    d.confidence === undefined ? '' : d.confidence.toFixed(2),
    price?.toFixed?.(2) ?? '',
    position,
  ])
    tr.append(cell(text));
  const rows = $('rows');
  rows.prepend(tr);
  setTimeout(() => tr.classList.remove('fresh'), 1500);
  while (rows.children.length > MAX_ROWS) rows.lastElementChild.remove();
}

async function start(credential, symbols, stream) {
  client?.close();
  count = 0;
  $('rows').replaceChildren();
  $('snapshot').textContent = '';
  $('report').textContent = '';
  const auth = credential.startsWith('tfk_') ? { apiKey: credential } : { token: credential };
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  client = new TickflowClient({
    url,
    auth,
    onStatus: (status, detail) => {
      $('status').textContent = detail ? `${status} (${detail})` : status;
      $('status').className = status;
    },
  });
  const subscription = client.subscribe({
    stream,
    // #from=earliest replays what the log keeps; #from=snapshot starts with the current state.
    from: ['earliest', 'snapshot'].includes(params.get('from')) ? params.get('from') : 'latest',
    filter: symbols.length > 0 ? { symbols } : undefined,
    window: 200,
    onUnrecoverable: 'oldest',
    onSnapshot: (items, source) => {
      for (const item of items) render(item, stream);
      $('snapshot').textContent = `snapshot: ${items.length} ${stream === 'patterns' ? 'active patterns' : 'symbols'} (from ${source})`;
    },
    onResumed: (report) => {
      $('report').textContent =
        `resumed: ${report.count} events, ${report.fromRing} from memory, ${report.fromKafka} from Kafka, lag ${report.lagRecords} records`;
    },
  });
  try {
    await client.connect();
  } catch (error) {
    $('status').textContent = `failed: ${error.message}`;
    return;
  }
  for await (const event of subscription) {
    count += 1;
    $('count').textContent = String(count);
    $('cursor').textContent = subscription.cursor ?? '–';
    render(event, stream);
  }
}

$('connect').addEventListener('submit', (event) => {
  event.preventDefault();
  const symbols = $('symbols')
    .value.split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  void start($('credential').value.trim(), symbols, $('stream').value);
});

const initial = params.get('token') ?? params.get('apiKey');
if (initial) {
  $('credential').value = initial;
  if (params.get('symbols')) $('symbols').value = params.get('symbols');
  if (params.get('stream')) $('stream').value = params.get('stream');
  $('connect').requestSubmit();
}
