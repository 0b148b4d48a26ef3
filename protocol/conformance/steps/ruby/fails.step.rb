class ConformanceError < StandardError; end

def config
  { type: 'event', name: 'ConformanceFails', subscribes: ['conformance.fail'], emits: [] }
end

def handler(input, _ctx)
  raise ConformanceError, "bad value #{input['v']}"
end
