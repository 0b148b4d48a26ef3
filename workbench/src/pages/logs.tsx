// Logs: a live tail of structured log lines, filtered by level, step, trace and text, with each
// line's fields shown. Opened from a trace, it lists that trace's lines and links back.
import { useState } from 'preact/hooks'
import { api, type Flows, type LogRecord } from '../api'
import { Empty, ErrorBox, JsonInline, Level, PageHeader, SearchBox } from '../components'
import { clock, shortId } from '../format'
import { useLoad, usePagedList, useUrlFilter } from '../hooks'
import { useLive } from '../live'
import { href } from '../router'

const LIMIT = 200
const KEEP = 2000 // lines kept in the page while tailing; older ones are one "older" click away
const LEVELS = ['debug', 'info', 'warn', 'error']
const RANK: Record<string, number> = { trace: 0, debug: 1, info: 2, warn: 3, warning: 3, error: 4, critical: 5, fatal: 5 }

const FILTER_KEYS = ['traceId', 'step', 'level', 'q'] as const
type Filter = Record<(typeof FILTER_KEYS)[number], string>

function matches(record: LogRecord, f: Filter): boolean {
  if (f.traceId && record.traceId !== f.traceId) return false
  if (f.step && record.step !== f.step) return false
  if (f.level && (RANK[record.level.toLowerCase()] ?? 2) < (RANK[f.level] ?? 0)) return false
  // As the API searches: in the message.
  return !f.q || record.message.toLowerCase().includes(f.q.toLowerCase())
}

/** The first line; the rest (a stack, usually) one click away. */
function Message({ text }: { text: string }) {
  const [first, ...rest] = text.split('\n')
  return (
    <>
      <span data-testid="log-message">{first}</span>
      {rest.length > 0 && (
        <details class="more">
          <summary>{rest.length} more line{rest.length === 1 ? '' : 's'}</summary>
          <pre class="stack">{rest.join('\n')}</pre>
        </details>
      )}
    </>
  )
}

// Fields the core adds to every step's line: shown after the step's own, dimmed.
const SYSTEM_FIELDS = new Set(['action', 'logger', 'flows'])

function Fields({ fields }: { fields: Record<string, unknown> | null }) {
  const all = Object.entries(fields ?? {})
  if (all.length === 0) return null
  const entries = [...all.filter(([k]) => !SYSTEM_FIELDS.has(k)), ...all.filter(([k]) => SYSTEM_FIELDS.has(k))]
  return (
    <div class="fields" data-testid="log-fields">
      {entries.map(([k, v]) => (
        <span class={`field-kv${SYSTEM_FIELDS.has(k) ? ' system' : ''}`} key={k}>
          <span class="field-key">{k}</span>=<JsonInline value={v} />
        </span>
      ))}
    </div>
  )
}

export function Logs({ query: params }: { query: URLSearchParams }) {
  const [filter, setFilter] = useUrlFilter('logs', params, FILTER_KEYS)
  const [paused, setPaused] = useState(false)
  const [missed, setMissed] = useState(0)

  const steps = useLoad(() => api<Flows>('flows').then((f) => f.steps.map((s) => s.name).sort()), [])
  const logs = usePagedList<LogRecord>('logs', filter, LIMIT)

  useLive(['log'], (frame) => {
    if (frame.kind === 'resync') return logs.reload()
    if (frame.kind !== 'log' || !matches(frame.record, filter)) return
    if (paused) return setMissed((n) => n + 1)
    logs.setData((page) => {
      if (!page || page.items.some((r) => r.id === frame.record.id)) return page
      return { ...page, items: [frame.record, ...page.items].slice(0, KEEP) }
    })
  })

  const resume = () => {
    setPaused(false)
    if (missed) logs.reload()
    setMissed(0)
  }
  const items = logs.data?.items ?? []
  return (
    <div class="page">
      <PageHeader
        title={
          filter.traceId ? (
            <>
              Logs of trace <code>{shortId(filter.traceId)}</code>
            </>
          ) : (
            'Logs'
          )
        }
      >
        {filter.traceId && (
          <>
            <a class="button" data-testid="back-to-trace" href={href(['traces', filter.traceId])}>
              ← Back to the trace
            </a>
            <button onClick={() => setFilter({ traceId: '' })}>All logs</button>
          </>
        )}
        {paused ? (
          <button class="primary" data-testid="logs-resume" onClick={resume}>
            Resume{missed ? ` (${missed} new)` : ''}
          </button>
        ) : (
          <button data-testid="logs-pause" onClick={() => setPaused(true)}>
            Pause
          </button>
        )}
      </PageHeader>
      <div class="filters">
        <select data-testid="log-level" value={filter.level} onChange={(e) => setFilter({ level: (e.target as HTMLSelectElement).value })}>
          <option value="">any level</option>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <select data-testid="log-step" value={filter.step} onChange={(e) => setFilter({ step: (e.target as HTMLSelectElement).value })}>
          <option value="">any step</option>
          {(steps.data ?? []).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <input
          placeholder="trace id"
          data-testid="log-trace"
          value={filter.traceId}
          onChange={(e) => setFilter({ traceId: (e.target as HTMLInputElement).value.trim() })}
        />
        <SearchBox value={filter.q} placeholder="Search messages…" testid="log-search" onSearch={(q) => setFilter({ q })} />
        <span class="muted small" data-testid="log-count">
          {items.length} line{items.length === 1 ? '' : 's'}
        </span>
      </div>
      <ErrorBox error={logs.error} />
      {logs.data && items.length === 0 && <Empty>No log lines match.</Empty>}
      {items.length > 0 && (
        <table class="table logs" data-testid="log-list">
          <thead>
            <tr>
              <th>Time</th>
              <th>Level</th>
              <th>Step</th>
              <th>Message</th>
              <th>Trace</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-testid="log-row" data-log-id={r.id} data-trace-id={r.traceId ?? ''} data-level={r.level}>
                <td class="nowrap mono small">{clock(r.time)}</td>
                <td>
                  <Level level={r.level} />
                </td>
                <td class="nowrap">
                  {r.step ?? <span class="muted">{r.runner ?? 'core'}</span>}
                </td>
                <td class="message">
                  <Message text={r.message} />
                  <Fields fields={r.fields} />
                </td>
                <td class="nowrap">
                  {r.traceId && (
                    <a data-testid="log-trace-link" href={href(['traces', r.traceId])}>
                      <code>{shortId(r.traceId)}</code>
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {logs.data?.nextCursor && (
        <div class="actions">
          <button onClick={logs.more}>Older lines</button>
        </div>
      )}
    </div>
  )
}
