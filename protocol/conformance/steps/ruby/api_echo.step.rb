# The api convention: handler(req, ctx) -> { status:, body:, headers: }.
def config
  {
    type: 'api', name: 'ConformanceApi', path: '/conformance/:id', method: 'POST', emits: [],
    flows: ['conformance'],
    responseSchema: { 200 => { type: 'object' } } # an Integer key goes out as "200"
  }
end

def handler(req, ctx)
  {
    status: 201,
    body: { id: req.pathParams.id, body: req.body, query: req.queryParams,
            traceId: ctx.trace_id, flows: ctx.flows },
    headers: { 'x-conformance' => 'yes' }
  }
end
