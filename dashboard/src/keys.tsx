import createClient from 'openapi-fetch';
import { useEffect, useState } from 'preact/hooks';
import { dataOf, succeeded, type ApiKey, type Session, messageOf } from './api.js';
import type { paths } from './api-types.js';

const SCOPES = [
  ['read', 'read: REST data and universes'],
  ['stream', 'stream: the live gateway'],
  ['manage', 'manage: create and revoke keys'],
] as const;
type Scope = (typeof SCOPES)[number][0];

const when = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') : '–');

/**
 * What the API says about a key on its own (no session): who it signs in as, or, when refused, why in words
 * (a revoked key and a mistyped one look the same to the API, on purpose).
 */
async function checkKey(key: string): Promise<string> {
  const api = createClient<paths>({ baseUrl: location.origin, headers: { 'X-API-Key': key } });
  const { data, response } = await api.GET('/api/auth/me');
  if (data) return `This key works: it signs in as ${data.email}.`;
  if (response.status === 401)
    return 'The API refuses this key: it has been revoked, or it was copied incompletely. Create a new key above and use that.';
  if (response.status === 403) return 'This key is valid but lacks the scope this check needs (read).';
  if (response.status === 429) return 'Too many requests: wait a moment and check again.';
  return `The API could not check the key right now (HTTP ${response.status}).`;
}

/** API keys: create one (its secret shown once), list them, revoke one, and check what the API says about a key. */
export function ApiKeys({ session }: { session: Session }) {
  const [keys, setKeys] = useState<ApiKey[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [created, setCreated] = useState<{ name: string; key: string } | undefined>();
  const [generation, setGeneration] = useState(0);
  const [checked, setChecked] = useState<string | undefined>();

  useEffect(() => {
    let current = true;
    dataOf(session.api.GET('/api/auth/api-keys')).then(
      (list) => current && (setKeys(list.data), setError(undefined)),
      (problem: unknown) => current && setError(messageOf(problem)),
    );
    return () => {
      current = false;
    };
  }, [generation]);

  const create = async (event: Event) => {
    event.preventDefault();
    const formElement = event.target as HTMLFormElement;
    const form = new FormData(formElement);
    const scopes = SCOPES.map(([scope]) => scope).filter((scope): scope is Scope => form.get(scope) === 'on');
    try {
      const key = await dataOf(session.api.POST('/api/auth/api-keys', { body: { name: String(form.get('name')).trim(), scopes } }));
      setCreated({ name: key.name, key: key.key });
      setError(undefined);
      formElement.reset();
      setGeneration((value) => value + 1);
    } catch (problem) {
      setError(messageOf(problem));
    }
  };

  const revoke = async (id: string) => {
    try {
      await succeeded(session.api.DELETE('/api/auth/api-keys/{id}', { params: { path: { id } } }));
      setGeneration((value) => value + 1);
    } catch (problem) {
      setError(messageOf(problem));
    }
  };

  const check = async (event: Event) => {
    event.preventDefault();
    const key = String(new FormData(event.target as HTMLFormElement).get('key')).trim();
    setChecked(undefined);
    try {
      setChecked(await checkKey(key));
    } catch (problem) {
      setChecked(`The API could not be reached: ${messageOf(problem)}`);
    }
  };

  return (
    <section>
      <h1>API keys</h1>
      <p class="status">
        Keys let scripts and other programs read the API (<code>X-API-Key</code>) and stream from the gateway. Only a hash is stored: a new
        key is shown once.
      </p>
      <form class="panel" onSubmit={(event) => void create(event)} data-testid="new-key">
        <div class="fields">
          <label>
            Name
            <input name="name" required maxLength={100} placeholder="research notebook" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map(([scope, label]) => (
              <label class="inline">
                <input type="checkbox" name={scope} defaultChecked={scope !== 'manage'} /> {label}
              </label>
            ))}
          </fieldset>
        </div>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <div class="panel notice" role="status" data-testid="created-key">
          <p>
            Your new key <b>{created.name}</b>. Copy it now: it will not be shown again.
          </p>
          <input readOnly value={created.key} size={60} onFocus={(event) => (event.target as HTMLInputElement).select()} />{' '}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>{' '}
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="scroll">
        <table data-testid="keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Scopes</th>
              <th>Created</th>
              <th>Last used</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys?.map((key) => (
              <tr key={key.id} data-id={key.id} data-name={key.name}>
                <td>{key.name}</td>
                <td>{key.scopes.join(', ')}</td>
                <td>{when(key.created_at)}</td>
                <td>{when(key.last_used_at)}</td>
                <td>{key.revoked_at ? `revoked ${when(key.revoked_at)}` : 'active'}</td>
                <td>
                  {!key.revoked_at && (
                    <button type="button" onClick={() => void revoke(key.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {keys && keys.length === 0 && <p class="status">No keys yet.</p>}
      <form class="panel" onSubmit={(event) => void check(event)} data-testid="check-key">
        <h2>Check a key</h2>
        <label>
          Key
          <input name="key" required autocomplete="off" placeholder="tfk_…" size={60} />
        </label>
        <button type="submit">Check</button>
        {checked && (
          <p class={checked.startsWith('This key works') ? 'status' : 'error'} role="status" data-testid="key-check">
            {checked}
          </p>
        )}
      </form>
    </section>
  );
}
