import { useEffect, useState } from 'preact/hooks';

// Hash routes (#/overview, #/versions, #/diff?from=A&to=B, #/environments/NAME, #/monitor):
// the page is one static file under /console/, so the route lives after the "#".

export interface Route {
  page: string;
  /** The path's second segment, e.g. the environment's name. */
  param: string;
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = raw.split('?', 2);
  const [page = '', param = ''] = path.split('/');
  let name = param;
  try {
    name = decodeURIComponent(param);
  } catch {
    // a malformed escape: keep the text as typed
  }
  return { page: page || 'overview', param: name, query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function href(page: string, param = '', query: Record<string, string> = {}): string {
  const q = new URLSearchParams(query).toString();
  return `#/${page}${param ? `/${encodeURIComponent(param)}` : ''}${q ? `?${q}` : ''}`;
}

export function go(page: string, param = '', query: Record<string, string> = {}): void {
  location.hash = href(page, param, query);
}
