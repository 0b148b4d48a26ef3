// Traces: every request, event chain and cron tick, newest first, filtered by status and text;
// new traces and status changes arrive live.
import { useEffect, useState } from 'preact/hooks'
import { api, query, type Page, type Trace } from '../api'
import { Empty, ErrorBox, LangBadge, PageHeader, StatusBadge } from '../components'
import { clock, duration, shortId } from '../format'
import { useLoad } from '../hooks'
import { useLive } from '../live'
import { href, navigate } from '../router'

const LIMIT = 100
const STATUSES = ['', 'running', 'completed', 'failed']

interface Filter {
  status: string
  q: string
  step: string
}

function matches(trace: Trace, filter: Filter): boolean {
  if (filter.status && trace.status !== filter.status) return false
  if (filter.step && !trace.steps.includes(filter.step)) return false
  if (!filter.q) return true
  const text = [trace.id, trace.name, trace.errorMessage ?? '', ...trace.steps].join(' ').toLowerCase()
  return text.includes(filter.q.toLowerCase())
}

export function Traces({ query: params }: { query: URLSearchParams }) {
  const filter: Filter = {
    status: params.get('status') ?? '',
    q: params.get('q') ?? '',
    step: params.get('step') ?? '',
  }
  const [text, setText] = useState(filter.q)
  useEffect(() => setText(filter.q), [filter.q])
  const setFilter = (change: Partial<Filter>) =>
    navigate(href(['traces'], { ...filter, ...change }), true)

  const list = useLoad(
    () => api<Page<Trace>>(`traces${query({ ...filter, limit: LIMIT })}`),
    [filter.status, filter.q, filter.step],
  )
  useLive(['span'], (frame) => {
    if (frame.kind === 'resync') return list.reload()
    if (frame.kind !== 'span') return
    const trace = frame.trace
    list.setData((page) => {
      if (!page) return page
      const rest = page.items.filter((t) => t.id !== trace.id)
      const known = rest.length !== page.items.length
      if (!matches(trace, filter)) return known ? { ...page, items: rest } : page
      const items = known
        ? page.items.map((t) => (t.id === trace.id ? trace : t))
        : [trace, ...page.items]
      return { ...page, items }
    })
  })

  const loadMore = async () => {
    const cursor = list.data?.nextCursor
    if (!cursor) return
    const next = await api<Page<Trace>>(`traces${query({ ...filter, limit: LIMIT, cursor })}`)
    list.setData((page) => page && { items: [...page.items, ...next.items], nextCursor: next.nextCursor })
  }

  const items = list.data?.items ?? []
  return (
    <div class="page">
      <PageHeader title="Traces">
        <select
          data-testid="trace-status"
          value={filter.status}
          onChange={(e) => setFilter({ status: (e.target as HTMLSelectElement).value })}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || 'any status'}
            </option>
          ))}
        </select>
        <form
          onSubmit={(e) => {
            e.preventDefault()
            setFilter({ q: text })
          }}
        >
          <input
            type="search"
            placeholder="Search id, name, step, error…"
            data-testid="trace-search"
            value={text}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
          />
        </form>
        {filter.step && (
          <span class="chip">
            step {filter.step}{' '}
            <button class="link" onClick={() => setFilter({ step: '' })}>
              ×
            </button>
          </span>
        )}
      </PageHeader>
      <ErrorBox error={list.error} />
      {list.data && items.length === 0 && (
        <Empty>No traces yet. Send a request from Endpoints, or emit an event.</Empty>
      )}
      {items.length > 0 && (
        <table class="table clickable-rows" data-testid="trace-list">
          <thead>
            <tr>
              <th>Status</th>
              <th>Trace</th>
              <th>Started</th>
              <th class="num">Duration</th>
              <th class="num">Spans</th>
              <th>Languages</th>
              <th>Steps</th>
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr
                key={t.id}
                data-testid="trace-row"
                data-trace-id={t.id}
                data-status={t.status}
                onClick={() => navigate(href(['traces', t.id]))}
              >
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td>
                  <a href={href(['traces', t.id])} class="strong">
                    {t.name}
                  </a>{' '}
                  <code class="muted">{shortId(t.id)}</code>
                  {t.errorMessage && <div class="error-text small">{t.errorMessage}</div>}
                </td>
                <td class="nowrap">{clock(t.startMs)}</td>
                <td class="num">{t.endMs === null ? 'running' : duration(t.endMs - t.startMs)}</td>
                <td class="num">
                  {t.spanCount}
                  {t.droppedSpans > 0 && <span class="muted"> (+{t.droppedSpans} dropped)</span>}
                </td>
                <td>
                  {t.languages.map((l) => (
                    <LangBadge key={l} language={l} />
                  ))}
                </td>
                <td class="muted">{t.steps.join(' → ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data?.nextCursor && (
        <div class="actions">
          <button onClick={loadMore}>Older traces</button>
        </div>
      )}
    </div>
  )
}
