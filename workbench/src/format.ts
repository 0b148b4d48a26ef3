// How times, durations and values read on every page.

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** `14:03:07.412` today, `Dec 3 14:03:07` on other days. */
export function clock(ms: number): string {
  const d = new Date(ms)
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  const today = new Date()
  if (d.toDateString() === today.toDateString()) return `${time}.${pad(d.getMilliseconds(), 3)}`
  return `${d.toLocaleString('en', { month: 'short', day: 'numeric' })} ${time}`
}

export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '…'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

export function shortId(id: string): string {
  return id.length > 16 ? id.slice(0, 8) : id
}

export function json(value: unknown, indent = 2): string {
  if (value === undefined) return 'undefined'
  try {
    return JSON.stringify(value, null, indent) ?? String(value)
  } catch {
    return String(value)
  }
}

/** One line of JSON, cut at `max` characters. */
export function preview(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : json(value, 0)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

const LANGUAGE_BY_EXTENSION: Record<string, string> = {
  ts: 'TypeScript', tsx: 'TypeScript', mts: 'TypeScript', cts: 'TypeScript',
  js: 'JavaScript', mjs: 'JavaScript', cjs: 'JavaScript', jsx: 'JavaScript',
  py: 'Python', rb: 'Ruby',
}

/** What a person calls the file's language ("TypeScript"), beside the runner's ("node"). */
export function sourceLanguage(file: string, language: string): string {
  const extension = file.split('.').pop() ?? ''
  return LANGUAGE_BY_EXTENSION[extension] ?? language
}
