sub config {
    return { type => 'event', name => 'ConformanceRoundtrip', subscribes => ['conformance.rt'],
             emits => ['conformance.rt.done'] };
}

sub handler {
    my ($input, $ctx) = @_;
    my $i = $input->{i};
    $ctx->state->set('rt', "k$i", $i);
    my $got = $ctx->state->get('rt', "k$i");
    $ctx->emit({ topic => 'conformance.rt.done', data => { i => $i } });
    return { i => $i, got => $got };
}
