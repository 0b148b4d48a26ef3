def config
  { type: 'event', name: 'ConformanceBig', subscribes: ['conformance.big'], emits: [] }
end

def handler(input, _ctx)
  { blob: 'x' * input['size'] }
end
