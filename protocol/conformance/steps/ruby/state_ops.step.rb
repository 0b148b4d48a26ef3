# Every state callback once, in order; the output shows what the core answered.
def config
  { type: 'event', name: 'ConformanceState', subscribes: ['conformance.state'], emits: [] }
end

def handler(input, ctx)
  group = input['group']
  stored = ctx.state.set(group, 'k', 'v1')
  got = ctx.state.get(group, 'k')
  items = ctx.state.get_group(group)
  deleted = ctx.state.delete(group, 'k')
  ctx.state.clear(group)
  { set: stored, got: got, group: items, deleted: deleted }
end
