def config
  { type: 'event', name: 'ConformanceNothing', subscribes: ['conformance.nothing'], emits: [] }
end

def handler(_input, _ctx)
  nil
end
