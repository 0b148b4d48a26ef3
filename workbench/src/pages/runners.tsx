// Runners: the long-lived language processes that run the steps, and how they are doing.
import { api, type Runner } from '../api'
import { Empty, ErrorBox, LangBadge, PageHeader, StatusBadge } from '../components'
import { useLoad } from '../hooks'
import { useDebounced, useLive } from '../live'

export function Runners() {
  const runners = useLoad(() => api<{ items: Runner[] }>('runners'), [])
  const refresh = useDebounced(runners.reload)
  useLive(['runner'], refresh)
  const items = runners.data?.items ?? []
  return (
    <div class="page">
      <PageHeader title="Runners">
        <button onClick={runners.reload}>Refresh</button>
      </PageHeader>
      <p class="muted">
        One long-lived process (or a small pool) per language loads each step once and serves many
        invocations over JSON-RPC on stdio.
      </p>
      <ErrorBox error={runners.error} />
      {runners.data && items.length === 0 && <Empty>No runners are running.</Empty>}
      {items.length > 0 && (
        <table class="table" data-testid="runner-list">
          <thead>
            <tr>
              <th>Runner</th>
              <th>State</th>
              <th class="num">PID</th>
              <th class="num">Steps</th>
              <th class="num">In flight</th>
              <th class="num">Restarts</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={`${r.language}#${r.index}`} data-testid="runner-row" data-language={r.language} data-state={r.state}>
                <td>
                  <LangBadge language={r.language} /> <code>{`${r.language}#${r.index}`}</code>
                </td>
                <td>
                  <StatusBadge status={r.state} />
                </td>
                <td class="num mono">{r.pid ?? '—'}</td>
                <td class="num">{r.steps}</td>
                <td class="num">{r.inFlight}</td>
                <td class={`num${r.restarts ? ' error-text' : ''}`}>{r.restarts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
