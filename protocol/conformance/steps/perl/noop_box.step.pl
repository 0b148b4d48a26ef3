# A noop step: a config and no handler.
sub config {
    return { type => 'noop', name => 'ConformanceNoop', virtualEmits => ['conformance.echo'],
             virtualSubscribes => [], flows => ['conformance'] };
}
