# The W3C trace context of the step's span, as the handler sees it (tier 7).
sub config {
    return { type => 'event', name => 'ConformanceTraceContext',
             subscribes => ['conformance.trace'], emits => [], flows => ['conformance'] };
}

sub handler {
    my ($input, $ctx) = @_;
    return { traceId => $ctx->trace_id, traceparent => $ctx->traceparent,
             tracestate => $ctx->tracestate };
}
