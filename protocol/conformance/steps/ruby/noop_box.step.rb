# A noop step: a config and no handler.
def config
  { type: 'noop', name: 'ConformanceNoop', virtualEmits: ['conformance.echo'],
    virtualSubscribes: [], flows: ['conformance'] }
end
