def config
  { type: 'event', name: 'ConformanceBroken', subscribes: ['x'], emits: [] }
end

def handler(input, ctx
  1
end
