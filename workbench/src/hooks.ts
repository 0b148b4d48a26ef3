import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, query, type Page } from './api'
import { href, navigate } from './router'

export interface Loaded<T> {
  data: T | null
  error: unknown
  loading: boolean
  reload: () => void
  setData: (update: (previous: T | null) => T | null) => void
}

/** The result of `load()`, fetched again whenever `deps` change or `reload()` is called. Answers
 * that arrive after a newer request started are dropped, so a slow reply never overwrites. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setDataState] = useState<T | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const generation = useRef(0)
  const loader = useRef(load)
  loader.current = load

  const reload = useCallback(() => {
    const mine = ++generation.current
    setLoading(true)
    loader.current().then(
      (value) => {
        if (mine !== generation.current) return
        setDataState(value)
        setError(null)
        setLoading(false)
      },
      (failure: unknown) => {
        if (mine !== generation.current) return
        setError(failure)
        setLoading(false)
      },
    )
  }, [])

  useEffect(reload, deps)
  const setData = useCallback((update: (previous: T | null) => T | null) => setDataState(update), [])
  return { data, error, loading, reload, setData }
}

/** A list page's filter, kept in the URL so a filtered view can be reloaded and linked: the
 * values of `keys` in the query (empty when absent) and a setter that navigates to `page` with
 * some of them changed. */
export function useUrlFilter<K extends string>(
  page: string,
  params: URLSearchParams,
  keys: readonly K[],
): [Record<K, string>, (change: Partial<Record<K, string>>) => void] {
  const filter = Object.fromEntries(keys.map((k) => [k, params.get(k) ?? ''])) as Record<K, string>
  const setFilter = (change: Partial<Record<K, string>>) => navigate(href([page], { ...filter, ...change }), true)
  return [filter, setFilter]
}

export interface PagedList<T> extends Loaded<Page<T>> {
  /** Appends the next page (no-op on the last one). */
  more: () => Promise<void>
}

/** The first `limit` items of the API list `path` under `filter`, fetched again whenever the
 * filter changes, and `more()` for the next page by the server's cursor. */
export function usePagedList<T>(path: string, filter: Record<string, string>, limit: number): PagedList<T> {
  const list = useLoad(() => api<Page<T>>(`${path}${query({ ...filter, limit })}`), Object.values(filter))
  const more = async () => {
    const cursor = list.data?.nextCursor
    if (!cursor) return
    const next = await api<Page<T>>(`${path}${query({ ...filter, limit, cursor })}`)
    list.setData((page) => page && { items: [...page.items, ...next.items], nextCursor: next.nextCursor })
  }
  return { ...list, more }
}
