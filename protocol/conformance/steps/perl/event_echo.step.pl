# The event convention: handler($input, $ctx); the return value is the invocation's output.
sub config {
    return { type => 'event', name => 'ConformanceEvent', subscribes => ['conformance.echo'],
             emits => ['conformance.echoed'], input => { type => 'object' },
             flows => ['conformance'] };
}

sub handler {
    my ($input, $ctx) = @_;
    return { input => $input, traceId => $ctx->trace_id, flows => $ctx->flows };
}
