// Middleware runs in the runner, first element outermost; each may short-circuit.
const outer = async (_req: any, _ctx: any, next: () => Promise<any>) => {
  const response = await next()
  response.headers = { ...(response.headers ?? {}), 'x-outer': '1' }
  response.body.trail.push('outer')
  return response
}

const gate = async (req: any, _ctx: any, next: () => Promise<any>) => {
  if (req.headers['x-block']) return { status: 403, body: { trail: ['gate'] } }
  return next()
}

export const config = {
  type: 'api',
  name: 'ConformanceMiddleware',
  path: '/conformance/mw',
  method: 'GET',
  emits: [],
  middleware: [outer, gate],
}

export const handler = async () => ({ status: 200, body: { trail: ['handler'] } })
