import { useCallback, useEffect, useRef, useState } from 'preact/hooks'

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
