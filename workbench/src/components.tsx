// Small pieces every page uses: badges, JSON, empty and error states.
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { json } from './format'

export function LangBadge({ language, label }: { language: string; label?: string }) {
  return (
    <span class={`lang lang-${language}`} data-testid="lang" data-language={language}>
      {label ?? language}
    </span>
  )
}

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`status status-${status.toLowerCase()}`} data-testid="status">
      {status}
    </span>
  )
}

export function Level({ level }: { level: string }) {
  return <span class={`level level-${level.toLowerCase()}`}>{level}</span>
}

export function Method({ method }: { method: string }) {
  return <span class={`method method-${method.toLowerCase()}`}>{method}</span>
}

export function Json({ value, testid }: { value: unknown; testid?: string }) {
  return (
    <pre class="json" data-testid={testid}>
      {json(value)}
    </pre>
  )
}

/** A value shown on one line, expandable to its pretty JSON. */
export function JsonInline({ value }: { value: unknown }) {
  const [open, setOpen] = useState(false)
  const text = json(value, 0)
  if (text.length <= 80 && !open) return <code class="json-inline">{text}</code>
  return open ? (
    <div>
      <button class="link small" onClick={() => setOpen(false)}>
        collapse
      </button>
      <Json value={value} />
    </div>
  ) : (
    <code class="json-inline clickable" title="show all" onClick={() => setOpen(true)}>
      {text.slice(0, 79)}…
    </code>
  )
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="empty" data-testid="empty">
      {children}
    </div>
  )
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <div class="error-box" data-testid="error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  )
}

export function PageHeader({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{title}</h1>
      <div class="page-actions">{children}</div>
    </header>
  )
}

/** A button that asks once more in place (no window.confirm, which blocks the page). */
export function ConfirmButton({
  label, confirm, onConfirm, testid, disabled,
}: {
  label: string
  confirm: string
  onConfirm: () => void
  testid: string
  disabled?: boolean
}) {
  const [asking, setAsking] = useState(false)
  if (!asking) {
    return (
      <button class="danger" data-testid={testid} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    )
  }
  return (
    <span class="confirm">
      <button
        class="danger solid"
        data-testid={`${testid}-confirm`}
        onClick={() => {
          setAsking(false)
          onConfirm()
        }}
      >
        {confirm}
      </button>
      <button onClick={() => setAsking(false)}>Cancel</button>
    </span>
  )
}

/** A search field applied on Enter; it follows `value` when the URL changes it. */
export function SearchBox(props: { value: string; placeholder: string; testid: string; onSearch: (text: string) => void }) {
  const [text, setText] = useState(props.value)
  useEffect(() => setText(props.value), [props.value])
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault()
        props.onSearch(text)
      }}
    >
      <input
        type="search"
        placeholder={props.placeholder}
        data-testid={props.testid}
        value={text}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
      />
    </form>
  )
}
