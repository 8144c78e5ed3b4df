import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiProblem, Session, dataOf, type Pattern } from './api.js';
import { FILTER_FIELDS, filtersFromSearch, liveFilterOf, searchFromFilters, type Filters, type ScanQuery } from './filters.js';
import { followPatterns, type LiveStatus } from './live.js';
import { SymbolView } from './symbol.js';

const session = new Session();
const BASE = '/app/';

/** Navigates inside the dashboard without a page load. */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

function useLocation(): { path: string; search: string } {
  const [where, setWhere] = useState({ path: location.pathname, search: location.search });
  useEffect(() => {
    const update = () => setWhere({ path: location.pathname, search: location.search });
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return where;
}

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
  if (!signedIn) return <SignIn notice={notice} onSignedIn={() => setNotice(undefined)} />;
  const symbol = /^\/app\/symbol\/([A-Za-z0-9.-]+)$/.exec(path)?.[1];
  return (
    <>
      <header>
        <strong>Tickflow</strong>
        <nav>
          <a href={BASE} onClick={link(BASE)}>
            Scanner
          </a>
        </nav>
        <span class="spacer" />
        <ConnectionStatus status={live} />
        <button type="button" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </header>
      <main>
        {notice && <p class="error">{notice}</p>}
        {symbol ? <SymbolView session={session} symbol={symbol.toUpperCase()} /> : <Scanner search={search} onLive={setLive} />}
      </main>
    </>
  );
}

const link = (to: string) => (event: MouseEvent) => {
  if (event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  navigate(to);
};

function ConnectionStatus({ status }: { status: LiveStatus | undefined }) {
  if (!status) return <span class="status">gateway: no live subscription on this screen</span>;
  return (
    <span class="status" data-testid="connection" data-state={status.state}>
      gateway: <b>{status.state}</b>
      {status.detail ? ` (${status.detail})` : ''} · lag {status.lagMs === undefined ? '–' : `${status.lagMs.toLocaleString('en-US')} ms`} ·{' '}
      <span data-testid="received">{status.received}</span> live events
      {status.report ? <span data-testid="report"> · {status.report}</span> : null}
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
      setError(problem instanceof Error ? problem.message : String(problem));
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
  const cursor = cursors[cursors.length - 1];

  useEffect(() => setCursors([undefined]), [scope]);

  useEffect(() => {
    let current = true;
    const read = async () => {
      try {
        // The URL's text goes to the API as is: the API validates it and names any invalid field.
        const query = { ...filters, per_page: '30', ...(cursor ? { cursor } : {}) } as ScanQuery;
        const page = await dataOf(session.api.GET('/api/patterns/scan', { params: { query } }));
        if (!current) return;
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

  // Live: the gateway says which patterns changed; the rows shown are re-read from the API (the one truth), twice
  // (at once and after the projection has had time to catch up), so they always match the API's answer.
  useEffect(() => {
    let timers: ReturnType<typeof setTimeout>[] = [];
    const stop = followPatterns({
      token: async () => (await session.token()) ?? '',
      filter: liveFilterOf(filters),
      scope,
      onStatus: onLive,
      onEvent: (event) => {
        setFlashed((before) => new Map(before).set(event.patternId, Date.now() + FLASH_MS));
        timers.forEach(clearTimeout);
        timers = [setTimeout(() => reload.current(), 250), setTimeout(() => reload.current(), 1500)];
      },
    });
    return () => {
      timers.forEach(clearTimeout);
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
    error instanceof ApiProblem ? error.fields.filter((entry) => (FILTER_FIELDS as readonly string[]).includes(entry.field)) : [];
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
        <Field name="confidence_min" label="Confidence ≥ (0–1)" value={filters.confidence_min} />
        <Field name="rs_min" label="Relative strength ≥" value={filters.rs_min} />
        <Field name="vol_min" label="Relative volume ≥" value={filters.vol_min} />
        <Field name="rsi_range" label="RSI min,max" value={filters.rsi_range} />
        <Field name="symbols" label="Symbols" value={filters.symbols} />
        <Field name="universe" label="Universe" value={filters.universe} />
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

const fixed = (value: number | null) => (value === null ? '–' : value.toFixed(2));

function Field({ name, label, value }: { name: string; label: string; value: string | undefined }) {
  return (
    <label>
      {label}
      <input name={name} defaultValue={value ?? ''} />
    </label>
  );
}
