/** Loading state for one API read; reload() after an action, and stale answers of an earlier path are dropped. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, query as toQuery } from '../api/client.js';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export function useApi<T>(path: string | undefined): Loaded<T> {
  // Each answer remembers the path it answers: another path's data is never shown as this one's (a page reused for
  // another case must not show the previous case's verdict while the new one loads).
  const [state, setState] = useState<{ path?: string; data?: T; error?: unknown; loading: boolean }>({ path, loading: !!path });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    setState((s) => (s.path === path ? { ...s, loading: true, error: undefined } : { path, loading: true }));
    api<T>(path, { signal: ctl.signal }).then(
      (data) => setState({ path, data, loading: false }),
      (error: unknown) => {
        // A failed refresh keeps what was shown (and says it failed); a failed first load has nothing to keep.
        if ((error as Error).name !== 'AbortError') setState((s) => (s.path === path ? { ...s, error, loading: false } : { path, error, loading: false }));
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: current ? state.loading : !!path, reload };
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

/**
 * A cursor-paged list: the first page, then "load more" appends the next one. The API pages newest first with opaque
 * cursors; nothing is counted (counting 100,000 rows on every load is what makes consoles slow).
 */
export function useCursorList<T>(path: string, params: Record<string, string | number | undefined>, limit = 50) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const key = path + JSON.stringify(params) + limit;

  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(undefined);
    api<Page<T>>(path + toQuery({ ...params, limit }), { signal: ctl.signal }).then(
      (page) => {
        setItems(page.items);
        setNext(page.nextCursor ?? null);
        setLoading(false);
      },
      (e: unknown) => {
        if ((e as Error).name === 'AbortError') return;
        setItems([]);
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [key, tick]);

  // The first page's load counts up on every (re)load: a "load more" asked before it is dropped when it answers.
  const generation = useRef(0);
  useEffect(() => {
    generation.current++;
  }, [key, tick]);

  const more = useCallback(() => {
    if (!next) return;
    const asked = generation.current;
    setLoading(true);
    api<Page<T>>(path + toQuery({ ...params, limit, cursor: next })).then(
      (page) => {
        if (generation.current !== asked) return;
        setItems((old) => [...old, ...page.items]);
        setNext(page.nextCursor ?? null);
        setLoading(false);
      },
      (e: unknown) => {
        if (generation.current !== asked) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [next, key]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { items, hasMore: !!next, more, error, loading, reload };
}
