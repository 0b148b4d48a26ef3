def config
  { type: 'event', name: 'ConformanceRoundtrip', subscribes: ['conformance.rt'],
    emits: ['conformance.rt.done'] }
end

def handler(input, ctx)
  i = input['i']
  ctx.state.set('rt', "k#{i}", i)
  got = ctx.state.get('rt', "k#{i}")
  ctx.emit(topic: 'conformance.rt.done', data: { i: i })
  { i: i, got: got }
end
