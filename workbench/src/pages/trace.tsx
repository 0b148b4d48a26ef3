// One trace as a timeline (a Gantt chart of spans across languages, colored by language), each
// span's events in place (logs, state operations, emits, stream operations) and errors with
// their stack. Updated live while the trace runs.
import { useState } from 'preact/hooks'
import { api, ApiError, type Span, type SpanEvent, type Trace } from '../api'
import { ErrorBox, JsonInline, LangBadge, Level, PageHeader, StatusBadge } from '../components'
import { clock, duration } from '../format'
import { useLoad } from '../hooks'
import { useDebounced, useLive } from '../live'
import { href } from '../router'

interface Row {
  span: Span
  depth: number
}

/** Spans in tree order (each parent before its children, siblings by start time). */
export function treeOrder(spans: Span[]): Row[] {
  const ids = new Set(spans.map((s) => s.id))
  const children = new Map<string | null, Span[]>()
  for (const span of spans) {
    const parent = span.parentId && ids.has(span.parentId) ? span.parentId : null
    children.set(parent, [...(children.get(parent) ?? []), span])
  }
  const rows: Row[] = []
  const visit = (parent: string | null, depth: number) => {
    const kids = (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)
    for (const span of kids) {
      rows.push({ span, depth })
      visit(span.id, depth + 1)
    }
  }
  visit(null, 0)
  return rows
}

function EventLine({ event, start }: { event: SpanEvent; start: number }) {
  const offset = `+${duration(event.timestamp - start)}`
  let body
  switch (event.type) {
    case 'log':
      body = (
        <>
          <Level level={event.level} /> <span class="event-message">{event.message}</span>{' '}
          {event.metadata && Object.keys(event.metadata).length > 0 && <JsonInline value={event.metadata} />}
        </>
      )
      break
    case 'state':
      body = (
        <>
          <code class="op">state.{event.operation}</code> <code>{event.group}</code>
          {event.key !== null && event.key !== undefined && (
            <>
              {' / '}
              <a href={href(['state', event.group, event.key])}>
                <code>{event.key}</code>
              </a>
            </>
          )}
        </>
      )
      break
    case 'emit':
      body = (
        <>
          <code class="op">emit</code> <code class="strong">{event.topic}</code>{' '}
          {event.success ? <span class="ok">✓</span> : <span class="error-text">✗ not delivered</span>}{' '}
          {event.data !== undefined && <JsonInline value={event.data} />}
        </>
      )
      break
    case 'stream':
      body = (
        <>
          <code class="op">streams.{event.operation}</code> <code>{event.streamName}</code>
          {event.groupId && <> / <code>{event.groupId}</code></>}
          {event.id && <> / <code>{event.id}</code></>}
          {event.calls !== undefined && event.calls > 1 && <span class="muted"> ×{event.calls}</span>}
        </>
      )
      break
    default:
      body = <JsonInline value={event} />
  }
  const kind = (event as { type: string }).type
  return (
    <li class={`event event-${kind}`} data-testid="span-event" data-type={kind}>
      <span class="event-offset">{offset}</span>
      <span class={`event-type type-${kind}`}>{kind}</span>
      <span class="event-body">{body}</span>
    </li>
  )
}

function SpanRow({ row, t0, total, open, toggle }: {
  row: Row; t0: number; total: number; open: boolean; toggle: () => void
}) {
  const { span, depth } = row
  const end = span.endMs ?? Date.now()
  const left = ((span.startMs - t0) / total) * 100
  const width = Math.max(0.4, ((end - span.startMs) / total) * 100)
  const events = [...span.events].sort((a, b) => a.timestamp - b.timestamp)
  return (
    <div
      class={`span-row status-row-${span.status}`}
      data-testid="span"
      data-span-id={span.id}
      data-name={span.name}
      data-language={span.language}
      data-status={span.status}
      data-kind={span.kind}
    >
      <div class="span-line" onClick={toggle}>
        <div class="span-label" style={{ paddingLeft: `${8 + depth * 16}px` }}>
          <span class="caret">{events.length || span.error ? (open ? '▾' : '▸') : ' '}</span>
          <span class="span-name">{span.name}</span>
          <span class="span-kind">{span.kind}</span>
          <LangBadge language={span.language} />
        </div>
        <div class="span-track">
          <div
            class={`span-bar lang-fill-${span.language}${span.status === 'failed' ? ' failed' : ''}${span.endMs === null ? ' running' : ''}`}
            style={{ left: `${left}%`, width: `${width}%` }}
            title={`${span.name}: ${duration(end - span.startMs)}`}
          />
          {events.map((e, i) => (
            <i
              key={i}
              class={`tick type-${e.type}`}
              style={{ left: `${((e.timestamp - t0) / total) * 100}%` }}
              title={e.type}
            />
          ))}
          <span
            class="span-duration"
            style={left + width > 80 ? { right: `calc(${100 - left}% + 6px)` } : { left: `calc(${left + width}% + 6px)` }}
          >
            {span.endMs === null ? 'running' : duration(end - span.startMs)}
          </span>
        </div>
      </div>
      {open && (
        <div class="span-detail" style={{ marginLeft: `${24 + depth * 16}px` }}>
          <div class="muted small">
            {span.runner ? `runner ${span.runner} · ` : ''}started {clock(span.startMs)}
            {span.entry ? ` · ${span.entry}` : ''}
            {span.droppedEvents ? ` · ${span.droppedEvents} events dropped` : ''}
          </div>
          {events.length > 0 && (
            <ul class="events">
              {events.map((e, i) => (
                <EventLine key={i} event={e} start={span.startMs} />
              ))}
            </ul>
          )}
          {span.error && (
            <div class="span-error" data-testid="span-error">
              <div class="strong">
                {span.error.name ? `${span.error.name}: ` : ''}
                {span.error.message}
              </div>
              {span.error.stack && <pre class="stack">{span.error.stack}</pre>}
            </div>
          )}
        </div>
      )}
    </div>
  )
}

function Axis({ total }: { total: number }) {
  return (
    <div class="axis">
      <div class="span-label muted small">Span</div>
      <div class="span-track">
        {[0, 0.25, 0.5, 0.75, 1].map((f) => (
          <span key={f} class="axis-tick" style={{ left: `${f * 100}%` }}>
            {duration(f * total)}
          </span>
        ))}
      </div>
    </div>
  )
}

export function TracePage({ id }: { id: string }) {
  const loaded = useLoad(() => api<{ trace: Trace; spans: Span[] }>(`traces/${encodeURIComponent(id)}`), [id])
  const refresh = useDebounced(loaded.reload)
  useLive(['span'], (frame) => {
    if (frame.kind === 'resync' || (frame.kind === 'span' && frame.trace.id === id)) refresh()
  })
  const [closed, setClosed] = useState<Set<string>>(new Set())
  const toggle = (spanId: string) => {
    const next = new Set(closed)
    if (next.has(spanId)) next.delete(spanId)
    else next.add(spanId)
    setClosed(next)
  }

  if (loaded.error instanceof ApiError && loaded.error.status === 404) {
    return (
      <div class="page">
        <PageHeader title="Trace not found" />
        <div class="empty" data-testid="trace-missing">
          No trace <code>{id}</code>: it may be older than the retention, or from another project.{' '}
          <a href="#/traces">All traces</a>
        </div>
      </div>
    )
  }
  const data = loaded.data
  if (!data) return <div class="page"><ErrorBox error={loaded.error} /></div>
  const { trace, spans } = data
  const rows = treeOrder(spans)
  const t0 = Math.min(trace.startMs, ...spans.map((s) => s.startMs))
  const end = Math.max(trace.endMs ?? 0, ...spans.map((s) => s.endMs ?? Date.now()))
  const total = Math.max(1, end - t0)
  return (
    <div class="page" data-testid="trace" data-trace-id={trace.id} data-status={trace.status}>
      <PageHeader
        title={
          <>
            <a href="#/traces" class="crumb">Traces</a> / {trace.name}
          </>
        }
      >
        <a class="button" data-testid="trace-logs-link" href={href(['logs'], { traceId: trace.id })}>
          Logs of this trace
        </a>
        <button onClick={() => setClosed(closed.size ? new Set() : new Set(spans.map((s) => s.id)))}>
          {closed.size ? 'Expand all' : 'Collapse all'}
        </button>
      </PageHeader>
      <div class="summary" data-testid="trace-summary">
        <StatusBadge status={trace.status} />
        <span>
          <span class="muted">id</span> <code data-testid="trace-id">{trace.id}</code>
        </span>
        <span>
          <span class="muted">started</span> {clock(trace.startMs)}
        </span>
        <span>
          <span class="muted">duration</span> {trace.endMs === null ? 'running' : duration(trace.endMs - trace.startMs)}
        </span>
        <span>
          <span class="muted">spans</span> {trace.spanCount}
          {trace.droppedSpans > 0 && ` (+${trace.droppedSpans} dropped)`}
        </span>
        <span>
          {trace.languages.map((l) => (
            <LangBadge key={l} language={l} />
          ))}
        </span>
      </div>
      {trace.errorMessage && <div class="error-box">{trace.errorMessage}</div>}
      <ErrorBox error={loaded.error} />
      <div class="timeline" data-testid="timeline">
        <Axis total={total} />
        {rows.map((row) => (
          <SpanRow
            key={row.span.id}
            row={row}
            t0={t0}
            total={total}
            open={!closed.has(row.span.id)}
            toggle={() => toggle(row.span.id)}
          />
        ))}
      </div>
    </div>
  )
}
