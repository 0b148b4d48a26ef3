// Streams: the project's streams and groups, and a group's items, live. Items arrive over the
// stream socket every Motia stream client speaks (join a group, then sync/create/update/delete).
import { Fragment } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError, enc, type StreamInfo } from '../api'
import { Empty, ErrorBox, Json, PageHeader } from '../components'
import { clock, preview } from '../format'
import { useLoad } from '../hooks'
import { useDebounced } from '../live'
import { href, navigate } from '../router'

interface Item {
  id: string
  data: unknown
  changedMs: number | null
}

interface Custom {
  at: number
  type: string
  data: unknown
}

const subscriptionId = () =>
  crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(36).slice(2)

const idOf = (data: unknown, fallback?: string): string =>
  String((data as { id?: unknown } | null)?.id ?? fallback ?? '')

/** The group's items, kept current by the stream socket while the page shows them. */
function useGroup(stream: string, group: string, onMembership: () => void) {
  const membership = useRef(onMembership)
  membership.current = onMembership
  const [items, setItems] = useState<Item[] | null>(null)
  const [custom, setCustom] = useState<Custom[]>([])
  const [error, setError] = useState<unknown>(null)
  const [connected, setConnected] = useState(false)

  useEffect(() => {
    let closed = false
    setItems(null)
    setCustom([])
    api<{ items: { id: string; data: unknown }[] }>(`streams/${enc(stream)}/${enc(group)}`).then(
      (page) => !closed && setItems((now) => now ?? page.items.map((i) => ({ ...i, changedMs: null }))),
      // No such group yet (a job not started): it fills in over the socket once it exists.
      (e: unknown) => !closed && (e instanceof ApiError && e.status === 404 ? setItems((now) => now ?? []) : setError(e)),
    )
    const url = new URL('/', location.href)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    const socket = new WebSocket(url)
    const channel = { streamName: stream, groupId: group, subscriptionId: subscriptionId() }
    socket.onopen = () => {
      setConnected(true)
      socket.send(JSON.stringify({ type: 'join', data: channel }))
    }
    socket.onclose = () => setConnected(false)
    socket.onmessage = (message) => {
      const frame = JSON.parse(String(message.data))
      if (frame.streamName !== stream || frame.groupId !== group) return
      const event = frame.event ?? {}
      const at = Number(frame.timestamp) || Date.now()
      if (event.type === 'sync' && Array.isArray(event.data)) {
        setItems(event.data.map((data: unknown) => ({ id: idOf(data), data, changedMs: null })))
      } else if (event.type === 'create' || event.type === 'update') {
        const id = idOf(event.data, frame.id)
        if (event.type === 'create') membership.current()
        setItems((now) => {
          const rest = (now ?? []).filter((i) => i.id !== id)
          const item = { id, data: event.data, changedMs: at }
          const index = (now ?? []).findIndex((i) => i.id === id)
          if (index < 0) return [...rest, item]
          rest.splice(index, 0, item)
          return rest
        })
      } else if (event.type === 'delete') {
        const id = idOf(event.data, frame.id)
        membership.current()
        setItems((now) => (now ?? []).filter((i) => i.id !== id))
      } else if (event.type === 'event' && event.event) {
        setCustom((now) => [{ at, type: String(event.event.type), data: event.event.data }, ...now].slice(0, 100))
      }
    }
    return () => {
      closed = true
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'leave', data: channel }))
      socket.close()
    }
  }, [stream, group])
  return { items, custom, error, connected }
}

function Group({ stream, group, onMembership }: { stream: string; group: string; onMembership: () => void }) {
  const { items, custom, error, connected } = useGroup(stream, group, onMembership)
  const [open, setOpen] = useState<string | null>(null)
  return (
    <section data-testid="stream-group" data-stream={stream} data-group={group} data-connected={String(connected)}>
      <h2>
        <code>{stream}</code> / <code>{group}</code>{' '}
        <span class="muted small">{connected ? '● live' : '○ connecting…'}</span>
      </h2>
      <ErrorBox error={error} />
      {items && items.length === 0 && <Empty>No items in this group yet.</Empty>}
      {items && items.length > 0 && (
        <table class="table clickable-rows" data-testid="stream-items">
          <thead>
            <tr>
              <th>Id</th>
              <th>Data</th>
              <th>Changed</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <Fragment key={item.id}>
                <tr
                  data-testid="stream-item"
                  data-id={item.id}
                  class={item.changedMs ? 'flash' : ''}
                  onClick={() => setOpen(open === item.id ? null : item.id)}
                >
                  <td class="nowrap">
                    <code>{item.id}</code>
                  </td>
                  <td class="mono small value-preview" data-testid="stream-item-data">
                    {preview(item.data, 160)}
                  </td>
                  <td class="nowrap small muted">{item.changedMs ? clock(item.changedMs) : ''}</td>
                </tr>
                {open === item.id && (
                  <tr>
                    <td colSpan={3}>
                      <Json value={item.data} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {custom.length > 0 && (
        <>
          <h3>Events sent to the group</h3>
          <ul class="events">
            {custom.map((c, i) => (
              <li key={i} class="event">
                <span class="event-offset">{clock(c.at)}</span>
                <span class="event-type type-stream">{c.type}</span>
                <span class="event-body mono small">{preview(c.data, 160)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

export function Streams({ stream, group }: { stream: string | null; group: string | null }) {
  const streams = useLoad(() => api<{ items: StreamInfo[] }>('streams'), [])
  // An item created or deleted changes the groups' counts on the left (or adds the group).
  const recount = useDebounced(streams.reload, 300)
  return (
    <div class="page">
      <PageHeader title="Streams">
        <button onClick={streams.reload}>Refresh</button>
      </PageHeader>
      <ErrorBox error={streams.error} />
      {streams.data && streams.data.items.length === 0 && (
        <Empty>This project defines no streams (files named *.stream.ts or *_stream.py).</Empty>
      )}
      {streams.data && streams.data.items.length > 0 && (
        <div class="split left-list">
          <ul class="list" data-testid="stream-list">
            {streams.data.items.map((s) => (
              <li key={s.name} class="list-group">
                <div class="strong">{s.name}</div>
                {s.groups.length === 0 && <div class="muted small">no groups yet</div>}
                {s.groups.map((g) => (
                  <div
                    key={g.groupId}
                    class={`list-sub${s.name === stream && g.groupId === group ? ' active' : ''}`}
                    data-testid="stream-group-link"
                    data-stream={s.name}
                    data-group={g.groupId}
                    onClick={() => navigate(href(['streams', s.name, g.groupId]))}
                  >
                    <code>{g.groupId}</code> <span class="count">{g.count}</span>
                  </div>
                ))}
              </li>
            ))}
          </ul>
          {stream && group ? <Group stream={stream} group={group} onMembership={recount} /> : <Empty>Pick a stream group on the left.</Empty>}
        </div>
      )}
    </div>
  )
}
