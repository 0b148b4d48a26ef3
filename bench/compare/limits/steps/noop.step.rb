# The raw limit's Ruby step: does nothing, so what is measured is the trip to the runner.
def config
  { type: 'event', name: 'CompareNoopRb', subscribes: ['compare.noop'], emits: [] }
end

def handler(_input, _ctx)
  nil
end
