// Types for Motia steps run by motia-core: step configs, handler signatures and the `ctx` object
// (MOTIA_CONTRACT.md 1.4, 2, 3), so a TypeScript project type-checks without the original
// `motia` package. Types only: at run time the Node runner supplies everything a step gets, and
// a step imports nothing but types from 'motia'.
//
// Two interfaces are empty on purpose and meant to be augmented by the project's generated
// `types.d.ts` (`motia generate-types`): `Handlers` (one entry per step name, with the step's
// input, response and emit types) and `FlowContextStateStreams` (one entry per stream).

// --- schemas ---------------------------------------------------------------------------------

/** A JSON value: what state, streams and events carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A JSON Schema (draft-07) as a plain object, the way Python and Ruby steps write schemas. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema | boolean>
  required?: string[]
  additionalProperties?: JsonSchema | boolean
  items?: JsonSchema | boolean | Array<JsonSchema | boolean>
  enum?: unknown[]
  const?: unknown
  anyOf?: Array<JsonSchema | boolean>
  oneOf?: Array<JsonSchema | boolean>
  allOf?: Array<JsonSchema | boolean>
  nullable?: boolean
  description?: string
  [keyword: string]: unknown
}

/** A zod 3 or zod 4 schema, or any Standard Schema: the runner turns it into JSON Schema. */
export interface SchemaLike {
  readonly '~standard'?: unknown
  readonly _def?: unknown
  readonly _zod?: unknown
}

/** What `bodySchema`, `input`, `responseSchema[status]` and a stream's `schema` accept. */
export type StepSchema = SchemaLike | JsonSchema

// --- configs ---------------------------------------------------------------------------------

/** A topic a step may emit; `label` and `conditional` only decorate Workbench edges. */
export type Emit = string | { topic: string; label?: string; conditional?: boolean }

export type ApiRouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'HEAD'

export interface QueryParam {
  name: string
  description?: string
}

interface StepConfigBase {
  /** Keys `Handlers`, logs, traces and queues: give every step its own. */
  name: string
  description?: string
  /** The flows the step is drawn in; the handler gets them as `ctx.flows`. */
  flows?: string[]
  /** Edges drawn in the Workbench only: they never allow an emit. */
  virtualEmits?: Emit[]
  virtualSubscribes?: string[]
}

export interface ApiRouteConfig extends StepConfigBase {
  type: 'api'
  /** Express route syntax: `/users/:id`. */
  path: string
  method: ApiRouteMethod
  /** Topics the handler may emit (`[]` for none). */
  emits: Emit[]
  /** The request body; a zod schema is enforced by the runner (400 with zod's issues). */
  bodySchema?: StepSchema
  /** Status code -> the response body's schema, for types and documentation. */
  responseSchema?: Record<number, StepSchema>
  queryParams?: QueryParam[]
  /** Run inside the runner around the handler, the first one outermost. */
  middleware?: ApiMiddleware<any, any, any>[]
  includeFiles?: string[]
}

export interface HandlerInfrastructure {
  /** MB; only Motia Cloud uses it. */
  ram?: number
  /** vCPU; only Motia Cloud uses it. */
  cpu?: number
  /** Seconds an invocation may take. */
  timeout?: number
}

export interface QueueInfrastructure {
  /** 'fifo' delivers the events of one `messageGroupId` one at a time, in order. */
  type?: 'standard' | 'fifo'
  maxRetries?: number
  visibilityTimeout?: number
  delaySeconds?: number
  concurrency?: number
  /** motia-core extension: the wait between attempts grows ('exponential') or not. */
  backoff?: 'fixed' | 'exponential'
  /** motia-core extension: seconds between attempts. */
  retryDelaySeconds?: number
}

export interface InfrastructureConfig {
  handler?: HandlerInfrastructure
  queue?: QueueInfrastructure
}

export interface EventConfig extends StepConfigBase {
  type: 'event'
  /** Every topic gets its own copy of each event. */
  subscribes: string[]
  emits: Emit[]
  /** The event data; checked on delivery (a warning unless the project is strict). */
  input?: StepSchema
  infrastructure?: InfrastructureConfig
  includeFiles?: string[]
}

export interface CronConfig extends StepConfigBase {
  type: 'cron'
  /** Five fields, or six with a leading seconds field; local time. */
  cron: string
  emits: Emit[]
  includeFiles?: string[]
}

/** A node in a flow diagram that runs no code (a person, a manual task). */
export interface NoopConfig extends StepConfigBase {
  type: 'noop'
  virtualEmits: Emit[]
  virtualSubscribes: string[]
}

export type StepConfig = ApiRouteConfig | EventConfig | CronConfig | NoopConfig

// --- the context -----------------------------------------------------------------------------

export interface Logger {
  /** `args` are merged flat into the log record; an `Error` under `error` is expanded. */
  info(message: string, args?: unknown): void
  warn(message: string, args?: unknown): void
  error(message: string, args?: unknown): void
  debug(message: string, args?: unknown): void
  /** A logger whose records all carry `meta`. */
  child(meta: Record<string, unknown>): Logger
}

/** Key-value state shared by every step and language; group ids are free-form. */
export interface InternalStateManager {
  get<T = unknown>(groupId: string, key: string): Promise<T | null>
  /** Resolves to the stored value. */
  set<T>(groupId: string, key: string, value: T): Promise<T>
  /** Resolves to the value it removed, or null. */
  delete<T = unknown>(groupId: string, key: string): Promise<T | null>
  getGroup<T = unknown>(groupId: string): Promise<T[]>
  clear(groupId: string): Promise<void>
}

export type StateManager = InternalStateManager

/** An event as `emit` takes it; `messageGroupId` orders the events of a FIFO subscriber. */
export interface EmitEvent<TTopic extends string = string, TData = unknown> {
  topic: TTopic
  data: TData
  messageGroupId?: string
}

/** `ctx.emit`: resolves once the core accepted the event (not once subscribers ran). */
export type Emitter<TData = never> = (event: TData) => Promise<void>

/** A stream item as returned: the data with its id. */
export type BaseStreamItem<TData = unknown> = TData & { id: string }

export interface StateStreamEventChannel {
  groupId: string
  id?: string
}

export interface StateStreamEvent<TData = unknown> {
  type: string
  data: TData
}

/** `ctx.streams.<name>`: items by group and id; changes reach subscribed WebSocket clients. */
export interface MotiaStream<TData = unknown> {
  get(groupId: string, id: string): Promise<BaseStreamItem<TData> | null>
  set(groupId: string, id: string, data: TData): Promise<BaseStreamItem<TData>>
  delete(groupId: string, id: string): Promise<BaseStreamItem<TData> | null>
  getGroup(groupId: string): Promise<BaseStreamItem<TData>[]>
  send<TEventData = unknown>(channel: StateStreamEventChannel, event: StateStreamEvent<TEventData>): Promise<void>
}

/** Stream name -> its stream; the generated `types.d.ts` fills it in. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface FlowContextStateStreams {}

export interface FlowContext<TEmitData = never> {
  /** Shared by every step of one run (an api request or cron tick and the events it caused). */
  traceId: string
  /**
   * The W3C `traceparent` of this invocation's span: send it (with `tracestate`) on outgoing
   * calls to continue the trace. With `@opentelemetry/api` installed in the project, the handler
   * already runs under this span, so spans it starts are its children.
   */
  traceparent: string | null
  /** The W3C `tracestate` the trace came in with, or null. */
  tracestate: string | null
  /** The executing step's `config.flows`. */
  flows: string[]
  logger: Logger
  state: InternalStateManager
  emit: Emitter<TEmitData>
  streams: FlowContextStateStreams
}

// --- handlers --------------------------------------------------------------------------------

export interface ApiRequest<TBody = unknown> {
  /** The parsed body (JSON, urlencoded or text); `{}` when there was none. */
  body: TBody
  /** Lower-case names; `set-cookie` is a list. */
  headers: Record<string, string | string[]>
  pathParams: Record<string, string>
  /** Repeated keys become lists. */
  queryParams: Record<string, string | string[]>
  /** The body as sent, decoded as text ('' when it was binary or absent). */
  rawBody: string
}

export interface ApiResponse<TStatus extends number = number, TBody = unknown> {
  status: TStatus
  /** A string is sent as it is (text/html unless a Content-Type is given); the rest as JSON. */
  body: TBody
  headers?: Record<string, string | number | string[]>
}

export type ApiRouteHandler<
  TRequestBody = Record<string, unknown>,
  TResponse extends ApiResponse<number, unknown> = ApiResponse<number, unknown>,
  TEmitData = never,
> = (req: ApiRequest<TRequestBody>, ctx: FlowContext<TEmitData>) => Promise<TResponse> | TResponse

/** Runs around an api handler; `next()` returns what the rest of the chain answered. */
export type ApiMiddleware<TBody = Record<string, unknown>, TEmitData = never, TResult = unknown> = (
  req: ApiRequest<TBody>,
  ctx: FlowContext<TEmitData>,
  next: () => Promise<ApiResponse<number, TResult>>,
) => Promise<ApiResponse<number, TResult>>

export type EventHandler<TInput = unknown, TEmitData = never> = (
  input: TInput,
  ctx: FlowContext<TEmitData>,
) => Promise<void> | void

export type CronHandler<TEmitData = never> = (ctx: FlowContext<TEmitData>) => Promise<void> | void

/** Step name -> its handler type; the generated `types.d.ts` fills it in. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Handlers {}

// --- streams ---------------------------------------------------------------------------------

/** Who subscribes: an item (`id`) or a whole group. */
export interface StreamSubscription {
  groupId: string
  id?: string
}

/** What the project's stream authentication returned for a WebSocket; augment to type it. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface StreamAuthContext {}

export interface StreamConfig {
  /** The key under `ctx.streams` and in the WebSocket protocol. */
  name: string
  /** For types and documentation; never enforced. */
  schema: StepSchema
  baseConfig?: { storageType: 'default' }
  /** Whether a WebSocket may join; evaluated in the runner for each join. */
  canAccess?: (
    subscription: StreamSubscription,
    authContext: StreamAuthContext | null,
  ) => boolean | Promise<boolean>
}
