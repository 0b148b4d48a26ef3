sub config {
    return { type => 'event', name => 'ConformanceNothing',
             subscribes => ['conformance.nothing'], emits => [] };
}

sub handler { return undef }
