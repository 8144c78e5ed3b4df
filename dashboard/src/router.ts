import { useEffect, useState } from 'preact/hooks';

/** Where the API serves the dashboard. */
export const BASE = '/app/';

/** Navigates inside the dashboard without a page load. */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The page's path and query string, updated on navigation. */
export function useLocation(): { path: string; search: string } {
  const [where, setWhere] = useState({ path: location.pathname, search: location.search });
  useEffect(() => {
    const update = () => setWhere({ path: location.pathname, search: location.search });
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return where;
}

/** A link's click handler: navigates in place, except when the user asks for a new tab. */
export const link = (to: string) => (event: MouseEvent) => {
  if (event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(to);
};
