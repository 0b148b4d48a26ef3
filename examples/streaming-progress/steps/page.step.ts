import { ApiRouteConfig, Handlers } from 'motia'

// A small page that starts a job and watches its progress over the WebSocket, speaking the
// frames Motia's stream clients use: join an item, then sync / update / custom events.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>job progress</title>
<style>body{font:16px system-ui;margin:3em} #bar{width:20em;height:1em;border:1px solid #888}
#fill{height:100%;width:0;background:#4a8}</style></head>
<body><h1>Job progress</h1><button id="start">Start a job of 40 items</button>
<div id="bar"><div id="fill"></div></div><p id="status">idle</p>
<script>
// Every status shown, in order, for whoever wants the whole story (the browser test reads it).
window.__statuses = []
const show = (text, percent) => {
  if (percent !== undefined) document.getElementById('fill').style.width = percent + '%'
  document.getElementById('status').textContent = text
  window.__statuses.push(text)
}
// randomUUID exists only in secure contexts (localhost, https); a page opened by a LAN address
// falls back to a random id, which is all a subscription id needs to be.
const subscriptionId = () =>
  crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(36).slice(2)
document.getElementById('start').onclick = async () => {
  const res = await fetch('/jobs', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: 40 }),
  })
  if (!res.ok) return show('could not start a job: HTTP ' + res.status)
  const { watch } = await res.json()
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws'))
  ws.onopen = () => ws.send(JSON.stringify({
    type: 'join', data: { ...watch, subscriptionId: subscriptionId() },
  }))
  ws.onmessage = (message) => {
    const { event } = JSON.parse(message.data)
    if (event.type === 'sync' || event.type === 'create' || event.type === 'update') {
      show(event.data.stage + ' ' + event.data.percent + '%', event.data.percent)
    } else if (event.type === 'event' && event.event.type === 'finished') {
      show('finished: ' + event.event.data.items + ' items')
      ws.close()
    }
  }
}
</script></body></html>`

export const config: ApiRouteConfig = {
  type: 'api', name: 'Page', path: '/', method: 'GET', emits: [], flows: ['jobs'],
}

export const handler: Handlers['Page'] = async () => ({
  status: 200, body: PAGE, headers: { 'content-type': 'text/html; charset=utf-8' },
})
