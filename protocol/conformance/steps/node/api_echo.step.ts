// The api convention: handler(req, ctx) -> { status, body, headers }.
export const config = {
  type: 'api',
  name: 'ConformanceApi',
  path: '/conformance/:id',
  method: 'POST',
  emits: [],
  flows: ['conformance'],
  responseSchema: { 200: { type: 'object' } },
}

export const handler = async (req: any, ctx: any) => ({
  status: 201,
  body: { id: req.pathParams.id, body: req.body, query: req.queryParams, traceId: ctx.traceId, flows: ctx.flows },
  headers: { 'x-conformance': 'yes' },
})
