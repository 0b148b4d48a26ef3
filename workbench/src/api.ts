// The Workbench's only source of data: the JSON API under /__motia/api/ (notes: workbench-api.md).
// Every page is a client of it, so anything the UI shows can be scripted with curl too.

export type Language = string

export interface Info {
  project: string
  version: string
  mode: 'dev' | 'start'
  startedMs: number
  languages: Language[]
}

export interface Step {
  id: string
  name: string
  type: 'api' | 'event' | 'cron' | 'noop'
  language: Language
  file: string
  flows: string[]
  description: string | null
  subscribes: string[]
  emits: string[]
  virtualEmits: string[]
  virtualSubscribes: string[]
  method: string | null
  path: string | null
  cron: string | null
  config: Record<string, unknown>
  loaded: boolean
  error: string | null
}

export interface Edge {
  from: string
  to: string
  topic: string
  virtual: boolean
}

export interface Topic {
  topic: string
  emitters: string[]
  subscribers: string[]
  orphan: 'no-subscriber' | 'no-emitter' | null
}

export interface Flows {
  flows: string[]
  steps: Step[]
  topics: Topic[]
  edges: Edge[]
}

export type JsonSchema = Record<string, unknown>

export interface Endpoint {
  stepId: string
  name: string
  method: string
  path: string
  description: string | null
  bodySchema: JsonSchema | null
  responseSchema: Record<string, JsonSchema> | null
  queryParams: { name: string; description?: string }[] | null
  flows: string[]
}

export type Status = 'running' | 'completed' | 'failed'

export interface Trace {
  id: string
  name: string
  startMs: number
  endMs: number | null
  status: Status
  rootSpanId: string
  spanCount: number
  droppedSpans: number
  steps: string[]
  languages: Language[]
  errorMessage: string | null
}

export interface LogEvent {
  type: 'log'
  timestamp: number
  level: string
  message: string
  metadata: Record<string, unknown> | null
}
export interface StateEvent {
  type: 'state'
  timestamp: number
  operation: string
  group: string
  key: string | null
}
export interface EmitEvent {
  type: 'emit'
  timestamp: number
  topic: string
  success: boolean
  data?: unknown
}
export interface StreamEvent {
  type: 'stream'
  timestamp: number
  operation: string
  streamName: string
  groupId: string | null
  id: string | null
  calls?: number
  maxTimestamp?: number
}
export type SpanEvent = LogEvent | StateEvent | EmitEvent | StreamEvent

export interface SpanError {
  message: string
  name?: string | null
  stack?: string | null
}

export interface Span {
  id: string
  traceId: string
  parentId: string | null
  name: string
  kind: string
  entry?: string | null
  language: Language
  runner: string | null
  status: Status
  startMs: number
  endMs: number | null
  error: SpanError | null
  events: SpanEvent[]
  droppedEvents?: number
}

export interface LogRecord {
  id: number
  time: number
  level: string
  message: string
  traceId: string | null
  spanId: string | null
  step: string | null
  runner: string | null
  fields: Record<string, unknown> | null
}

export interface StateGroup {
  group: string
  count: number
}
export interface StateItem {
  key: string
  value: unknown
}

export interface StreamInfo {
  name: string
  groups: { groupId: string; count: number }[]
}

export interface DeadLetter {
  id: string
  queue: string
  step?: string
  topic: string
  data: unknown
  // The last failure: a sentence, or the error with its stack.
  error: string | SpanError | null
  attempts: number
  failedMs: number
  traceId: string | null
}

export interface Runner {
  language: Language
  index: number
  pid: number | null
  state: string
  inFlight: number
  restarts: number
  steps: number
}

export interface CronJob {
  stepId: string
  name: string
  cron: string
  nextRunMs: number | null
  lastRunMs: number | null
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

// Resolved against the page, so the UI works wherever the server mounts it (/__motia/).
export const apiUrl = (path: string): string => new URL(`api/${path}`, document.baseURI).toString()

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response
  try {
    response = await fetch(apiUrl(path), {
      ...init,
      headers: init?.body !== undefined ? { 'content-type': 'application/json' } : undefined,
    })
  } catch (error) {
    throw new ApiError(`the server did not answer (${String(error)}); is \`motia dev\` running?`, 0)
  }
  const text = await response.text()
  let body: unknown = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    // not JSON: reported below with the status
  }
  if (!response.ok) {
    const said = (body as { error?: unknown } | null)?.error
    throw new ApiError(
      typeof said === 'string' ? said : `HTTP ${response.status} from ${path}: ${text.slice(0, 200)}`,
      response.status,
    )
  }
  return body as T
}

/** A query string of the set values only: `{a: '', b: 'x'}` -> `?b=x`. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export const enc = encodeURIComponent
