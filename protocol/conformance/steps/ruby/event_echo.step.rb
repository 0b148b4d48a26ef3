# The event convention: handler(input, ctx); the return value is the invocation's output.
def config
  { type: 'event', name: 'ConformanceEvent', subscribes: ['conformance.echo'],
    emits: ['conformance.echoed'], input: { type: 'object' }, flows: ['conformance'] }
end

def handler(input, ctx)
  { input: input, traceId: ctx.trace_id, flows: ctx.flows }
end
