// Hash routing (`/__motia/#/traces/<id>?q=`): the server serves one index.html, whatever the page.
import { useEffect, useState } from 'preact/hooks'

export interface Route {
  parts: string[]
  query: URLSearchParams
}

function current(): Route {
  const hash = location.hash.replace(/^#\/?/, '')
  const [path = '', search = ''] = hash.split('?', 2)
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current)
  useEffect(() => {
    const update = () => setRoute(current())
    window.addEventListener('hashchange', update)
    return () => window.removeEventListener('hashchange', update)
  }, [])
  return route
}

/** `#/a/b?x=1` from path parts (encoded) and the set query values. */
export function href(parts: string[], params: Record<string, string | null | undefined> = {}): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value)
  const text = search.toString()
  return `#/${parts.map(encodeURIComponent).join('/')}${text ? `?${text}` : ''}`
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to)
  else location.hash = to.slice(1)
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'))
}
