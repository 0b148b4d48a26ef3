// State: browse the groups and their keys, edit a value as JSON, delete it. Changes made by
// steps show up live.
import { useEffect, useState } from 'preact/hooks'
import { api, enc, type StateGroup, type StateItem } from '../api'
import { ConfirmButton, Empty, ErrorBox, PageHeader } from '../components'
import { json, preview } from '../format'
import { useLoad } from '../hooks'
import { useDebounced, useLive } from '../live'
import { href, navigate } from '../router'

function Editor({ group, item, onSaved }: { group: string; item: StateItem | null; onSaved: () => void }) {
  const isNew = item === null
  const [key, setKey] = useState('')
  const [text, setText] = useState(isNew ? '{}' : json(item.value))
  const [dirty, setDirty] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const serverText = isNew ? '{}' : json(item.value)

  // A step changed the value while it was shown: follow it, unless the person is editing.
  useEffect(() => {
    if (!dirty) setText(serverText)
  }, [serverText])
  useEffect(() => {
    setDirty(false)
    setError(null)
    setSaved(false)
    setText(serverText)
  }, [group, item?.key])

  const save = async () => {
    const target = isNew ? key.trim() : item.key
    if (!target) return setError('Name the key first.')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      return setError(`Not valid JSON: ${(e as Error).message}`)
    }
    try {
      await api(`state/${enc(group)}/${enc(target)}`, { method: 'PUT', body: JSON.stringify(value) })
      setError(null)
      setDirty(false)
      setSaved(true)
      onSaved()
      if (isNew) navigate(href(['state', group, target]))
    } catch (e) {
      setError((e as Error).message)
    }
  }
  const remove = async () => {
    if (isNew) return
    try {
      await api(`state/${enc(group)}/${enc(item.key)}`, { method: 'DELETE' })
      onSaved()
      navigate(href(['state', group]))
    } catch (e) {
      setError((e as Error).message)
    }
  }

  return (
    <aside class="panel" data-testid="state-editor-panel" data-key={item?.key ?? ''}>
      <div class="panel-head">
        <h2>{isNew ? 'New key' : <code>{item.key}</code>}</h2>
        <a class="close" href={href(['state', group])} title="close">
          ×
        </a>
      </div>
      <div class="muted small">group {group}</div>
      {isNew && (
        <label class="field">
          <span>Key</span>
          <input data-testid="state-new-key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <textarea
        class="code"
        rows={Math.min(28, Math.max(6, text.split('\n').length + 1))}
        spellcheck={false}
        data-testid="state-editor"
        value={text}
        onInput={(e) => {
          setText((e.target as HTMLTextAreaElement).value)
          setDirty(true)
          setSaved(false)
        }}
      />
      {dirty && !isNew && serverText !== text && <div class="muted small">Edited; not saved yet.</div>}
      <div class="actions">
        <button class="primary" data-testid="state-save" onClick={save}>
          Save
        </button>
        {!isNew && <ConfirmButton label="Delete" confirm="Delete this key" testid="state-delete" onConfirm={remove} />}
        {saved && (
          <span class="ok" data-testid="state-saved">
            Saved
          </span>
        )}
      </div>
      <ErrorBox error={error} />
    </aside>
  )
}

export function StatePage({ group, itemKey }: { group: string | null; itemKey: string | null }) {
  const groups = useLoad(() => api<{ items: StateGroup[] }>('state'), [])
  const items = useLoad(
    () => (group ? api<{ items: StateItem[] }>(`state/${enc(group)}`) : Promise.resolve({ items: [] })),
    [group],
  )
  const refresh = useDebounced(() => {
    groups.reload()
    items.reload()
  })
  useLive(['state'], (frame) => {
    if (frame.kind === 'resync' || (frame.kind === 'state')) refresh()
  })
  const [filter, setFilter] = useState('')
  const list = (items.data?.items ?? []).filter((i) => !filter || i.key.toLowerCase().includes(filter.toLowerCase()))
  const creating = itemKey === '+'
  const selected = items.data?.items.find((i) => i.key === itemKey) ?? null

  return (
    <div class="page">
      <PageHeader title="State" />
      <ErrorBox error={groups.error ?? items.error} />
      <div class={`columns-3${selected || creating ? '' : ' no-panel'}`}>
        <ul class="list" data-testid="state-groups">
          {groups.data?.items.length === 0 && <li class="muted">No state yet.</li>}
          {groups.data?.items.map((g) => (
            <li
              key={g.group}
              class={g.group === group ? 'active' : ''}
              data-testid="state-group"
              data-group={g.group}
              onClick={() => navigate(href(['state', g.group]))}
            >
              <code>{g.group}</code> <span class="count">{g.count}</span>
            </li>
          ))}
        </ul>
        <section>
          {!group && <Empty>Pick a group on the left.</Empty>}
          {group && (
            <>
              <div class="filters">
                <input type="search" placeholder="Filter keys…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
                <a class="button" data-testid="state-add" href={href(['state', group, '+'])}>
                  New key
                </a>
              </div>
              {items.data && list.length === 0 && <Empty>No keys in {group}.</Empty>}
              {list.length > 0 && (
                <table class="table clickable-rows" data-testid="state-items">
                  <thead>
                    <tr>
                      <th>Key</th>
                      <th>Value</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((i) => (
                      <tr
                        key={i.key}
                        class={i.key === itemKey ? 'active' : ''}
                        data-testid="state-item"
                        data-key={i.key}
                        onClick={() => navigate(href(['state', group, i.key]))}
                      >
                        <td class="nowrap">
                          <code>{i.key}</code>
                        </td>
                        <td class="mono small value-preview">{preview(i.value, 140)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
        </section>
        {group && (selected || creating) && (
          <Editor group={group} item={creating ? null : selected} onSaved={refresh} />
        )}
      </div>
    </div>
  )
}
