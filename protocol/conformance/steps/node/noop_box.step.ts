// A noop step: a config and no handler.
export const config = {
  type: 'noop',
  name: 'ConformanceNoop',
  virtualEmits: ['conformance.echo'],
  virtualSubscribes: [],
  flows: ['conformance'],
}
