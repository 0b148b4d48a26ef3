# Middleware runs in the runner, first element outermost; each may short-circuit.
def outer(_req, _ctx, nxt)
  response = nxt.call
  response[:headers] = (response[:headers] || {}).merge('x-outer' => '1')
  response[:body][:trail] << 'outer'
  response
end

def gate(req, _ctx, nxt)
  return { status: 403, body: { trail: ['gate'] } } if req.headers['x-block']

  nxt.call
end

def config
  { type: 'api', name: 'ConformanceMiddleware', path: '/conformance/mw', method: 'GET', emits: [],
    middleware: [method(:outer), method(:gate)] }
end

def handler(_req, _ctx)
  { status: 200, body: { trail: ['handler'] } }
end
