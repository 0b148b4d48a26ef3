def config
  { type: 'event', name: 'ConformanceEmit', subscribes: ['conformance.emit'],
    emits: ['conformance.echoed', 'conformance.grouped'] }
end

def handler(input, ctx)
  ctx.emit(topic: 'conformance.echoed', data: { n: input['n'] })
  ctx.emit(topic: 'conformance.grouped', data: { n: input['n'] }, messageGroupId: 'g1')
  { emitted: 2 }
end
