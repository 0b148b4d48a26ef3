# The W3C trace context of the step's span, as the handler sees it (tier 7).
def config
  { type: 'event', name: 'ConformanceTraceContext', subscribes: ['conformance.trace'], emits: [],
    flows: ['conformance'] }
end

def handler(_input, ctx)
  { traceId: ctx.trace_id, traceparent: ctx.traceparent, tracestate: ctx.tracestate }
end
