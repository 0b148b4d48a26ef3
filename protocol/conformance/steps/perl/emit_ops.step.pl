sub config {
    return { type => 'event', name => 'ConformanceEmit', subscribes => ['conformance.emit'],
             emits => ['conformance.echoed', 'conformance.grouped'] };
}

sub handler {
    my ($input, $ctx) = @_;
    $ctx->emit({ topic => 'conformance.echoed', data => { n => $input->{n} } });
    $ctx->emit({ topic => 'conformance.grouped', data => { n => $input->{n} },
                 messageGroupId => 'g1' });
    return { emitted => 2 };
}
