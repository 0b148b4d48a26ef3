sub config {
    return { type => 'event', name => 'ConformanceBroken', subscribes => ['x'], emits => [] };
}

sub handler {
    my ($input, $ctx) = @_
    return 1;
