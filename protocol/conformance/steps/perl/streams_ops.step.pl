# Every stream callback once, on the stream named "conformance".
sub config {
    return { type => 'event', name => 'ConformanceStreams',
             subscribes => ['conformance.streams'], emits => [] };
}

sub handler {
    my ($input, $ctx) = @_;
    my $stream = $ctx->streams('conformance');
    my $group = $input->{group};
    my $stored = $stream->set($group, 'a', { n => 1 });
    my $got = $stream->get($group, 'a');
    my $items = $stream->get_group($group);
    my $removed = $stream->delete($group, 'a');
    $stream->send({ groupId => $group, id => 'a' }, { type => 'ping', data => { x => 1 } });
    return { set => $stored, got => $got, group => $items, deleted => $removed };
}
