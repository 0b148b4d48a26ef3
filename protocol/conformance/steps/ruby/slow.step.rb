# Tells the core it started (a state.set), sleeps input.ms, tells it it finished.
def config
  { type: 'event', name: 'ConformanceSlow', subscribes: ['conformance.slow'], emits: [] }
end

def handler(input, ctx)
  ctx.state.set('slow', input['tag'], 'started')
  sleep(input['ms'] / 1000.0)
  ctx.state.set('slow', input['tag'], 'finished')
  { slept: input['ms'], tag: input['tag'] }
end
