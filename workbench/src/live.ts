// One WebSocket to /__motia/api/live shared by every page: the server pushes what changed
// (spans, logs, state, dead letters, runners), so no page polls. A page that misses frames (a
// reconnect, or the server's `overflow` frame for a slow client) gets `{kind: 'resync'}` and
// refetches what it shows.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { LogRecord, Span, Trace } from './api'

export type LiveFrame =
  | { kind: 'span'; action: string; trace: Trace; span: Span | null }
  | { kind: 'log'; record: LogRecord }
  | { kind: 'state'; action: string; group: string; key: string | null }
  | { kind: 'dlq'; action: string }
  | { kind: 'runner'; language: string; index: number; state: string }
  | { kind: 'resync' }

export type LiveStatus = 'connecting' | 'open' | 'closed'

type Listener = (frame: LiveFrame) => void

const RETRY_MIN_MS = 500
const RETRY_MAX_MS = 8000

class LiveSocket {
  private socket: WebSocket | null = null
  private listeners = new Set<Listener>()
  private statusListeners = new Set<(status: LiveStatus) => void>()
  private retryMs = RETRY_MIN_MS
  private everOpened = false
  status: LiveStatus = 'connecting'

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    this.connect()
    return () => this.listeners.delete(listener)
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener)
    this.connect()
    return () => this.statusListeners.delete(listener)
  }

  private setStatus(status: LiveStatus): void {
    this.status = status
    for (const listener of this.statusListeners) listener(status)
  }

  private dispatch(frame: LiveFrame): void {
    for (const listener of [...this.listeners]) listener(frame)
  }

  private connect(): void {
    if (this.socket) return
    const url = new URL('api/live', document.baseURI)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    const socket = new WebSocket(url)
    this.socket = socket
    this.setStatus('connecting')
    socket.onopen = () => {
      this.retryMs = RETRY_MIN_MS
      this.setStatus('open')
      // Whatever happened while the socket was down is only in the API: refetch.
      if (this.everOpened) this.dispatch({ kind: 'resync' })
      this.everOpened = true
    }
    socket.onmessage = (message) => {
      let frame: { kind?: string }
      try {
        frame = JSON.parse(String(message.data))
      } catch {
        return
      }
      if (frame.kind === 'overflow') this.dispatch({ kind: 'resync' })
      else if (frame.kind) this.dispatch(frame as LiveFrame)
    }
    socket.onclose = () => {
      this.socket = null
      this.setStatus('closed')
      setTimeout(() => this.connect(), this.retryMs)
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
    }
  }
}

const live = new LiveSocket()

/** Calls `onFrame` for every live frame of the given kinds (and `resync`), while mounted. */
export function useLive(kinds: LiveFrame['kind'][], onFrame: Listener): void {
  const handler = useRef(onFrame)
  handler.current = onFrame
  const key = kinds.join(',')
  useEffect(
    () =>
      live.subscribe((frame) => {
        if (frame.kind === 'resync' || kinds.includes(frame.kind)) handler.current(frame)
      }),
    [key],
  )
}

export function useLiveStatus(): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>(live.status)
  useEffect(() => live.onStatus(setStatus), [])
  return status
}

/** `fn`, run at most once per `ms` after the last call: many frames, one refetch. */
export function useDebounced(fn: () => void, ms = 120): () => void {
  const latest = useRef(fn)
  latest.current = fn
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current)
  }, [])
  return () => {
    if (timer.current) clearTimeout(timer.current)
    timer.current = setTimeout(() => latest.current(), ms)
  }
}
