// The shell: a left nav of pages, the project's name and the live connection, the current page.
import type { ComponentChildren } from 'preact'
import { api, type Info } from './api'
import { useLoad } from './hooks'
import { useLiveStatus } from './live'
import { useRoute, type Route } from './router'
import { DeadLetters } from './pages/dlq'
import { Endpoints } from './pages/endpoints'
import { FlowsPage } from './pages/flows'
import { Logs } from './pages/logs'
import { Runners } from './pages/runners'
import { StatePage } from './pages/state'
import { Streams } from './pages/streams'
import { TracePage } from './pages/trace'
import { Traces } from './pages/traces'

const PAGES: { id: string; label: string; icon: string }[] = [
  { id: 'flows', label: 'Flows', icon: '◇' },
  { id: 'endpoints', label: 'Endpoints', icon: '⇄' },
  { id: 'traces', label: 'Traces', icon: '≡' },
  { id: 'logs', label: 'Logs', icon: '¶' },
  { id: 'state', label: 'State', icon: '▦' },
  { id: 'streams', label: 'Streams', icon: '≈' },
  { id: 'dlq', label: 'Dead letters', icon: '✉' },
  { id: 'runners', label: 'Runners', icon: '⚙' },
]

function page(route: Route): ComponentChildren {
  const [name = 'flows', ...rest] = route.parts
  switch (name) {
    case 'flows':
      return <FlowsPage flow={rest[0] ?? null} step={route.query.get('step')} />
    case 'endpoints':
      return <Endpoints selected={route.query.get('step')} />
    case 'traces':
      return rest[0] ? <TracePage id={rest[0]} /> : <Traces query={route.query} />
    case 'logs':
      return <Logs query={route.query} />
    case 'state':
      return <StatePage group={rest[0] ?? null} itemKey={rest[1] ?? null} />
    case 'streams':
      return <Streams stream={rest[0] ?? null} group={rest[1] ?? null} />
    case 'dlq':
      return <DeadLetters selected={rest[0] ?? null} />
    case 'runners':
      return <Runners />
    default:
      return <div class="empty">No page called “{name}”. Pick one on the left.</div>
  }
}

function LiveDot() {
  const status = useLiveStatus()
  const label = { open: 'live', connecting: 'connecting…', closed: 'reconnecting…' }[status]
  return (
    <span class={`live live-${status}`} data-testid="live-status" data-status={status}>
      <i />
      {label}
    </span>
  )
}

export function App() {
  const route = useRoute()
  const info = useLoad(() => api<Info>('info'), [])
  const current = route.parts[0] ?? 'flows'
  return (
    <div class="shell">
      <nav class="nav" data-testid="nav">
        <div class="brand">
          <span class="logo">M</span>
          <div>
            <div class="brand-name">Workbench</div>
            <div class="brand-project" data-testid="project-name">
              {info.data ? `${info.data.project} · ${info.data.mode}` : ' '}
            </div>
          </div>
        </div>
        {PAGES.map((p) => (
          <a
            key={p.id}
            href={`#/${p.id}`}
            class={current === p.id ? 'active' : ''}
            data-testid={`nav-${p.id}`}
          >
            <span class="icon">{p.icon}</span>
            {p.label}
          </a>
        ))}
        <div class="nav-foot">
          <LiveDot />
          {info.data && <div class="muted small">motia-core {info.data.version}</div>}
        </div>
      </nav>
      <main class="main" data-testid={`page-${current}`}>
        {page(route)}
      </main>
    </div>
  )
}
