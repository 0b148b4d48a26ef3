# Every state callback once, in order; the output shows what the core answered.
sub config {
    return { type => 'event', name => 'ConformanceState', subscribes => ['conformance.state'],
             emits => [] };
}

sub handler {
    my ($input, $ctx) = @_;
    my $group = $input->{group};
    my $stored = $ctx->state->set($group, 'k', 'v1');
    my $got = $ctx->state->get($group, 'k');
    my $items = $ctx->state->get_group($group);
    my $deleted = $ctx->state->delete($group, 'k');
    $ctx->state->clear($group);
    return { set => $stored, got => $got, group => $items, deleted => $deleted };
}
