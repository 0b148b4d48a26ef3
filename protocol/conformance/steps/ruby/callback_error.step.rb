# The core answers this state.set with an error: it must reach the handler as one.
def config
  { type: 'event', name: 'ConformanceRefused', subscribes: ['conformance.refused'], emits: [] }
end

def handler(_input, ctx)
  ctx.state.set('conformance', 'refused', 1)
  { caught: nil }
rescue MotiaRunner::RpcError => e
  { caught: e.code, message: e.message }
end
