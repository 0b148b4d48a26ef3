sub config {
    return { type => 'event', name => 'ConformanceBig', subscribes => ['conformance.big'],
             emits => [] };
}

sub handler {
    my ($input) = @_;
    return { blob => 'x' x $input->{size} };
}
