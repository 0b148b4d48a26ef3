# Every stream callback once, on the stream named "conformance".
def config
  { type: 'event', name: 'ConformanceStreams', subscribes: ['conformance.streams'], emits: [] }
end

def handler(input, ctx)
  stream = ctx.streams['conformance']
  group = input['group']
  stored = stream.set(group, 'a', { n: 1 })
  got = stream.get(group, 'a')
  items = stream.get_group(group)
  removed = stream.delete(group, 'a')
  stream.send({ groupId: group, id: 'a' }, { type: 'ping', data: { x: 1 } })
  { set: stored, got: got, group: items, deleted: removed }
end
