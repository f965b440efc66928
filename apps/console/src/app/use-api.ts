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
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: !!path });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    api<T>(path, { signal: ctl.signal }).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if ((error as Error).name !== 'AbortError') setState({ error, loading: false });
      },
    );
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
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
  const keyRef = useRef(key);
  keyRef.current = key;

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

  const more = useCallback(() => {
    if (!next) return;
    const asked = keyRef.current;
    setLoading(true);
    api<Page<T>>(path + toQuery({ ...params, limit, cursor: next })).then(
      (page) => {
        if (keyRef.current !== asked) return;
        setItems((old) => [...old, ...page.items]);
        setNext(page.nextCursor ?? null);
        setLoading(false);
      },
      (e: unknown) => {
        setError(e);
        setLoading(false);
      },
    );
  }, [next, key]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { items, hasMore: !!next, more, error, loading, reload };
}
