// Flows: the steps of a flow as a graph laid out automatically; click a step for its config.
import { useMemo, useState } from 'preact/hooks'
import { api, type CronJob, type Flows, type Step, type Topic } from '../api'
import { Empty, ErrorBox, Json, LangBadge, Method, PageHeader } from '../components'
import { clock, sourceLanguage } from '../format'
import { edgePath, layoutFlow, type LaidNode } from '../graph'
import { useLoad } from '../hooks'
import { href, navigate } from '../router'

const ALL = '*'

function subtitle(step: Step): string {
  if (step.type === 'api') return `${step.method ?? ''} ${step.path ?? ''}`
  if (step.type === 'cron') return step.cron ?? 'cron'
  if (step.type === 'event') return `on ${[...step.subscribes, ...step.virtualSubscribes].join(', ')}`
  return 'drawn only (noop)'
}

function StepNode({ node, selected, flow }: { node: LaidNode; selected: boolean; flow: string }) {
  const step = node.step!
  const label = sourceLanguage(step.file, step.language)
  return (
      <g
        class={`node node-${step.type}${selected ? ' selected' : ''}${step.error ? ' broken' : ''}`}
        onClick={() => navigate(href(['flows', flow], { step: step.id }))}
        transform={`translate(${node.x},${node.y})`}
        data-testid="flow-node"
        data-step={step.name}
        data-step-id={step.id}
        data-type={step.type}
        data-language={step.language}
      >
        <title>{`${step.name} (${label}) — ${step.file}`}</title>
        <rect class="node-box" width={node.width} height={node.height} rx="6" />
        <rect class={`node-lang lang-fill-${step.language}`} width="5" height={node.height} rx="2" />
        <text class="node-type" x="14" y="18">
          {step.type.toUpperCase()}
        </text>
        <text class="node-lang-label" x={node.width - 10} y="18" text-anchor="end">
          {label}
        </text>
        <text class="node-name" x="14" y="37">
          {step.name}
        </text>
        <text class="node-sub" x="14" y="53">
          {subtitle(step).slice(0, 34)}
        </text>
      </g>
  )
}

function TopicNode({ node }: { node: LaidNode }) {
  const topic = node.topic!
  const why = topic.orphan === 'no-subscriber' ? 'nobody subscribes' : 'nobody emits'
  return (
    <g
      class="node topic-orphan"
      transform={`translate(${node.x},${node.y})`}
      data-testid="flow-orphan"
      data-topic={topic.topic}
      data-orphan={topic.orphan ?? ''}
    >
      <title>{`${topic.topic}: ${why}`}</title>
      <rect width={node.width} height={node.height} rx={node.height / 2} />
      <text x={node.width / 2} y={node.height / 2 + 4} text-anchor="middle">
        ⚠ {topic.topic}
      </text>
    </g>
  )
}

function Graph({ data, flow, selected }: { data: Flows; flow: string; selected: string | null }) {
  const steps = data.steps.filter((s) => flow === ALL || s.flows.includes(flow))
  const laid = useMemo(() => layoutFlow(steps, data.edges, data.topics), [data, flow])
  if (steps.length === 0) return <Empty>No steps in this flow.</Empty>
  const names = new Map(data.steps.map((s) => [s.id, s.name]))
  return (
    <div class="graph-scroll">
      <svg
        class="graph"
        width={laid.width}
        height={laid.height}
        viewBox={`0 0 ${laid.width} ${laid.height}`}
        data-testid="flow-graph"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <g
            key={e.key}
            class={`edge${e.virtual ? ' virtual' : ''}${e.orphan ? ' orphan' : ''}`}
            data-testid="flow-edge"
            data-from={names.get(e.from) ?? e.from}
            data-to={names.get(e.to) ?? e.to}
            data-topic={e.topic}
          >
            <path d={edgePath(e.points)} marker-end="url(#arrow)" />
            {e.label && (
              <g transform={`translate(${e.label.x},${e.label.y})`} class="edge-label">
                <rect x={-e.topic.length * 3.3 - 6} y="-9" width={e.topic.length * 6.6 + 12} height="18" rx="9" />
                <text y="4" text-anchor="middle">
                  {e.topic}
                </text>
              </g>
            )}
          </g>
        ))}
        {laid.nodes.map((n) =>
          n.step ? (
            <StepNode key={n.id} node={n} selected={n.id === selected} flow={flow} />
          ) : (
            <TopicNode key={n.id} node={n} />
          ),
        )}
      </svg>
    </div>
  )
}

function Topics({ label, topics }: { label: string; topics: string[] }) {
  if (topics.length === 0) return null
  return (
    <>
      <dt>{label}</dt>
      <dd>
        {topics.map((t) => (
          <code class="chip" key={t}>
            {t}
          </code>
        ))}
      </dd>
    </>
  )
}

/** A cron step's schedule, and a button that runs it now (as a tick) with a link to its trace. */
function CronRun({ step }: { step: Step }) {
  const jobs = useLoad(() => api<{ items: CronJob[] }>('cron'), [step.id])
  const job = jobs.data?.items.find((j) => j.stepId === step.id || j.name === step.name)
  const [traceId, setTraceId] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const run = async () => {
    setError(null)
    try {
      const answer = await api<{ traceId: string }>(`cron/${encodeURIComponent(step.name)}/run`, { method: 'POST' })
      setTraceId(answer.traceId)
      jobs.reload()
    } catch (e) {
      setError(e)
    }
  }
  return (
    <>
      <dt>Cron</dt>
      <dd>
        <code>{step.cron}</code>
        {job?.nextRunMs && <div class="muted small">next {clock(job.nextRunMs)}</div>}
        {job?.lastRunMs && <div class="muted small">last {clock(job.lastRunMs)}</div>}
        <div class="actions">
          <button data-testid="cron-run" onClick={run}>
            Run now
          </button>
          {traceId && (
            <a data-testid="cron-trace" href={href(['traces', traceId])}>
              its trace →
            </a>
          )}
        </div>
        <ErrorBox error={error} />
      </dd>
    </>
  )
}

function StepPanel({ step, flow }: { step: Step; flow: string }) {
  return (
    <aside class="panel" data-testid="step-panel" data-step={step.name}>
      <div class="panel-head">
        <h2>{step.name}</h2>
        <a class="close" href={href(['flows', flow])} title="close">
          ×
        </a>
      </div>
      {step.description && <p class="muted">{step.description}</p>}
      {step.error && <div class="error-box">{step.error}</div>}
      <dl class="props">
        <dt>Type</dt>
        <dd data-testid="step-type">{step.type}</dd>
        <dt>Language</dt>
        <dd data-testid="step-language">
          <LangBadge language={step.language} label={sourceLanguage(step.file, step.language)} />{' '}
          <span class="muted small">runner {step.language}</span>
        </dd>
        <dt>File</dt>
        <dd>
          <code data-testid="step-file">{step.file}</code>
        </dd>
        {step.type === 'api' && (
          <>
            <dt>Route</dt>
            <dd>
              <Method method={step.method ?? ''} /> <code>{step.path}</code>{' '}
              <a href={href(['endpoints'], { step: step.id })}>try it</a>
            </dd>
          </>
        )}
        {step.type === 'cron' && <CronRun step={step} />}
        <Topics label="Subscribes" topics={step.subscribes} />
        <Topics label="Emits" topics={step.emits} />
        <Topics label="Virtual subscribes" topics={step.virtualSubscribes} />
        <Topics label="Virtual emits" topics={step.virtualEmits} />
        <dt>Flows</dt>
        <dd>{step.flows.join(', ') || '—'}</dd>
        <dt>Traces</dt>
        <dd>
          <a href={href(['traces'], { step: step.name })}>traces of {step.name}</a>
        </dd>
      </dl>
      <h3>Config</h3>
      <Json value={step.config} testid="step-config" />
    </aside>
  )
}

function Summary({ data, flow }: { data: Flows; flow: string }) {
  const steps = data.steps.filter((s) => flow === ALL || s.flows.includes(flow))
  const ids = new Set(steps.map((s) => s.id))
  const orphans: Topic[] = data.topics.filter(
    (t) => t.orphan && [...t.emitters, ...t.subscribers].some((id) => ids.has(id)),
  )
  const byLanguage = new Map<string, number>()
  for (const s of steps) byLanguage.set(s.language, (byLanguage.get(s.language) ?? 0) + 1)
  return (
    <aside class="panel">
      <h2>{flow === ALL ? 'All steps' : flow}</h2>
      <p class="muted">Click a step to see its config, file and language.</p>
      <dl class="props">
        <dt>Steps</dt>
        <dd>{steps.length}</dd>
        <dt>Languages</dt>
        <dd>
          {[...byLanguage].map(([language, n]) => (
            <span key={language}>
              <LangBadge language={language} /> {n}{' '}
            </span>
          ))}
        </dd>
      </dl>
      {orphans.length > 0 && (
        <>
          <h3>Topics to look at</h3>
          <ul class="orphans" data-testid="orphan-topics">
            {orphans.map((t) => (
              <li key={t.topic}>
                <code>{t.topic}</code>{' '}
                <span class="muted">{t.orphan === 'no-subscriber' ? 'emitted, but nobody subscribes' : 'subscribed, but nobody emits'}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Legend</h3>
      <p class="legend">
        <span class="legend-edge" /> event <span class="legend-edge virtual" /> virtual (drawn only)
      </p>
    </aside>
  )
}

export function FlowsPage({ flow, step }: { flow: string | null; step: string | null }) {
  const flows = useLoad(() => api<Flows>('flows'), [])
  const data = flows.data
  const current = flow ?? (data && data.flows.length ? data.flows[0] : ALL)
  const selected = data?.steps.find((s) => s.id === step) ?? null
  return (
    <div class="page page-flows">
      <PageHeader title="Flows">
        <label>
          Flow{' '}
          <select
            data-testid="flow-select"
            value={current}
            onChange={(e) => navigate(href(['flows', (e.target as HTMLSelectElement).value]))}
          >
            {data?.flows.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
            <option value={ALL}>All steps</option>
          </select>
        </label>
        <button onClick={flows.reload}>Refresh</button>
      </PageHeader>
      <ErrorBox error={flows.error} />
      {data && (
        <div class="split">
          <Graph data={data} flow={current} selected={selected?.id ?? null} />
          {selected ? <StepPanel step={selected} flow={current} /> : <Summary data={data} flow={current} />}
        </div>
      )}
    </div>
  )
}
