// Dead letters: events whose subscriber failed every attempt. Show one, replay it (after fixing
// the step), or purge.
import { Fragment } from 'preact'
import { useState } from 'preact/hooks'
import { api, enc, query, type DeadLetter, type Page } from '../api'
import { ConfirmButton, Empty, ErrorBox, Json, PageHeader } from '../components'
import { clock, shortId } from '../format'
import { useLoad } from '../hooks'
import { useDebounced, useLive } from '../live'
import { href, navigate } from '../router'

const LIMIT = 200

const errorText = (error: DeadLetter['error']): string =>
  error === null ? '' : typeof error === 'string' ? error : `${error.name ? `${error.name}: ` : ''}${error.message}`

const firstLine = (text: string) => text.split('\n').find((l) => l.trim()) ?? ''

const stackOf = (error: DeadLetter['error']): string =>
  error !== null && typeof error === 'object' && error.stack ? error.stack : errorText(error)

export function DeadLetters({ selected }: { selected: string | null }) {
  const letters = useLoad(() => api<Page<DeadLetter>>(`dlq${query({ limit: LIMIT })}`), [])
  const refresh = useDebounced(letters.reload)
  useLive(['dlq'], refresh)
  const [notice, setNotice] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)

  const act = async (what: () => Promise<string>) => {
    setError(null)
    try {
      setNotice(await what())
    } catch (e) {
      setError(e)
    }
    letters.reload()
  }
  const replay = (letter: DeadLetter) =>
    act(async () => {
      await api(`dlq/${enc(letter.id)}/replay`, { method: 'POST' })
      if (selected === letter.id) navigate(href(['dlq']), true)
      return `Replayed the ${letter.topic} event to ${letter.queue}.`
    })
  const purge = () =>
    act(async () => {
      const answer = await api<{ purged: number }>('dlq/purge', { method: 'POST' })
      return `Purged ${answer.purged} dead letter${answer.purged === 1 ? '' : 's'}.`
    })

  const items = letters.data?.items ?? []
  return (
    <div class="page">
      <PageHeader title="Dead letters">
        <ConfirmButton label="Purge all" confirm={`Purge ${items.length}`} testid="dlq-purge" disabled={!items.length} onConfirm={purge} />
      </PageHeader>
      {notice && (
        <div class="notice" data-testid="dlq-notice">
          {notice}
        </div>
      )}
      <ErrorBox error={error ?? letters.error} />
      {letters.data && items.length === 0 && (
        <Empty>
          <span data-testid="dlq-empty">No dead letters: every event found a subscriber that took it.</span>
        </Empty>
      )}
      {items.length > 0 && (
        <table class="table" data-testid="dlq-list">
          <thead>
            <tr>
              <th>Failed</th>
              <th>Subscriber</th>
              <th>Topic</th>
              <th class="num">Attempts</th>
              <th>Error</th>
              <th>Trace</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <Fragment key={d.id}>
                <tr data-testid="dlq-row" data-id={d.id} data-topic={d.topic} data-queue={d.queue} class={selected === d.id ? 'active' : ''}>
                  <td class="nowrap">{clock(d.failedMs)}</td>
                  <td>
                    <code>{d.step ?? d.queue}</code>
                    {d.step && <div class="muted small mono">{d.queue}</div>}
                  </td>
                  <td>
                    <code>{d.topic}</code>
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td class="error-text small wrap">{firstLine(errorText(d.error))}</td>
                  <td>
                    {d.traceId && (
                      <a href={href(['traces', d.traceId])}>
                        <code>{shortId(d.traceId)}</code>
                      </a>
                    )}
                  </td>
                  <td class="nowrap">
                    <a class="button" data-testid="dlq-show" href={href(['dlq', selected === d.id ? '' : d.id])}>
                      {selected === d.id ? 'Hide' : 'Show'}
                    </a>{' '}
                    <button class="primary" data-testid="dlq-replay" onClick={() => replay(d)}>
                      Replay
                    </button>
                  </td>
                </tr>
                {selected === d.id && (
                  <tr class="detail-row" data-testid="dlq-detail">
                    <td colSpan={7}>
                      <h3>Event data</h3>
                      <Json value={d.data} />
                      <h3>Last error</h3>
                      <div class="strong error-text">{errorText(d.error)}</div>
                      <pre class="stack">{stackOf(d.error)}</pre>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
