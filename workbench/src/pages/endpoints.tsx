// Endpoints: pick an api route, edit a body prefilled from its schema, send it to the real route
// and see the answer, with a link to the request's trace.
import { useEffect, useState } from 'preact/hooks'
import { api, type Endpoint } from '../api'
import { Empty, ErrorBox, Json, Method, PageHeader } from '../components'
import { duration, json, shortId } from '../format'
import { useLoad } from '../hooks'
import { href, navigate } from '../router'
import { example } from '../schema'

// The header the server puts the trace id in (motia_core/http/server.py, HttpSettings).
const TRACE_HEADER = 'x-trace-id'
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

interface Sent {
  status: number
  statusText: string
  ms: number
  headers: [string, string][]
  body: string
  traceId: string | null
}

const pathParams = (path: string): string[] =>
  [...path.matchAll(/[:{]([A-Za-z_][A-Za-z0-9_]*)\}?/g)].map((m) => m[1])

function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/[:{]([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) =>
    encodeURIComponent(values[name] ?? ''),
  )
}

function pretty(body: string): string {
  try {
    return json(JSON.parse(body))
  } catch {
    return body
  }
}

function RequestForm({ endpoint }: { endpoint: Endpoint }) {
  const hasBody = BODY_METHODS.has(endpoint.method) || endpoint.bodySchema !== null
  const initialBody = () => (endpoint.bodySchema ? json(example(endpoint.bodySchema)) : hasBody ? '{}' : '')
  const [body, setBody] = useState(initialBody)
  const [params, setParams] = useState<Record<string, string>>({})
  const [queryValues, setQueryValues] = useState<Record<string, string>>({})
  const [sent, setSent] = useState<Sent | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    setBody(initialBody())
    setParams({})
    setQueryValues({})
    setSent(null)
    setError(null)
  }, [endpoint.stepId])

  const send = async () => {
    setError(null)
    if (hasBody && body.trim()) {
      try {
        JSON.parse(body)
      } catch (e) {
        setError(`The body is not valid JSON: ${(e as Error).message}`)
        return
      }
    }
    const url = new URL(fillPath(endpoint.path, params), location.origin)
    for (const [k, v] of Object.entries(queryValues)) if (v) url.searchParams.set(k, v)
    setBusy(true)
    const started = performance.now()
    try {
      const response = await fetch(url, {
        method: endpoint.method,
        headers: hasBody ? { 'content-type': 'application/json' } : undefined,
        body: hasBody && body.trim() ? body : undefined,
      })
      const text = await response.text()
      setSent({
        status: response.status,
        statusText: response.statusText,
        ms: performance.now() - started,
        headers: [...response.headers.entries()],
        body: text,
        traceId: response.headers.get(TRACE_HEADER),
      })
    } catch (e) {
      setError(`The request failed: ${String(e)}`)
    } finally {
      setBusy(false)
    }
  }

  const names = pathParams(endpoint.path)
  return (
    <section class="panel wide" data-testid="request-form" data-path={endpoint.path}>
      <div class="request-line">
        <Method method={endpoint.method} />
        <code class="request-path">{endpoint.path}</code>
        <span class="muted">{endpoint.name}</span>
      </div>
      {endpoint.description && <p class="muted">{endpoint.description}</p>}
      {names.length > 0 && (
        <fieldset>
          <legend>Path parameters</legend>
          {names.map((name) => (
            <label key={name} class="field">
              <span>{name}</span>
              <input
                data-testid={`path-param-${name}`}
                value={params[name] ?? ''}
                onInput={(e) => setParams({ ...params, [name]: (e.target as HTMLInputElement).value })}
              />
            </label>
          ))}
        </fieldset>
      )}
      {endpoint.queryParams && endpoint.queryParams.length > 0 && (
        <fieldset>
          <legend>Query parameters</legend>
          {endpoint.queryParams.map((q) => (
            <label key={q.name} class="field">
              <span>{q.name}</span>
              <input
                data-testid={`query-param-${q.name}`}
                placeholder={q.description ?? ''}
                value={queryValues[q.name] ?? ''}
                onInput={(e) => setQueryValues({ ...queryValues, [q.name]: (e.target as HTMLInputElement).value })}
              />
            </label>
          ))}
        </fieldset>
      )}
      {hasBody && (
        <>
          <div class="row-between">
            <h3>Body (JSON)</h3>
            <button class="link" onClick={() => setBody(initialBody())}>
              reset to the schema's example
            </button>
          </div>
          <textarea
            class="code"
            rows={Math.min(16, Math.max(4, body.split('\n').length + 1))}
            data-testid="request-body"
            spellcheck={false}
            value={body}
            onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
          />
        </>
      )}
      <div class="actions">
        <button class="primary" data-testid="send-request" disabled={busy} onClick={send}>
          {busy ? 'Sending…' : `Send ${endpoint.method}`}
        </button>
      </div>
      <ErrorBox error={error} />
      {sent && (
        <div class="response" data-testid="response">
          <div class="response-line">
            <span class={`http-status http-${Math.floor(sent.status / 100)}xx`} data-testid="response-status">
              {sent.status}
            </span>{' '}
            {sent.statusText} <span class="muted">in {duration(sent.ms)}</span>
            {sent.traceId && (
              <a class="trace-link" data-testid="response-trace" data-trace-id={sent.traceId} href={href(['traces', sent.traceId])}>
                View trace {shortId(sent.traceId)} →
              </a>
            )}
          </div>
          <h3>Body</h3>
          <pre class="json" data-testid="response-body">
            {pretty(sent.body)}
          </pre>
          <details>
            <summary>Headers ({sent.headers.length})</summary>
            <table class="table kv" data-testid="response-headers">
              <tbody>
                {sent.headers.map(([k, v]) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td>
                      <code>{v}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </div>
      )}
      {endpoint.bodySchema && (
        <details>
          <summary>Body schema</summary>
          <Json value={endpoint.bodySchema} />
        </details>
      )}
      {endpoint.responseSchema && (
        <details>
          <summary>Response schemas</summary>
          <Json value={endpoint.responseSchema} />
        </details>
      )}
    </section>
  )
}

export function Endpoints({ selected }: { selected: string | null }) {
  const endpoints = useLoad(() => api<{ items: Endpoint[] }>('endpoints'), [])
  const items = [...(endpoints.data?.items ?? [])].sort((a, b) =>
    a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path),
  )
  const current = items.find((e) => e.stepId === selected) ?? items[0] ?? null
  return (
    <div class="page">
      <PageHeader title="Endpoints">
        <button onClick={endpoints.reload}>Refresh</button>
      </PageHeader>
      <ErrorBox error={endpoints.error} />
      {endpoints.data && items.length === 0 && <Empty>No api steps in this project.</Empty>}
      {current && (
        <div class="split left-list">
          <ul class="list" data-testid="endpoint-list">
            {items.map((e) => (
              <li
                key={e.stepId}
                class={e === current ? 'active' : ''}
                data-testid="endpoint"
                data-method={e.method}
                data-path={e.path}
                onClick={() => navigate(href(['endpoints'], { step: e.stepId }))}
              >
                <Method method={e.method} /> <code>{e.path}</code>
                <div class="muted small">{e.name}</div>
              </li>
            ))}
          </ul>
          <RequestForm endpoint={current} />
        </div>
      )}
    </div>
  )
}
