# The cron convention: handler($ctx), no input.
sub config {
    return { type => 'cron', name => 'ConformanceCron', cron => '*/5 * * * *', emits => [],
             flows => ['conformance'] };
}

sub handler {
    my ($ctx) = @_;
    return { ticked => \1, traceId => $ctx->trace_id };
}
