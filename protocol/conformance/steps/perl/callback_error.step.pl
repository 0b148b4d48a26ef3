# The core answers this state.set with an error: it must reach the handler as one.
sub config {
    return { type => 'event', name => 'ConformanceRefused',
             subscribes => ['conformance.refused'], emits => [] };
}

sub handler {
    my ($input, $ctx) = @_;
    my $ok = eval { $ctx->state->set('conformance', 'refused', 1); 1 };
    return { caught => undef } if $ok;
    my $error = $@;
    return { caught => $error->code, message => $error->message };
}
