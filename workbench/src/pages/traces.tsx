// Traces: every request, event chain and cron tick, newest first, filtered by status and text;
// new traces and status changes arrive live.
import type { Trace } from '../api'
import { Empty, ErrorBox, LangBadge, PageHeader, SearchBox, StatusBadge } from '../components'
import { clock, duration, shortId } from '../format'
import { usePagedList, useUrlFilter } from '../hooks'
import { useLive } from '../live'
import { href, navigate } from '../router'

const LIMIT = 100
const STATUSES = ['', 'running', 'completed', 'failed']

const FILTER_KEYS = ['status', 'q', 'step'] as const
type Filter = Record<(typeof FILTER_KEYS)[number], string>

function matches(trace: Trace, filter: Filter): boolean {
  if (filter.status && trace.status !== filter.status) return false
  if (filter.step && !trace.steps.includes(filter.step)) return false
  if (!filter.q) return true
  const text = [trace.id, trace.name, trace.errorMessage ?? '', ...trace.steps].join(' ').toLowerCase()
  return text.includes(filter.q.toLowerCase())
}

export function Traces({ query: params }: { query: URLSearchParams }) {
  const [filter, setFilter] = useUrlFilter('traces', params, FILTER_KEYS)
  const list = usePagedList<Trace>('traces', filter, LIMIT)
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
        <SearchBox
          value={filter.q}
          placeholder="Search id, name, step, error…"
          testid="trace-search"
          onSearch={(q) => setFilter({ q })}
        />
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
          <button onClick={list.more}>Older traces</button>
        </div>
      )}
    </div>
  )
}
