import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { dataOf, succeeded, type Session, type Universe, messageOf } from './api.js';
import { symbolsFromText } from './lists.js';
import { BASE, link } from './router.js';

/** The built-in universes and the user's own, from /api/users/universe; `reload` reads them again. */
export function useUniverses(session: Session): Universe[] | undefined {
  return useUniverseList(session).list;
}

function useUniverseList(session: Session): { list: Universe[] | undefined; error: string | undefined; reload: () => void } {
  const [list, setList] = useState<Universe[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    dataOf(session.api.GET('/api/users/universe')).then(
      (page) => {
        if (!current) return;
        setList(page.data);
        setError(undefined);
      },
      (problem: unknown) => current && setError(messageOf(problem)),
    );
    return () => {
      current = false;
    };
  }, [generation]);
  return { list, error, reload: () => setGeneration((value) => value + 1) };
}

/**
 * Universes and watchlists: the built-in ones (read-only) and the user's own, which can be created, edited and
 * deleted. Each opens the scanner filtered to it; the scanner's live subscription then follows the same universe
 * through the gateway (its `universe` filter), so the list is resolved in one place, the accounts store.
 */
export function Universes({ session }: { session: Session }) {
  const { list, error, reload } = useUniverseList(session);
  const [editing, setEditing] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();

  const create = async (event: Event) => {
    event.preventDefault();
    const formElement = event.target as HTMLFormElement;
    const form = new FormData(formElement);
    try {
      const created = await dataOf(
        session.api.POST('/api/users/universe', {
          body: {
            key: String(form.get('key')).trim(),
            name: String(form.get('name')).trim(),
            description: String(form.get('description') ?? '').trim(),
            kind: form.get('kind') === 'universe' ? 'universe' : 'watchlist',
            symbols: symbolsFromText(String(form.get('symbols'))),
          },
        }),
      );
      formElement.reset();
      setFormError(undefined);
      setDone(`Created ${created.name} (${created.count} symbols).`);
      reload();
    } catch (problem) {
      setFormError(messageOf(problem));
    }
  };

  const save = async (event: Event, key: string) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    try {
      const saved = await dataOf(
        session.api.PATCH('/api/users/universe/{key}', {
          params: { path: { key } },
          body: {
            name: String(form.get('name')).trim(),
            description: String(form.get('description') ?? '').trim(),
            symbols: symbolsFromText(String(form.get('symbols'))),
          },
        }),
      );
      setEditing(undefined);
      setFormError(undefined);
      setDone(`Saved ${saved.name} (${saved.count} symbols).`);
      reload();
    } catch (problem) {
      setFormError(messageOf(problem));
    }
  };

  const remove = async (key: string) => {
    try {
      await succeeded(session.api.DELETE('/api/users/universe/{key}', { params: { path: { key } } }));
      setDeleting(undefined);
      setDone(`Deleted ${key}.`);
      reload();
    } catch (problem) {
      setFormError(messageOf(problem));
    }
  };

  const own = list?.filter((entry) => entry.category === 'user') ?? [];
  const builtin = list?.filter((entry) => entry.category === 'builtin') ?? [];
  return (
    <section>
      <h1>Universes</h1>
      <form class="panel" onSubmit={(event) => void create(event)} data-testid="new-universe">
        <h2>New watchlist or universe</h2>
        <div class="fields">
          <label>
            Key (a–z, 0–9, _ or -)
            <input name="key" required pattern="[a-z0-9][a-z0-9_\-]{0,63}" placeholder="my_tech" />
          </label>
          <label>
            Name
            <input name="name" required placeholder="My tech names" />
          </label>
          <label>
            Kind
            <select name="kind">
              <option value="watchlist">Watchlist</option>
              <option value="universe">Universe</option>
            </select>
          </label>
          <label>
            Description
            <input name="description" />
          </label>
        </div>
        <label>
          Symbols (commas, spaces or new lines)
          <textarea name="symbols" rows={2} required placeholder="AAPL, MSFT, NVDA" />
        </label>
        <button type="submit">Create</button>
      </form>
      {formError && (
        <p class="error" role="alert" data-testid="universe-error">
          {formError}
        </p>
      )}
      {done && !formError && (
        <p class="status" role="status">
          {done}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <h2>Yours</h2>
      {list && own.length === 0 && <p class="status">None yet: create one above.</p>}
      <div class="scroll">
        <table data-testid="own-universes">
          <tbody>
            {own.map((entry) =>
              editing === entry.key ? (
                <tr key={entry.key} data-key={entry.key}>
                  <td colSpan={5}>
                    <form class="fields" onSubmit={(event) => void save(event, entry.key)}>
                      <label>
                        Name
                        <input name="name" defaultValue={entry.name} required />
                      </label>
                      <label>
                        Description
                        <input name="description" defaultValue={entry.description} />
                      </label>
                      <label class="wide">
                        Symbols
                        <textarea name="symbols" rows={2} defaultValue={entry.symbols.join(', ')} required />
                      </label>
                      <span class="actions">
                        <button type="submit">Save</button>
                        <button type="button" onClick={() => setEditing(undefined)}>
                          Cancel
                        </button>
                      </span>
                    </form>
                  </td>
                </tr>
              ) : (
                <UniverseRow key={entry.key} universe={entry}>
                  <button type="button" onClick={() => (setEditing(entry.key), setDeleting(undefined))}>
                    Edit
                  </button>
                  {deleting === entry.key ? (
                    <>
                      <button type="button" class="danger" onClick={() => void remove(entry.key)}>
                        Yes, delete {entry.key}
                      </button>
                      <button type="button" onClick={() => setDeleting(undefined)}>
                        Keep it
                      </button>
                    </>
                  ) : (
                    <button type="button" onClick={() => setDeleting(entry.key)}>
                      Delete
                    </button>
                  )}
                </UniverseRow>
              ),
            )}
          </tbody>
        </table>
      </div>
      <h2>Built in</h2>
      <div class="scroll">
        <table>
          <tbody>
            {builtin.map((entry) => (
              <UniverseRow key={entry.key} universe={entry} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function UniverseRow({ universe, children }: { universe: Universe; children?: ComponentChildren }) {
  const scan = `${BASE}?universe=${encodeURIComponent(universe.key)}`;
  const shown = universe.symbols.slice(0, 12).join(', ');
  return (
    <tr data-key={universe.key}>
      <td>
        <b>{universe.name}</b>
        <div class="status">
          {universe.key} · {universe.kind}
          {universe.description ? ` · ${universe.description}` : ''}
        </div>
      </td>
      <td class="num">{universe.count}</td>
      <td class="symbols" title={universe.symbols.join(', ')}>
        {shown}
        {universe.symbols.length > 12 ? ', …' : ''}
      </td>
      <td>
        <a href={scan} onClick={link(scan)}>
          Scan it live
        </a>
      </td>
      <td class="actions">{children}</td>
    </tr>
  );
}
