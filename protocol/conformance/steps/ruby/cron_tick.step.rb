# The cron convention: handler(ctx), no input.
def config
  { type: 'cron', name: 'ConformanceCron', cron: '*/5 * * * *', emits: [], flows: ['conformance'] }
end

def handler(ctx)
  { ticked: true, traceId: ctx.trace_id }
end
