import { useEffect, useState } from 'preact/hooks';
import type { Credentials, SnapshotItem, StartPosition, StreamName, WireEvent } from '../../gateway/client/index.js';
import type { Session } from './api.js';
import { symbolsFromText } from './lists.js';
import { follow, type LiveStatus } from './live.js';

/** Rows kept on screen: the newest first. */
const MAX_ROWS = 200;

/** The fields of a pattern event or state, or a bar, that the feed shows (schemas/pattern-event.avsc, aggregate.avsc). */
interface FeedData {
  readonly pattern?: string;
  readonly kind?: string;
  readonly lastKind?: string;
  readonly tier?: string;
  readonly confidence?: number;
  readonly price?: number;
  readonly detectedAtMs?: number;
  readonly interval?: string;
  readonly open?: number;
  readonly high?: number;
  readonly low?: number;
  readonly close?: number;
  readonly windowEndMs?: number;
}

interface Row {
  readonly id: string;
  readonly time: number;
  readonly symbol: string;
  readonly what: string;
  readonly kind: string;
  readonly tier: string;
  readonly confidence: string;
  readonly price: string;
  /** partition:offset, or `snapshot` for a state from a snapshot (no position). */
  readonly position: string;
}

let nextRow = 0;

function rowOf(entry: WireEvent<FeedData> | SnapshotItem<FeedData>, stream: StreamName): Row {
  const d = entry.data;
  const bar = stream === 'bars';
  return {
    id: String((nextRow += 1)),
    time: bar ? (d.windowEndMs ?? entry.ts) : (d.detectedAtMs ?? entry.ts),
    symbol: entry.key,
    what: bar ? `${d.interval ?? 'bar'} o${d.open} h${d.high} l${d.low}` : (d.pattern ?? ''),
    kind: d.kind ?? d.lastKind ?? '',
    tier: d.tier ?? '',
    confidence: d.confidence === undefined ? '' : d.confidence.toFixed(2),
    price: (bar ? d.close : d.price)?.toFixed(2) ?? '',
    position: 'p' in entry ? `${entry.p}:${entry.o}` : 'snapshot',
  };
}

/** The settings of the feed, from the URL fragment (never sent to a server): stream, symbols, from, apiKey. */
function settingsOf(hash: string): { stream: StreamName; symbols: string; from: StartPosition | 'snapshot'; apiKey: string } {
  const params = new URLSearchParams(hash.slice(1));
  const from = params.get('from');
  return {
    stream: params.get('stream') === 'bars' ? 'bars' : 'patterns',
    symbols: params.get('symbols') ?? '',
    from: from === 'earliest' || from === 'snapshot' ? from : 'latest',
    apiKey: params.get('apiKey') ?? '',
  };
}

/** What a failed connection means, in words: a refused API key is the common case worth naming. */
function failureText(status: LiveStatus, withKey: boolean): string | undefined {
  if (status.state !== 'failed') return undefined;
  if (withKey && /auth/i.test(status.detail ?? ''))
    return 'The gateway refused this API key: it has been revoked, or it is not a complete key. Create a new one under API keys.';
  return `The live connection failed: ${status.detail ?? 'no reason given'}.`;
}

/**
 * The raw live feed (what the gateway's old live page showed): every pattern event or minute bar as it arrives,
 * with its position, from the live head, the oldest position kept, or a snapshot of the current state. Signed in
 * it streams with the session; `#apiKey=tfk_…` in the URL (or the field) streams with an API key instead, which is
 * how a key is tried on the gateway.
 */
export function LiveFeed({ session, onLive }: { session: Session; onLive: (status: LiveStatus | undefined) => void }) {
  const [settings, setSettings] = useState(() => settingsOf(location.hash));
  const [rows, setRows] = useState<Row[]>([]);
  const [status, setStatus] = useState<LiveStatus | undefined>();
  const [snapshot, setSnapshot] = useState<string | undefined>();

  // A link to another fragment of this page (e.g. #from=snapshot) changes the settings without a page load.
  useEffect(() => {
    const update = () => setSettings(settingsOf(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);

  useEffect(() => {
    setRows([]);
    setSnapshot(undefined);
    const add = (entries: Row[]) => setRows((before) => [...entries.reverse(), ...before].slice(0, MAX_ROWS));
    const symbols = symbolsFromText(settings.symbols);
    const auth: Credentials = settings.apiKey ? { apiKey: settings.apiKey } : { token: async () => (await session.token()) ?? '' };
    const stop = follow<FeedData>({
      auth,
      stream: settings.stream,
      filter: symbols.length > 0 ? { symbols } : {},
      from: settings.from,
      onStatus: (next) => {
        setStatus(next);
        onLive(next);
      },
      onSnapshot: (items) => {
        setSnapshot(`snapshot: ${items.length} ${settings.stream === 'patterns' ? 'active patterns' : 'symbols'}`);
        add(items.map((item) => rowOf(item, settings.stream)));
      },
      onEvents: (events) => add(events.map((event) => rowOf(event, settings.stream))),
    });
    return () => {
      stop();
      onLive(undefined);
    };
  }, [settings]);

  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const params = new URLSearchParams();
    for (const field of ['stream', 'symbols', 'from', 'apiKey']) {
      const value = String(form.get(field) ?? '').trim();
      if (value && !(field === 'from' && value === 'latest') && !(field === 'stream' && value === 'patterns')) params.set(field, value);
    }
    // The fragment, not the query: an API key in it never reaches a server's logs.
    const fragment = params.toString();
    history.replaceState(null, '', `${location.pathname}${fragment ? `#${fragment}` : ''}`);
    setSettings(settingsOf(location.hash));
  };

  const failure = status ? failureText(status, settings.apiKey !== '') : undefined;
  return (
    <section>
      <h1>Live feed</h1>
      <form class="filters" onSubmit={submit} key={JSON.stringify(settings)}>
        <label>
          Stream
          <select name="stream" value={settings.stream}>
            <option value="patterns">Pattern events</option>
            <option value="bars">Minute bars</option>
          </select>
        </label>
        <label>
          Symbols (empty: all)
          <input name="symbols" defaultValue={settings.symbols} />
        </label>
        <label>
          Start from
          <select name="from" value={typeof settings.from === 'string' ? settings.from : 'latest'}>
            <option value="latest">Now (live head)</option>
            <option value="snapshot">A snapshot of the current state</option>
            <option value="earliest">The oldest position kept</option>
          </select>
        </label>
        <label>
          API key (empty: your session)
          <input name="apiKey" type="password" autocomplete="off" defaultValue={settings.apiKey} placeholder="tfk_…" />
        </label>
        <button type="submit">Connect</button>
      </form>
      {failure && (
        <p class="error" role="alert" data-testid="feed-error">
          {failure}
        </p>
      )}
      <p class="status">
        {status ? `${status.received.toLocaleString('en-US')} events` : 'connecting…'}
        {snapshot ? ` · ${snapshot}` : ''}
      </p>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              {['Time', 'Symbol', 'Pattern / bar', 'Kind', 'Tier', 'Conf.', 'Price', 'Position'].map((name) => (
                <th>{name}</th>
              ))}
            </tr>
          </thead>
          <tbody data-testid="feed">
            {rows.map((row) => (
              <tr key={row.id} data-position={row.position}>
                <td>{new Date(row.time).toLocaleTimeString()}</td>
                <td>{row.symbol}</td>
                <td>{row.what}</td>
                <td>{row.kind}</td>
                <td>{row.tier}</td>
                <td class="num">{row.confidence}</td>
                <td class="num">{row.price}</td>
                <td>{row.position}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
