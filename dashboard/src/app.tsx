import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiProblem, Session, dataOf, type Pattern, messageOf } from './api.js';
import {
  concernsScan,
  directionsOf,
  FILTER_FIELDS,
  filtersFromSearch,
  liveFilterOf,
  searchFromFilters,
  type Filters,
  type ScanQuery,
} from './filters.js';
import { LiveFeed } from './feed.js';
import { ApiKeys } from './keys.js';
import { follow, type LiveStatus, type PatternEventData } from './live.js';
import { Overview } from './overview.js';
import { BASE, link, navigate, useLocation } from './router.js';
import { SymbolView } from './symbol.js';
import { Universes, useUniverses } from './universes.js';

const session = new Session();

/** The screens in the header, by path under BASE. */
const SCREENS = [
  ['', 'Scanner'],
  ['overview', 'Overview'],
  ['universes', 'Universes'],
  ['live', 'Live feed'],
  ['keys', 'API keys'],
] as const;

export function App() {
  const [signedIn, setSignedIn] = useState(session.signedIn);
  const [notice, setNotice] = useState<string | undefined>();
  const [live, setLive] = useState<LiveStatus | undefined>();
  const { path, search } = useLocation();
  useEffect(() => {
    session.onChange = (now, reason) => {
      setSignedIn(now);
      if (reason) setNotice(reason);
    };
  }, []);
  const symbol = /^\/app\/symbol\/([A-Za-z0-9.-]+)$/.exec(path)?.[1];
  const screen = path.startsWith(BASE) ? path.slice(BASE.length) : '';
  if (!signedIn) {
    // The live feed with an API key in the URL fragment (the `npm start` demo link) needs no session.
    if (screen === 'live' && new URLSearchParams(location.hash.slice(1)).has('apiKey'))
      return (
        <>
          <header>
            <strong>Tickflow</strong>
            <a href={BASE}>Sign in for the whole dashboard</a>
            <span class="spacer" />
            <ConnectionStatus status={live} />
          </header>
          <main id="content" tabIndex={-1}>
            <LiveFeed session={session} onLive={setLive} />
          </main>
        </>
      );
    return <SignIn notice={notice} onSignedIn={() => setNotice(undefined)} />;
  }
  let content;
  if (symbol) content = <SymbolView session={session} symbol={symbol.toUpperCase()} onLive={setLive} />;
  else if (screen === 'overview') content = <Overview session={session} />;
  else if (screen === 'universes') content = <Universes session={session} />;
  else if (screen === 'keys') content = <ApiKeys session={session} />;
  else if (screen === 'live') content = <LiveFeed session={session} onLive={setLive} />;
  else content = <Scanner search={search} onLive={setLive} />;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header>
        <strong>Tickflow</strong>
        <nav aria-label="Screens">
          {SCREENS.map(([to, name]) => (
            <a href={BASE + to} onClick={link(BASE + to)} aria-current={!symbol && screen === to ? 'page' : undefined}>
              {name}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <ConnectionStatus status={live} />
        <button type="button" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </header>
      <main id="content" tabIndex={-1}>
        {notice && <p class="error">{notice}</p>}
        {content}
      </main>
    </>
  );
}

/** The gateway's state as the page knows it: state, lag, live events, and the last recovery in plain words. */
function ConnectionStatus({ status }: { status: LiveStatus | undefined }) {
  if (!status)
    return (
      <span class="status" data-testid="connection" data-state="none">
        gateway: no live subscription on this screen
      </span>
    );
  const lag = [
    status.lagRecords === undefined ? undefined : `${status.lagRecords.toLocaleString('en-US')} records behind`,
    status.lagMs === undefined ? undefined : `newest event ${(status.lagMs / 1000).toFixed(1)} s old`,
  ].filter(Boolean);
  return (
    <span class="status" data-testid="connection" data-state={status.state}>
      gateway: <b>{status.state === 'offline' ? 'offline (no network)' : status.state}</b>
      {status.detail && status.state !== 'open' ? ` (${status.detail})` : ''} · lag{' '}
      <span data-testid="lag">{lag.length > 0 ? lag.join(', ') : '–'}</span> · <span data-testid="received">{status.received}</span> live
      events
      {/* Only the recovery report is announced: the counts change several times a second. */}
      <span role="status">{status.report ? <span data-testid="report"> · {status.report}</span> : null}</span>
    </span>
  );
}

function SignIn({ notice, onSignedIn }: { notice: string | undefined; onSignedIn: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const submit = async (event: SubmitEvent, mode: 'login' | 'register') => {
    event.preventDefault();
    const form = new FormData((event.target as HTMLElement).closest('form')!);
    const body = { email: String(form.get('email')), password: String(form.get('password')) };
    try {
      const tokens =
        mode === 'login'
          ? await dataOf(session.api.POST('/api/auth/login', { body }))
          : await dataOf(session.api.POST('/api/auth/register', { body }));
      onSignedIn();
      session.adopt(tokens);
    } catch (problem) {
      setError(messageOf(problem));
    }
  };
  return (
    <form class="auth" onSubmit={(event) => void submit(event as SubmitEvent, 'login')}>
      <h1>Tickflow</h1>
      {notice && <p class="error">{notice}</p>}
      <label>
        Email <input name="email" type="email" autocomplete="username" required />
      </label>
      <label>
        Password (12 characters or more) <input name="password" type="password" autocomplete="current-password" required minLength={12} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit">Sign in</button>
      <button type="button" onClick={(event) => void submit(event as unknown as SubmitEvent, 'register')}>
        Create an account
      </button>
    </form>
  );
}

const FLASH_MS = 3000;
const RELOAD_MS = 250;
const RELOAD_SETTLE_MS = 1500;

function Scanner({ search, onLive }: { search: string; onLive: (status: LiveStatus | undefined) => void }) {
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const scope = searchFromFilters(filters);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [rows, setRows] = useState<Pattern[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [total, setTotal] = useState<string>('');
  const [error, setError] = useState<ApiProblem | Error | undefined>();
  const [loaded, setLoaded] = useState(false);
  const [flashed, setFlashed] = useState<Map<string, number>>(new Map());
  const reload = useRef<() => void>(() => {});
  // Reads overlap during a burst of live events: an answer older than the one shown is dropped.
  const reads = useRef({ issued: 0, shown: 0 });
  const universes = useUniverses(session);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => setCursors([undefined]), [scope]);

  useEffect(() => {
    let current = true;
    const read = async () => {
      const mine = (reads.current.issued += 1);
      try {
        // The URL's text goes to the API as is: the API validates it and names any invalid field.
        const query = { ...filters, per_page: '30', ...(cursor ? { cursor } : {}) } as ScanQuery;
        const page = await dataOf(session.api.GET('/api/patterns/scan', { params: { query } }));
        if (!current || mine < reads.current.shown) return;
        reads.current.shown = mine;
        setRows(page.data);
        setNextCursor(page.pagination.next_cursor);
        setTotal(`${page.pagination.total.toLocaleString('en-US')}${page.pagination.total_capped ? '+' : ''}`);
        setError(undefined);
      } catch (problem) {
        if (current) setError(problem instanceof Error ? problem : new Error(String(problem)));
      } finally {
        if (current) setLoaded(true);
      }
    };
    reload.current = () => void read();
    void read();
    return () => {
      current = false;
    };
  }, [scope, cursor]);

  // Live: the gateway says which patterns changed; the rows shown are re-read from the API (the one truth), so
  // they always match the API's answer. A burst re-reads at most every RELOAD_MS, and once more RELOAD_SETTLE_MS
  // after the last event (the projection may still be writing what the gateway already streamed). Events of
  // directions the scan leaves out are dropped here (the gateway cannot filter by direction): they change no row.
  useEffect(() => {
    const directions = directionsOf(filters);
    let throttle: ReturnType<typeof setTimeout> | undefined;
    let settle: ReturnType<typeof setTimeout> | undefined;
    const reloadSoon = () => {
      throttle ??= setTimeout(() => {
        throttle = undefined;
        reload.current();
      }, RELOAD_MS);
      clearTimeout(settle);
      settle = setTimeout(() => reload.current(), RELOAD_SETTLE_MS);
    };
    const stop = follow<PatternEventData>({
      auth: { token: async () => (await session.token()) ?? '' },
      stream: 'patterns',
      filter: liveFilterOf(filters),
      scope,
      onStatus: onLive,
      onSnapshot: () => reload.current(),
      onEvents: (arrived) => {
        const events = arrived.filter((event) => concernsScan(directions, event.data));
        if (events.length === 0) return;
        const now = Date.now();
        const until = now + FLASH_MS;
        setFlashed((before) => {
          // Expired flags go here too: during a steady stream the clean-up timer below is reset before it fires.
          const next = new Map([...before].filter(([, flagUntil]) => flagUntil > now));
          for (const event of events) next.set(event.data.patternId, until);
          return next;
        });
        reloadSoon();
      },
    });
    return () => {
      clearTimeout(throttle);
      clearTimeout(settle);
      stop();
      onLive(undefined);
    };
  }, [scope]);

  useEffect(() => {
    if (flashed.size === 0) return;
    const timer = setTimeout(() => {
      const now = Date.now();
      setFlashed((before) => new Map([...before].filter(([, until]) => until > now)));
    }, 500);
    return () => clearTimeout(timer);
  }, [flashed]);

  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const next: Filters = {};
    for (const field of FILTER_FIELDS) {
      const value = form.get(field);
      if (typeof value === 'string' && value.trim()) next[field] = value.trim();
    }
    navigate(`${BASE}${searchFromFilters(next)}`);
  };
  const invalid =
    error instanceof ApiProblem
      ? // A list's item is named by its position (`direction.0`), a preset's saved filter by `preset.<field>`.
        error.fields.filter((entry) => (FILTER_FIELDS as readonly string[]).includes(entry.field.split('.')[0]!))
      : [];
  const now = Date.now();
  return (
    <section>
      <h1>Pattern scanner</h1>
      <form class="filters" onSubmit={submit} key={scope}>
        <Field name="pattern_types" label="Pattern types (comma separated)" value={filters.pattern_types} />
        <label>
          Tier
          <select name="timeframe" value={filters.timeframe?.toLowerCase() ?? 'all'}>
            <option value="all">All</option>
            <option value="daily">Daily</option>
            <option value="intraday">Intraday</option>
            <option value="combo">Combo</option>
          </select>
        </label>
        <Choice
          name="direction"
          label="Direction"
          value={filters.direction?.toLowerCase() ?? ''}
          options={[
            ['', 'Any'],
            ['bullish', 'Bullish'],
            ['bearish', 'Bearish'],
            ['neutral', 'Neutral'],
          ]}
        />
        <Choice
          name="status"
          label="Status"
          value={filters.status ?? 'active'}
          options={[
            ['active', 'Active'],
            ['expired', 'Expired'],
            ['all', 'All'],
          ]}
        />
        <Field name="confidence_min" label="Confidence ≥ (0–1)" value={filters.confidence_min} />
        <Field name="rs_min" label="Relative strength ≥" value={filters.rs_min} />
        <Field name="rs_max" label="Relative strength ≤" value={filters.rs_max} />
        <Field name="vol_min" label="Relative volume ≥" value={filters.vol_min} />
        <Field name="vol_max" label="Relative volume ≤" value={filters.vol_max} />
        <Field name="rsi_range" label="RSI min,max" value={filters.rsi_range} />
        <Field name="definition_version" label="Definition versions" value={filters.definition_version} />
        <Field name="symbols" label="Symbols" value={filters.symbols} />
        <label>
          Universe
          <select name="universe" value={filters.universe ?? ''}>
            <option value="">(any)</option>
            {filters.universe && !universes?.some((entry) => entry.key === filters.universe) && (
              <option value={filters.universe}>{filters.universe}</option>
            )}
            {universes?.map((entry) => (
              <option value={entry.key}>
                {entry.name} ({entry.count}){entry.category === 'user' ? ' · yours' : ''}
              </option>
            ))}
          </select>
        </label>
        <Choice
          name="preset"
          label="Preset (a universe of yours with saved filters)"
          value={filters.preset ?? ''}
          options={[
            ['', '(none)'],
            ...(universes ?? []).filter((entry) => entry.category === 'user').map((entry) => [entry.key, entry.name] as const),
          ]}
        />
        <Field name="sectors" label="Sectors" value={filters.sectors} />
        <Field name="since" label="Since" value={filters.since} />
        <Field name="until" label="Until" value={filters.until} />
        <label>
          Sort by
          <select name="sort_by" value={filters.sort_by ?? 'confidence'}>
            {['confidence', 'detected_at', 'symbol', 'rs', 'volume'].map((key) => (
              <option value={key}>{key}</option>
            ))}
          </select>
        </label>
        <label>
          Order
          <select name="sort_order" value={filters.sort_order ?? 'desc'}>
            <option value="desc">desc</option>
            <option value="asc">asc</option>
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {error && (
        <div class="error" role="alert" data-testid="scan-error">
          {invalid.length > 0 ? (
            <>
              Invalid filter in the address:{' '}
              {invalid.map((entry) => (
                <span data-field={entry.field}>
                  <b>{entry.field}</b>: {entry.message}.{' '}
                </span>
              ))}
            </>
          ) : (
            error.message
          )}
        </div>
      )}
      <p class="status">
        {loaded ? `${total} matching patterns` : 'loading…'}
        {cursors.length > 1 ? ` · page ${cursors.length}` : ''}
      </p>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              {['Symbol', 'Pattern', 'Tier', 'Direction', 'Confidence', 'RS', 'Rel. volume', 'Price', 'Change %', 'Detected'].map(
                (name) => (
                  <th>{name}</th>
                ),
              )}
            </tr>
          </thead>
          <tbody data-testid="rows">
            {rows.map((row) => (
              <tr key={row.id} data-id={row.id} class={(flashed.get(row.id) ?? 0) > now ? 'flash' : undefined}>
                <td>
                  <a href={`${BASE}symbol/${row.symbol}`} onClick={link(`${BASE}symbol/${row.symbol}`)}>
                    {row.symbol}
                  </a>
                </td>
                <td>{row.pattern}</td>
                <td>{row.tier}</td>
                <td>{row.direction}</td>
                <td class="num">{row.confidence.toFixed(3)}</td>
                <td class="num">{fixed(row.relative_strength)}</td>
                <td class="num">{fixed(row.relative_volume)}</td>
                <td class="num">{fixed(row.price)}</td>
                <td class="num">{fixed(row.change_pct)}</td>
                <td>{row.detected_at.slice(0, 16).replace('T', ' ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>{' '}
        <button type="button" disabled={!nextCursor} onClick={() => nextCursor && setCursors([...cursors, nextCursor])}>
          Next
        </button>
      </p>
    </section>
  );
}

/** A select whose options are fixed; a value from the URL that is none of them is offered too (the API judges it). */
function Choice({
  name,
  label,
  value,
  options,
}: {
  name: string;
  label: string;
  value: string;
  options: readonly (readonly [value: string, text: string])[];
}) {
  const known = options.some(([option]) => option === value);
  return (
    <label>
      {label}
      <select name={name} value={value}>
        {!known && <option value={value}>{value}</option>}
        {options.map(([option, text]) => (
          <option value={option}>{text}</option>
        ))}
      </select>
    </label>
  );
}

const fixed = (value: number | null) => (value === null ? '–' : value.toFixed(2));

function Field({ name, label, value }: { name: string; label: string; value: string | undefined }) {
  return (
    <label>
      {label}
      <input name={name} defaultValue={value ?? ''} />
    </label>
  );
}
